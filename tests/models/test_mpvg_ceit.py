"""MPVGCeiT against CeiT's equations written out here (I2T stem, LeFF with the class-token
bypass, LCA, Last LN, and the PE terms of each structure), the paper's Table 1 parameter
counts, the PE chain's contract (gradients, once per pass, any input size), loading, the
converter from the reference CeiT's checkpoint layout and the errors."""
import json
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mpvg_mm.models import MPVGCeiT

pytestmark = pytest.mark.usefixtures('single_thread')
ROOT = __file__.rsplit('/tests/', 1)[0]
PRESETS = ['default', 'lape', 'pvg', 'mpvg']
# a small CeiT: 3 blocks of width 16, an 8-channel stem, 2x2 token conv on the stride-4
# stem map: a 4x4 token grid at 32x32
ARCH = dict(embed_dims=16, num_layers=3, num_heads=2, mlp_ratio=2.0, stem_channels=8,
            patch_size=2, img_size=32)


def _tiny(**kwargs):
    return MPVGCeiT(arch=ARCH, **kwargs).eval()


def _randomize(model, seed=0, scale=0.3):
    """Non-trivial values for every parameter (LN/BN affine weights around 1, the rest
    normal with std ``scale``) and BN running statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ('norm' in name or '.bn' in name) and name.endswith('weight'):
                p.copy_(1 + 0.5 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(scale * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith('running_mean'):
                b.copy_(0.2 * torch.randn(b.shape, generator=g))
            elif name.endswith('running_var'):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
    return model


# --------------------------------------------------------------------------- equations
def _ln(x, sd, key, eps=1e-6):
    return F.layer_norm(x, x.shape[-1:], sd[key + '.weight'], sd[key + '.bias'], eps)


def _bn(x, sd, key):
    return F.batch_norm(x, sd[key + '.running_mean'], sd[key + '.running_var'],
                        sd[key + '.weight'], sd[key + '.bias'], False, 0.0, 1e-5)


def _attention(q_in, kv_in, sd, key, heads):
    """softmax(q k^T / sqrt(d)) v per head, then proj; q from q_in, k and v from kv_in."""
    D = kv_in.shape[-1]
    w, b = sd[key + '.qkv.weight'], sd[key + '.qkv.bias']
    q = q_in @ w[:D].T + b[:D]
    k = kv_in @ w[D:2 * D].T + b[D:2 * D]
    v = kv_in @ w[2 * D:].T + b[2 * D:]
    d = D // heads

    def split(t):
        return t.reshape(t.shape[0], t.shape[1], heads, d).transpose(1, 2)

    a = torch.softmax(split(q) @ split(k).transpose(-1, -2) / math.sqrt(d), dim=-1)
    out = (a @ split(v)).transpose(1, 2).reshape(q.shape[0], q.shape[1], D)
    return out @ sd[key + '.proj.weight'].T + sd[key + '.proj.bias']


def _reference(model, img, *, cls, input_pe, lw_from, hier, last_k, lca_reads):
    """CeiT (coeusguo/ceit ceit_model.py) with the PE structures (the paper's Sec. 3-4),
    from ``model``'s state dict alone."""
    sd = model.state_dict()
    heads, L, E = ARCH['num_heads'], ARCH['num_layers'], int(cls)
    p = ARCH['patch_size']
    x = F.conv2d(img, sd['i2t.backbone.conv.weight'], stride=2, padding=3)
    x = F.max_pool2d(_bn(x, sd, 'i2t.backbone.bn'), 3, 2, 1)
    x = F.conv2d(x, sd['i2t.proj.weight'], sd['i2t.proj.bias'], stride=p)
    B, D, h, w = x.shape
    x = x.flatten(2).transpose(1, 2)
    # pos_0: the 4x4 grid of patch rows resampled bicubically to (h, w), class row kept
    pos = sd['pos_embed']
    grid = pos[:, E:].reshape(1, 4, 4, D).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(h, w), mode='bicubic', align_corners=False)
    pos0 = torch.cat([pos[:, :E], grid.permute(0, 2, 3, 1).reshape(1, h * w, D)], 1)
    if cls:
        x = torch.cat([sd['cls_token'].expand(B, -1, -1), x], 1)
    if input_pe:
        x = x + pos0
    pe, pos_l = pos0, {}
    for l in range(L):
        if lw_from is not None and l >= lw_from:
            pos_l[l] = _ln(pe if hier else pos0, sd, f'pe.layer_norms.{l}')
            if hier:
                pe = pos_l[l]
    layer_tokens = []
    for l in range(L):
        key = f'blocks.{l}'
        a_in = _ln(x, sd, f'{key}.norm1') + pos_l.get(l, 0)
        x = x + _attention(a_in, a_in, sd, f'{key}.attn', heads)
        u = _ln(x, sd, f'{key}.norm2')
        t = u[:, E:].transpose(1, 2).reshape(B, D, h, w)
        t = F.gelu(_bn(F.conv2d(t, sd[f'{key}.leff.conv1.weight'],
                                sd[f'{key}.leff.conv1.bias']), sd, f'{key}.leff.bn1'))
        t = F.gelu(_bn(F.conv2d(t, sd[f'{key}.leff.conv2.weight'],
                                sd[f'{key}.leff.conv2.bias'], padding=1,
                                groups=t.shape[1]), sd, f'{key}.leff.bn2'))
        t = _bn(F.conv2d(t, sd[f'{key}.leff.conv3.weight'], sd[f'{key}.leff.conv3.bias']),
                sd, f'{key}.leff.bn3').flatten(2).transpose(1, 2)
        x = x + torch.cat([u[:, :E], t], 1)  # the class token bypasses the convolutions
        layer_tokens.append(x[:, 0] if lca_reads == 'cls' else x[:, E:].mean(1))
    t = torch.stack(layer_tokens, 1) + sd['pos_layer_embed']
    u = _ln(t, sd, 'lca.norm1')
    z = t[:, -1:] + _attention(u[:, -1:], u, sd, 'lca.attn', heads)
    m = _ln(z, sd, 'lca.norm2') @ sd['lca.feedforward.fc1.weight'].T + \
        sd['lca.feedforward.fc1.bias']
    z = z + F.gelu(m) @ sd['lca.feedforward.fc2.weight'].T + sd['lca.feedforward.fc2.bias']
    y = _ln(z[:, 0], sd, 'norm')
    if last_k is not None:
        y = y + _ln(pos0 if last_k == 0 else pos_l[last_k], sd, 'pe.last_norm')[:, E:].mean(1)
    return y


CASES = {
    # name: (MPVGCeiT kwargs, reference switches)
    'default': (dict(pe_mode='default'),
                dict(cls=True, input_pe=True, lw_from=None, hier=True, last_k=None,
                     lca_reads='cls')),
    'lape': (dict(pe_mode='lape'),
             dict(cls=True, input_pe=False, lw_from=0, hier=True, last_k=None,
                  lca_reads='cls')),
    'pvg': (dict(pe_mode='pvg'),
            dict(cls=False, input_pe=True, lw_from=1, hier=True, last_k=None,
                 lca_reads='gap')),
    'mpvg': (dict(pe_mode='mpvg'),
             dict(cls=False, input_pe=True, lw_from=1, hier=True, last_k=0, lca_reads='gap')),
    'mpvg_block0_too': (dict(pe_mode='mpvg', pe_cfg=dict(layerwise_from=0)),
                        dict(cls=False, input_pe=True, lw_from=0, hier=True, last_k=0,
                             lca_reads='gap')),
    'mpvg_non_hierarchical_pos2': (
        dict(pe_mode='mpvg', pe_cfg=dict(hierarchical=False, last_ln_pos=2)),
        dict(cls=False, input_pe=True, lw_from=1, hier=False, last_k=2, lca_reads='gap')),
    'pvg_with_cls_token_gap_lca': (
        dict(pe_mode='pvg', with_cls_token=True, out_type='avg_featmap'),
        dict(cls=True, input_pe=True, lw_from=1, hier=True, last_k=None, lca_reads='gap')),
}


@pytest.mark.parametrize('size', [(32, 32), (37, 45)], ids=['grid-4x4', 'odd-5x6'])
@pytest.mark.parametrize('case', list(CASES))
def test_structures_match_the_equations(case, size):
    kwargs, switches = CASES[case]
    model = _randomize(_tiny(**kwargs), seed=1)
    img = torch.randn(2, 3, *size)
    with torch.no_grad():
        out = model(img)
        ref = _reference(model, img, **switches)
    assert len(out) == 1 and out[0].shape == (2, 16)
    assert (out[0] - ref).abs().max().item() <= 1e-4 * max(1.0, ref.abs().max().item())


def test_mpvg_term_is_one_vector_for_every_image():
    """MPVG - PVG (same weights) is c = mean_i LN''(pos_0)_i, the same for every image."""
    mpvg = _randomize(_tiny(pe_mode='mpvg'), seed=2)
    pvg = _tiny(pe_mode='pvg')
    pvg.load_state_dict(mpvg.state_dict(), strict=False)
    img = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        diff = mpvg(img)[0] - pvg(img)[0]
    assert diff.abs().max() > 0.1
    assert torch.allclose(diff, diff[:1].expand_as(diff), atol=1e-5)


# --------------------------------------------------------------------------- Table 1 counts
def test_parameter_counts_match_table_1():
    """CeiT-Ti with a 1000-class head (every parameter counted). The paper prints 6.356 /
    6.361 / 6.361 / 6.361 M (floored). Default, LaPE and MPVG agree; PVG without the
    class token and its PE row has 6,360,744 (6.360 floored), one unit apart from the
    paper's 6.361 (keeping the class-token parameters, or LN' at block 0 too, gives
    6,361,128; the paper says the class token is removed)."""
    head = 192 * 1000 + 1000
    counts = {mode: sum(p.numel() for p in MPVGCeiT(pe_mode=mode).parameters()) + head
              for mode in PRESETS}
    assert counts == dict(default=6_356_904, lape=6_361_512, pvg=6_360_744, mpvg=6_361_128)
    a_prime = MPVGCeiT(pe_mode='pvg', pe_cfg=dict(layerwise_from=0))
    assert sum(p.numel() for p in a_prime.parameters()) + head == 6_361_128


# --------------------------------------------------------------------------- the PE chain
@pytest.mark.parametrize('mode', PRESETS)
def test_every_pe_parameter_gets_a_gradient(mode):
    model = _randomize(_tiny(pe_mode=mode)).train()
    model(torch.randn(2, 3, 32, 32))[0].square().sum().backward()
    pe_params = {n: p for n, p in model.named_parameters()
                 if n in ('pos_embed', 'pos_layer_embed', 'cls_token') or n.startswith('pe.')}
    # pos_0, the layer PE [, class token] [, LN' x blocks] [, LN'']
    expected = {'default': 3, 'lape': 3 + 6, 'pvg': 2 + 4, 'mpvg': 2 + 6}[mode]
    assert len(pe_params) == expected, sorted(pe_params)
    for name, p in pe_params.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize('mode,lns', [('default', 0), ('lape', 3), ('pvg', 2), ('mpvg', 2)])
def test_pe_chain_runs_once_per_pass(mode, lns):
    """The chain module runs once per forward pass, on the batch-free PE, for a batch of
    3: each LN' once, LN'' once (MPVG)."""
    model = _tiny(pe_mode=mode)
    chain_calls, ln_calls = [], []
    model.pe.register_forward_hook(lambda m, args, out: chain_calls.append(args[0].shape[0]))
    norms = list(model.pe.layer_norms.values())
    norms += [model.pe.last_norm] if model.pe.last_norm is not None else []
    for norm in norms:
        norm.register_forward_hook(lambda m, args, out: ln_calls.append(args[0].shape[0]))
    with torch.no_grad():
        model(torch.randn(3, 3, 32, 32))
    assert chain_calls == [1]
    assert ln_calls == [1] * (lns + (mode == 'mpvg'))


# --------------------------------------------------------------------------- loading
def test_checkpoint_of_another_grid_and_class_token_is_fitted():
    """A Default (class-token) file at 32x32 into an MPVG model at 48x48: the class row is
    dropped (told by the cls_token key) and the 4x4 patch rows resampled to 6x6."""
    src = _randomize(_tiny(pe_mode='default'))
    dst = _tiny(pe_mode='mpvg', img_size=48)
    missing, unexpected = dst.load_state_dict(src.state_dict(), strict=False)
    assert unexpected == ['cls_token']
    assert all(k.startswith('pe.') for k in missing)
    patch = src.pos_embed[:, 1:].reshape(1, 4, 4, 16).permute(0, 3, 1, 2)
    expected = F.interpolate(patch, size=(6, 6), mode='bicubic', align_corners=False)
    assert torch.allclose(dst.pos_embed, expected.permute(0, 2, 3, 1).reshape(1, 36, 16))
    assert dst.pos_embed_grid.tolist() == [6, 6]


def test_file_without_recorded_grid_needs_pretrained_img_size():
    sd = _randomize(_tiny(pe_mode='default')).state_dict()
    del sd['pos_embed_grid']  # as in the reference code's files
    with pytest.raises(ValueError, match='pretrained_img_size'):
        _tiny(pe_mode='default').load_state_dict(sd)
    model = _tiny(pe_mode='default', pretrained_img_size=32)
    model.load_state_dict(sd, strict=False)
    assert torch.equal(model.pos_embed, sd['pos_embed'])


def test_training_file_wrapper_is_refused_through_pretrained(tmp_path):
    """A {'model': ...} file (DeiT-based code) via init_cfg Pretrained: mmengine unwraps
    only 'state_dict', so without the check nothing would load (only warnings)."""
    sd = _randomize(_tiny(pe_mode='default')).state_dict()
    path = tmp_path / 'ceit.pth'
    torch.save({'model': sd}, path)
    model = _tiny(pe_mode='default', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match=r"wraps its weights in \{'model'"):
        model.init_weights()
    torch.save(sd, path)  # the inner dict loads
    model.init_weights()
    assert torch.equal(model.blocks[0].attn.qkv.weight, sd['blocks.0.attn.qkv.weight'])


def test_checkpoint_of_another_backbone_is_refused():
    """A T2T-ViT state dict places few of CeiT's weights: refused, not warned about."""
    from mpvg_mm.models import MPVGT2TViT
    t2t = MPVGT2TViT(arch=dict(embed_dims=16, num_layers=2, num_heads=2, token_dims=8,
                               img_size=48), pe_mode='default')
    with pytest.raises(ValueError, match=r"places \d+ of MPVGCeiT's"):
        _tiny(pe_mode='default').load_state_dict(t2t.state_dict(), strict=False)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize('kwargs,match', [
    (dict(pe_mode='ceit'), 'unknown pe_mode'),
    (dict(pe_cfg=dict(foo=1)), 'unknown pe_cfg keys'),
    (dict(pe_cfg='mpvg'), 'pe_cfg=.*pe_mode'),
    (dict(pe_cfg=dict(layerwise_from=3)), 'outside the blocks'),
    (dict(pe_mode='mpvg', with_cls_token=True), 'incompatible with a class token'),
    # names the conflict and a fix that changes something (not 'use pvg' on pvg)
    (dict(pe_mode='pvg', with_cls_token=True, pe_cfg=dict(last_ln_pos=0)),
     r"pe_cfg last_ln_pos=0\) is incompatible .* or drop last_ln_pos from pe_cfg\.$"),
    (dict(pe_mode='pvg', out_type='cls_token'), 'needs with_cls_token=True'),
    (dict(out_type='featmap'), 'unknown out_type'),
    (dict(img_size=4), 'gives no token'),
    (dict(drop_path_rate=1.0), 'drop_path_rate'),
    (dict(arch='ceit-huge'), 'unknown CeiT arch'),
    (dict(arch=dict(embed_dims=16, num_layers=2)), r"missing \['num_heads'\]"),
    (dict(arch=dict(ARCH, depth=2)), r"unknown \['depth'\]"),
    (dict(arch=dict(ARCH, num_heads=3)), 'does not divide'),
    (dict(arch=dict(ARCH, leff_kernel_size=2)), 'must be odd'),
    (dict(arch=dict(ARCH, mlp_ratio=0)), 'mlp_ratio=0 must be a number above 0'),
])
def test_bad_configurations_are_refused(kwargs, match):
    kwargs = dict(dict(arch=ARCH), **kwargs)
    with pytest.raises(ValueError, match=match):
        MPVGCeiT(**kwargs)


def test_bad_inputs_are_refused():
    model = _tiny()
    with pytest.raises(ValueError, match=r'expects images \(B, 3, H, W\)'):
        model(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match='too small for CeiT'):
        model(torch.randn(1, 3, 4, 32))


def test_named_arch_and_registry():
    from mpvg_mm.registry import register_all_modules
    from mmpretrain.registry import MODELS
    register_all_modules(['mmpretrain'])
    model = MODELS.build(dict(type='MPVGCeiT', arch='CeiT-Ti', pe_mode='pvg'))
    assert isinstance(model, MPVGCeiT)
    assert (model.embed_dims, model.num_layers, model.pe_grid) == (192, 12, (14, 14))
    assert model.out_type == 'avg_featmap' and model.cls_token is None


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_dense_toolboxes_refuse_ceit_clearly(scope):
    """CeiT's output is one (B, D) vector: in mmdet/mmseg the name builds a refusal, not a
    backbone that fails later inside a neck's conv2d."""
    import importlib

    from mpvg_mm.registry import register_all_modules
    register_all_modules([scope])
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with pytest.raises(ValueError, match='classification-only.*MPVGViT'):
        registry.build(dict(type='MPVGCeiT', arch=ARCH))


# --------------------------------------------------------------------------- converter
# The key layout of the reference CeiT (coeusguo/ceit, ceit_model.py: ``CeIT`` with
# ``HybridEmbed(Image2Tokens())`` as ``i2t``, ``Block(feedforward_type='leff')`` with
# ``LocallyEnhancedFeedForward`` as ``leff``, ``Block(feedforward_type='lca')`` with ``Mlp``
# as ``feedforward``, LN eps 1e-6, qkv bias), module by module, no forward needed: the
# expected outputs come from ``_reference`` (the equations) on these weights.
class _RefAttention(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)


class _RefLeFF(nn.Module):
    def __init__(self, d, hidden, k=3):
        super().__init__()
        self.conv1 = nn.Conv2d(d, hidden, 1)
        self.conv2 = nn.Conv2d(hidden, hidden, k, padding=k // 2, groups=hidden)
        self.conv3 = nn.Conv2d(hidden, d, 1)
        self.bn1, self.bn2, self.bn3 = (nn.BatchNorm2d(hidden), nn.BatchNorm2d(hidden),
                                        nn.BatchNorm2d(d))


class _RefBlock(nn.Module):
    def __init__(self, d, ratio, feedforward_type):
        super().__init__()
        self.norm2, self.norm1 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.attn = _RefAttention(d)
        if feedforward_type == 'leff':
            self.leff = _RefLeFF(d, int(d * ratio))
        else:
            self.feedforward = nn.Module()
            self.feedforward.fc1 = nn.Linear(d, int(d * ratio))
            self.feedforward.fc2 = nn.Linear(int(d * ratio), d)


class _RefCeiT(nn.Module):
    """The reference ``CeIT``'s parameters and buffers, named as its state dict."""

    def __init__(self, d, depth, ratio=4.0, stem=64, patch=4, rows=197, num_classes=1000):
        super().__init__()
        self.i2t = nn.Module()
        self.i2t.backbone = nn.Module()  # Image2Tokens
        self.i2t.backbone.conv = nn.Conv2d(3, stem, 7, stride=2, padding=3, bias=False)
        self.i2t.backbone.bn = nn.BatchNorm2d(stem)
        self.i2t.proj = nn.Conv2d(stem, d, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(torch.zeros(1, rows, d))
        self.blocks = nn.ModuleList(_RefBlock(d, ratio, 'leff') for _ in range(depth))
        self.lca = _RefBlock(d, ratio, 'lca')
        self.pos_layer_embed = nn.Parameter(torch.zeros(1, depth, d))
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, num_classes)


def _tiny_ref(num_classes=5):
    return _RefCeiT(ARCH['embed_dims'], ARCH['num_layers'], ARCH['mlp_ratio'],
                    ARCH['stem_channels'], ARCH['patch_size'], rows=17, num_classes=num_classes)


def test_reference_ceit_checkpoint_converts_and_loads_strictly(tool, tmp_path):
    """A reference-layout file (DeiT-style {'model': ...}) through convert.py, the layout
    detected from the keys: a strict load into ImageClassifier(MPVGCeiT, LinearClsHead),
    Default, whose logits are the CeiT equations' on the reference weights."""
    from mmpretrain.registry import MODELS

    from mpvg_mm.registry import register_all_modules
    register_all_modules(['mmpretrain'])
    ref = _randomize(_tiny_ref().eval(), scale=0.2)
    src, dst = tmp_path / 'ceit.pth', tmp_path / 'converted.pth'
    torch.save({'model': ref.state_dict()}, src)
    tool('model_converters/convert').main([str(src), str(dst), '--arch', json.dumps(ARCH)])
    ckpt = torch.load(dst, weights_only=False)
    cfg = ckpt['meta']['mpvg_backbone']
    assert ckpt['meta']['converted_from'] == 'ceit' and ckpt['meta']['pos_embed_grid'] == [4, 4]
    assert cfg['pe_mode'] == 'default' and cfg['with_cls_token'] is True
    classifier = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='MPVGCeiT', **cfg),
        head=dict(type='LinearClsHead', num_classes=5, in_channels=ARCH['embed_dims']))).eval()
    classifier.load_state_dict(ckpt['state_dict'], strict=True)
    img = torch.randn(2, 3, 32, 32)
    sd = ref.state_dict()
    with torch.no_grad():
        expected = F.linear(_reference(ref, img, **CASES['default'][1]), sd['head.weight'],
                            sd['head.bias'])
        got = classifier(img, mode='tensor')
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_reference_ceit_tiny_is_named_and_its_grid_checked():
    """ceit_tiny_patch16_224's shapes give arch 'ceit-tiny' (no --arch); a 384 file's rows
    name --img-size 384 (the reference's square grid), and then convert."""
    from mpvg_mm.models.checkpoint_layout import convert_checkpoint, detect_layout
    sd = _RefCeiT(192, 12).state_dict()
    assert detect_layout(sd) == 'ceit'
    converted, cfg, notes = convert_checkpoint(sd)
    assert cfg == dict(arch='ceit-tiny', pe_mode='default', with_cls_token=True)
    assert notes[0] == 'layout: ceit' and converted['meta']['num_classes'] == 1000
    # the README's claim: the model of the CeiT-Ti Default config loads it strictly
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    from mpvg_mm.registry import register_all_modules
    register_all_modules(['mmpretrain'])
    config = Config.fromfile(f'{ROOT}/configs/ceit/ceit-tiny_default_8xb128_in1k.py')
    MODELS.build(config.model).load_state_dict(converted['state_dict'], strict=True)
    sd384 = dict(sd, pos_embed=torch.zeros(1, 1 + 24 * 24, 192))
    with pytest.raises(ValueError, match=r'576 patch rows .* 14x14 token grid.*'
                                         r'--img-size 384\)'):
        convert_checkpoint(sd384)
    converted, cfg, _ = convert_checkpoint(sd384, overrides=dict(img_size=384))
    assert converted['meta']['pos_embed_grid'] == [24, 24]


def test_reference_ceit_refusals_and_class_token_drop():
    from mpvg_mm.models.checkpoint_layout import convert_checkpoint
    sd = _tiny_ref().state_dict()
    with pytest.raises(ValueError, match=r"no named CeiT arch has .*'embed_dims': 16.*"
                                         r'give the arch'):
        convert_checkpoint(sd)
    with pytest.raises(ValueError, match='--layout ceit'):
        convert_checkpoint(sd, 'timm', dict(arch=ARCH))
    with pytest.raises(ValueError, match=r'no place in MPVGCeiT.*blocks\.0\.leff\.conv4'):
        convert_checkpoint(dict(sd, **{'blocks.0.leff.conv4.weight': torch.zeros(1)}),
                           overrides=dict(arch=ARCH))
    with pytest.raises(ValueError, match=r"not a whole CeiT checkpoint: \['i2t\.proj\.weight'"):
        convert_checkpoint({k: v for k, v in sd.items() if k != 'i2t.proj.weight'},
                           overrides=dict(arch=ARCH))
    converted, cfg, notes = convert_checkpoint(sd, overrides=dict(arch=ARCH,
                                                                  with_cls_token=False))
    assert 'with_cls_token=False: dropped cls_token and the class row of pos_embed' in notes
    MPVGCeiT(**cfg).load_state_dict(
        {k[len('backbone.'):]: v for k, v in converted['state_dict'].items()
         if k.startswith('backbone.')}, strict=True)
    assert converted['state_dict']['backbone.pos_embed'].shape == (1, 16, 16)
