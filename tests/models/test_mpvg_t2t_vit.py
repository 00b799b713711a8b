"""MPVGT2TViT against the equations of T2T-ViT-7 (reference ``yitu-opensource/T2T-ViT``:
``models/t2t_vit.py``, ``token_performer.py``, ``transformer_block.py``) and of the four PE
structures, written out here; the paper's parameter counts (Tables 1-2); the converter
from the reference's checkpoint layout; the contract (errors, sizes, loading)."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mpvg_mm.models import MPVGT2TViT

pytestmark = pytest.mark.usefixtures('single_thread')
PRESETS = ['default', 'lape', 'pvg', 'mpvg']
# a small T2T-ViT: 48px input -> 12 -> 6 -> 3x3 tokens; token width 8, 3 blocks of 16
TINY = dict(arch=dict(embed_dims=16, num_layers=3, num_heads=2, token_dims=8, img_size=48))


def _tiny(**kwargs):
    return MPVGT2TViT(**dict(TINY, **kwargs)).eval()


def _randomize(model, seed=0, scale=0.3):
    """Non-trivial values for every trainable parameter, LN affine ones included (the
    fixed sinusoid PE and Performer features keep their values)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if 'norm' in name and name.endswith('weight'):
                p.copy_(1 + 0.5 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(scale * torch.randn(p.shape, generator=g))
    return model


# --------------------------------------------------------------------------- the equations
def _sinusoid(n, d):
    """1-D sinusoid PE: row p, channel j: sin (j even) / cos (j odd) of
    p / 10000^(2 floor(j/2) / d)."""
    p = torch.arange(n, dtype=torch.float64)[:, None]
    j = torch.arange(d)
    angle = p / torch.pow(10000.0, (2 * (j // 2)).double() / d)
    return torch.where(j % 2 == 0, angle.sin(), angle.cos()).float()[None]


def _ln(x, sd, key, eps=1e-5):
    return F.layer_norm(x, x.shape[-1:], sd[key + '.weight'], sd[key + '.bias'], eps)


def _lin(x, sd, key):
    return F.linear(x, sd[key + '.weight'], sd.get(key + '.bias'))


def _performer(sd, key, x):
    """Token_performer with the kernel matrix made explicit: A = phi(q) phi(k)^T,
    y = A v / (A 1 + 1e-8), x = v + proj(y), x + MLP(LN2(x))."""
    w = sd[key + '.w']
    m, dims = w.shape

    def phi(u):
        return torch.exp(u @ w.t() - (u ** 2).sum(-1, keepdim=True) / 2) / math.sqrt(m)

    k, q, v = _lin(_ln(x, sd, key + '.norm1'), sd, key + '.kqv').split(dims, -1)
    a = phi(q) @ phi(k).transpose(1, 2)  # (B, T, T)
    y = (a @ v) / (a.sum(-1, keepdim=True) + 1e-8)
    x = v + _lin(y, sd, key + '.proj')
    h = _lin(F.gelu(_lin(_ln(x, sd, key + '.norm2'), sd, key + '.mlp.0')), sd, key + '.mlp.2')
    return x + h


def _tokenize(sd, img, p='tokens_to_token.'):
    x = F.unfold(img, 7, padding=2, stride=4)
    h, w = (img.shape[2] - 3) // 4 + 1, (img.shape[3] - 3) // 4 + 1
    for layer in ('attention1', 'attention2'):
        x = _performer(sd, p + layer, x.transpose(1, 2))  # (B, h*w, C)
        x = F.unfold(x.transpose(1, 2).reshape(x.shape[0], -1, h, w), 3, padding=1, stride=2)
        h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    return _lin(x.transpose(1, 2), sd, p + 'project'), (h, w)


def _attention(x, sd, key, heads, scale):
    B, N, D = x.shape
    q, k, v = _lin(x, sd, key + '.qkv').reshape(B, N, 3, heads, D // heads).permute(
        2, 0, 3, 1, 4)
    a = ((q @ k.transpose(-2, -1)) * scale).softmax(-1)
    return _lin((a @ v).transpose(1, 2).reshape(B, N, D), sd, key + '.proj')


def _reference(sd, img, *, heads, cls, input_pe, lw_from, hier=True, last=False, scale=None,
               pos0=None, depth=None):
    """T2T-ViT with a PE structure: x_0 = [cls;] tokens [+ pos_0]; block l:
    x + Attn(LN1(x) [+ pos_l]), x + MLP(LN2(x)); y = LN(x_L) [+ LN''(pos_0)];
    out: y[:, 0] or mean over tokens. ``pos_l = LN'_l(pos_{l-1})`` (``LN'_l(pos_0)`` when
    not hierarchical), LN' and LN'' eps 1e-6."""
    tokens, (h, w) = _tokenize(sd, img)
    B, N, D = tokens.shape
    depth = depth or 1 + max(int(k.split('.')[1]) for k in sd if k.startswith('blocks.'))
    scale = (D // heads) ** -0.5 if scale is None else scale
    if pos0 is None:
        pos0 = _sinusoid(N + int(cls), D)
    x = torch.cat([sd['cls_token'].expand(B, -1, -1), tokens], 1) if cls else tokens
    if input_pe:
        x = x + pos0
    pos = pos0
    for i in range(depth):
        b = f'blocks.{i}'
        a_in = _ln(x, sd, b + '.norm1')
        if lw_from is not None and i >= lw_from:
            p = _ln(pos if hier else pos0, sd, f'pe.layer_norms.{i}', 1e-6)
            pos = p
            a_in = a_in + p
        x = x + _attention(a_in, sd, b + '.attn', heads, scale)
        x = x + _lin(F.gelu(_lin(_ln(x, sd, b + '.norm2'), sd, b + '.mlp.fc1')), sd,
                     b + '.mlp.fc2')
    y = _ln(x, sd, 'norm')
    if last:
        y = y + _ln(pos0, sd, 'pe.last_norm', 1e-6)
    return y[:, 0] if cls else y.mean(1)


CASES = {
    'default': (dict(pe_mode='default'), dict(cls=True, input_pe=True, lw_from=None)),
    'lape': (dict(pe_mode='lape'), dict(cls=True, input_pe=False, lw_from=0)),
    'pvg': (dict(pe_mode='pvg'), dict(cls=False, input_pe=True, lw_from=1)),
    'mpvg': (dict(pe_mode='mpvg'), dict(cls=False, input_pe=True, lw_from=1, last=True)),
    'mpvg-non-hierarchical': (dict(pe_mode='mpvg', pe_cfg=dict(hierarchical=False)),
                              dict(cls=False, input_pe=True, lw_from=1, last=True,
                                   hier=False)),
    'lape-gap': (dict(pe_mode='lape', with_cls_token=False),
                 dict(cls=False, input_pe=False, lw_from=0)),
}


@pytest.mark.parametrize('size', [(48, 48), (40, 56)], ids=['native', 'other-size'])
@pytest.mark.parametrize('case', list(CASES))
def test_structures_match_the_equations(case, size):
    """Each structure vs the equations, at the native size and at another (non-square)
    size, where the fixed sinusoid is the table for the actual token count."""
    kwargs, ref = CASES[case]
    model = _randomize(_tiny(**kwargs))
    img = torch.randn(2, 3, *size)
    with torch.no_grad():
        out = model(img)[0]
        expected = _reference(model.state_dict(), img, heads=2, **ref)
    assert out.shape == (2, 16)
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)


def test_learnable_pe_is_resampled_on_its_grid_at_another_size():
    model = _randomize(_tiny(pe_mode='mpvg', learnable_pe=True))
    img = torch.randn(1, 3, 64, 48)  # 4x3 tokens, the PE is 3x3
    grid = model.pos_embed.reshape(1, 3, 3, 16).permute(0, 3, 1, 2)
    pos0 = F.interpolate(grid, size=(4, 3), mode='bicubic', align_corners=False)
    pos0 = pos0.permute(0, 2, 3, 1).reshape(1, 12, 16)
    with torch.no_grad():
        expected = _reference(model.state_dict(), img, heads=2, cls=False, input_pe=True,
                              lw_from=1, last=True, pos0=pos0)
        torch.testing.assert_close(model(img)[0], expected, rtol=1e-4, atol=1e-4)


def test_fixed_pe_and_performer_features():
    """The PE is the reference's sinusoid (N [+ 1] rows), frozen; the Performer features
    are orthogonal rows scaled by sqrt(m), frozen, m = token_dims / 2."""
    for mode, rows in (('default', 10), ('pvg', 9)):
        model = _tiny(pe_mode=mode)
        assert not model.pos_embed.requires_grad
        torch.testing.assert_close(model.pos_embed.data, _sinusoid(rows, 16))
    w = model.tokens_to_token.attention1.w
    assert w.shape == (4, 8) and not w.requires_grad
    torch.testing.assert_close(w @ w.t(), 4 * torch.eye(4), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- counts
@pytest.mark.parametrize('mode,imagenet,cifar', [
    ('default', 4_310_222, 4_078_922), ('lape', 4_313_806, 4_082_506),
    ('pvg', 4_312_782, 4_081_482), ('mpvg', 4_313_294, 4_081_994)])
def test_parameter_counts_match_tables_1_and_2(mode, imagenet, cifar):
    """All parameters, frozen ones (sinusoid PE, Performer features) included, plus a
    Linear head: the paper's 4.310 / 4.313 / 4.312 / 4.313 (ImageNet-1K) and 4.078 /
    4.082 / 4.081 / 4.081 (CIFAR-100), floored to 1e3."""
    model = MPVGT2TViT(arch='t2t-vit-7', pe_mode=mode)
    n = sum(p.numel() for p in model.parameters())
    assert n + 256 * 1000 + 1000 == imagenet
    assert n + 256 * 100 + 100 == cifar
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    rows = 197 if mode in ('default', 'lape') else 196
    assert frozen == rows * 256 + 2 * 32 * 64


# --------------------------------------------------------------------------- gradients, once
@pytest.mark.parametrize('learnable', [False, True])
@pytest.mark.parametrize('mode', PRESETS)
def test_every_trainable_pe_parameter_gets_a_gradient(mode, learnable):
    model = _randomize(_tiny(pe_mode=mode, learnable_pe=learnable)).train()
    model(torch.randn(2, 3, 48, 48))[0].pow(2).sum().backward()
    pe_params = {n: p for n, p in model.named_parameters() if n.startswith('pe.')}
    pe_params['pos_embed'] = model.pos_embed
    for name, p in pe_params.items():
        if not p.requires_grad:
            assert name == 'pos_embed' and not learnable and p.grad is None
            continue
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert model.tokens_to_token.attention1.w.grad is None


@pytest.mark.parametrize('mode,calls', [('default', 0), ('lape', 3), ('pvg', 2), ('mpvg', 3)])
def test_pe_chain_runs_once_per_pass(mode, calls):
    """The LN' chain and LN'' run once per forward pass on the batch-free PE."""
    model = _tiny(pe_mode=mode)
    seen = []
    for norm in list(model.pe.layer_norms.values()) + [model.pe.last_norm]:
        if norm is not None:
            norm.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
    with torch.no_grad():
        model(torch.randn(4, 3, 48, 48))
    assert seen == [1] * calls


# --------------------------------------------------------------------------- contract
@pytest.mark.parametrize('kwargs,match', [
    (dict(pe_mode='mpvg', with_cls_token=True), 'incompatible with a class token'),
    # names the conflict and a fix that changes something (not 'use pvg' on pvg)
    (dict(pe_mode='pvg', with_cls_token=True, pe_cfg=dict(last_ln_pos=0)),
     r"pe_cfg last_ln_pos=0\) is incompatible .* or drop last_ln_pos from pe_cfg\.$"),
    (dict(pe_mode='pvg', out_type='cls_token'), 'needs with_cls_token=True'),
    (dict(pe_mode='nope'), 'unknown pe_mode'),
    (dict(pe_cfg=dict(bogus=1)), 'unknown pe_cfg keys'),
    (dict(out_type='tokens'), 'unknown out_type'),
    (dict(out_indices=5), 'outside the 3 blocks'),
    (dict(arch=dict(TINY['arch'], img_size=2)), 'gives no token'),
    (dict(arch=dict(embed_dims=16)), 'missing'),
    (dict(pe_mode='pvg', frozen_params=['cls_token']), 'names no parameter'),
    # review of issue 16: each names the argument (not a TypeError deep inside)
    (dict(arch=dict(TINY['arch'], embed_dims=0)), 'embed_dims=0 must be a positive int'),
    (dict(arch=dict(TINY['arch'], num_layers=0)), 'num_layers=0 must be a positive int'),
    (dict(arch=dict(TINY['arch'], num_heads=3)), 'does not divide'),
    (dict(arch=dict(TINY['arch'], mlp_ratio=0)), 'mlp_ratio=0 must be a number above 0'),
    (dict(qk_scale=0), 'qk_scale=0 must be a number above 0'),
    (dict(drop_path_rate=1.0), r'drop_path_rate=1.0 must be in \[0, 1\)'),
    (dict(pe_cfg='mpvg'), 'pe_cfg=.*must be a dict.*pe_mode'),
    (dict(frozen_params='norm.'), r"frozen_params='norm.' must be a list.*\['norm.'\]"),
    (dict(img_size=64), 'img_size=64 and the arch dict.s img_size=48 differ'),
])
def test_bad_configurations_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MPVGT2TViT(**dict(TINY, **kwargs))


def test_unknown_arch_name_is_refused():
    with pytest.raises(ValueError, match="t2t-vit-7"):
        MPVGT2TViT(arch='t2t-vit-14')


@pytest.mark.parametrize('shape,match', [((3, 48, 48), 'expects images'),
                                         ((1, 1, 48, 48), 'expects images'),
                                         ((1, 3, 2, 48), 'no token')])
def test_bad_inputs_are_refused(shape, match):
    with pytest.raises(ValueError, match=match):
        _tiny()(torch.randn(*shape))


def test_frozen_params():
    model = _tiny(pe_mode='mpvg', frozen_params=['norm.', 'pe.last_norm.'])
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {'pos_embed', 'tokens_to_token.attention1.w', 'tokens_to_token.attention2.w',
                      'norm.weight', 'norm.bias', 'pe.last_norm.weight', 'pe.last_norm.bias'}


def test_featmap_and_out_indices():
    model = _tiny(pe_mode='pvg', out_type='featmap', out_indices=(0, -1))
    outs = model(torch.randn(2, 3, 48, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 3, 4), (2, 16, 3, 4)]


def test_fixed_pe_of_another_row_count_is_replaced_on_load():
    """A Default checkpoint (class row: 10 rows) into PVG (9 rows): the fixed table of
    this model is kept; the rest loads."""
    src = _randomize(_tiny(pe_mode='default'))
    dst = _tiny(pe_mode='pvg')
    sd = {k: v for k, v in src.state_dict().items() if k != 'cls_token'}
    missing, unexpected = dst.load_state_dict(sd, strict=False)
    assert set(missing) == {k for k in dst.state_dict() if k.startswith('pe.')}
    assert not unexpected
    torch.testing.assert_close(dst.pos_embed.data, _sinusoid(9, 16))
    torch.testing.assert_close(dst.blocks[0].attn.qkv.weight, src.blocks[0].attn.qkv.weight)


def test_learnable_pe_of_another_shape_is_refused_on_load():
    src = _tiny(pe_mode='default', learnable_pe=True)
    dst = _tiny(pe_mode='pvg', learnable_pe=True)
    with pytest.raises(ValueError, match='does not record its token grid'):
        dst.load_state_dict(src.state_dict(), strict=False)


def test_gap_checkpoint_into_class_token_model_is_refused():
    """An MPVG file has no cls_token: a Default model would keep a random class token
    (which the CIFAR fine-tune then freezes)."""
    sd = _tiny(pe_mode='mpvg').state_dict()
    with pytest.raises(ValueError, match='has no cls_token.*with_cls_token=False'):
        _tiny(pe_mode='default').load_state_dict(sd, strict=False)


def test_wrapped_or_foreign_checkpoint_is_refused():
    """A {'model': ...} training file and a CeiT state dict would load nothing (0 tensors,
    only mmengine's warnings): both refused by the shared check."""
    from mpvg_mm.models import MPVGCeiT
    sd = _tiny(pe_mode='default').state_dict()
    with pytest.raises(ValueError, match=r"wraps its weights in \{'model'"):
        _tiny(pe_mode='default').load_state_dict({'model': sd}, strict=False)
    ceit = MPVGCeiT(arch=dict(embed_dims=16, num_layers=2, num_heads=2, stem_channels=8,
                              patch_size=2, img_size=32), pe_mode='default')
    with pytest.raises(ValueError, match=r"places \d+ of MPVGT2TViT's"):
        _tiny(pe_mode='default').load_state_dict(ceit.state_dict(), strict=False)


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmseg'])
def test_registered_in_every_toolbox(scope):
    import importlib

    from mpvg_mm.registry import register_all_modules
    register_all_modules([scope])
    registry = importlib.import_module(f'{scope}.registry').MODELS
    assert registry.get('MPVGT2TViT') is MPVGT2TViT


# --------------------------------------------------------------------------- converter
class _RefPerformer(nn.Module):
    """The key layout of the reference ``Token_performer`` (no forward needed)."""

    def __init__(self, dim, emb):
        super().__init__()
        self.kqv, self.proj = nn.Linear(dim, 3 * emb), nn.Linear(emb, emb)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(emb)
        self.mlp = nn.Sequential(nn.Linear(emb, emb), nn.GELU(), nn.Linear(emb, emb),
                                 nn.Dropout(0.1))
        self.w = nn.Parameter(nn.init.orthogonal_(torch.empty(emb // 2, emb)) *
                              math.sqrt(emb // 2), requires_grad=False)


class _RefBlock(nn.Module):
    def __init__(self, d, ratio):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.Module()
        self.attn.qkv, self.attn.proj = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = nn.Linear(d, int(d * ratio)), nn.Linear(int(d * ratio), d)


class _RefT2TViT(nn.Module):
    """The key layout of the reference ``T2T_ViT(tokens_type='performer')``: what the
    public ``t2t_vit_7`` weights hold (``tokens_to_token.attention1/2``, ``project``,
    ``cls_token``, ``pos_embed``, ``blocks.{i}``, ``norm``, ``head``)."""

    def __init__(self, d=256, depth=7, ratio=2.0, token_dim=64, num_classes=1000, rows=197):
        super().__init__()
        self.tokens_to_token = nn.Module()
        self.tokens_to_token.attention1 = _RefPerformer(3 * 49, token_dim)
        self.tokens_to_token.attention2 = _RefPerformer(token_dim * 9, token_dim)
        self.tokens_to_token.project = nn.Linear(token_dim * 9, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_embed = nn.Parameter(_sinusoid(rows, d), requires_grad=False)
        self.blocks = nn.ModuleList(_RefBlock(d, ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, num_classes)


def test_reference_t2t_vit_7_checkpoint_converts_and_loads_strictly(tool, tmp_path):
    """The public t2t_vit_7 layout (random weights) through convert.py, detected from the
    keys: strict load into Default; logits as the reference's equations give them with
    the released weights' attention scale 256^-0.5 (``t2t_vit_7(pretrained=True)``)."""
    ref = _randomize(_RefT2TViT(num_classes=10), scale=0.05)
    src, dst = tmp_path / 't2t_vit_7.pth.tar', tmp_path / 'converted.pth'
    torch.save({'state_dict_ema': {}, 'state_dict': ref.state_dict()}, src)
    tool('model_converters/convert').main([str(src), str(dst)])
    ckpt = torch.load(dst, weights_only=False)
    cfg = ckpt['meta']['mpvg_backbone']
    assert ckpt['meta']['converted_from'] == 't2t-vit'
    assert cfg['pe_mode'] == 'default' and cfg['arch'] == 't2t-vit-7'
    model = MPVGT2TViT(**cfg).eval()
    sd = ckpt['state_dict']
    model.load_state_dict({k[len('backbone.'):]: v for k, v in sd.items()
                           if k.startswith('backbone.')}, strict=True)
    assert set(sd) - {'backbone.' + k for k in model.state_dict()} == {'head.fc.weight',
                                                                       'head.fc.bias'}
    img = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        logits = F.linear(model(img)[0], sd['head.fc.weight'], sd['head.fc.bias'])
        expected = _lin(_reference(ref.state_dict(), img, heads=4, cls=True, input_pe=True,
                                   lw_from=None, scale=256 ** -0.5,
                                   pos0=ref.pos_embed), ref.state_dict(), 'head')
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)


def test_reference_layout_is_detected_and_forced(tmp_path):
    from mpvg_mm.models.checkpoint_layout import convert_checkpoint, detect_layout
    sd = _RefT2TViT(d=16, depth=2, token_dim=8, num_classes=3, rows=10).state_dict()
    assert detect_layout(sd) == 't2t-vit'
    with pytest.raises(ValueError, match='--layout t2t-vit'):
        convert_checkpoint(sd, 'timm')
    with pytest.raises(ValueError, match='give the arch'):
        convert_checkpoint(sd, 't2t-vit')
    arch = dict(embed_dims=16, num_layers=2, num_heads=2, token_dims=8, img_size=48)
    converted, cfg, notes = convert_checkpoint(sd, 't2t-vit', dict(arch=arch))
    assert cfg['qk_scale'] == 16 ** -0.5 and any('qk_scale' in n for n in notes)
    MPVGT2TViT(**cfg).load_state_dict(
        {k[9:]: v for k, v in converted['state_dict'].items() if k.startswith('backbone.')})
    with pytest.raises(ValueError, match='--img-size'):
        convert_checkpoint(sd, 't2t-vit', dict(arch=arch, img_size=64))
    with pytest.raises(ValueError, match=r"no place in MPVGT2TViT.*tokens_to_token\.extra"):
        convert_checkpoint(dict(sd, **{'tokens_to_token.extra': torch.zeros(1)}), None,
                           dict(arch=arch))
