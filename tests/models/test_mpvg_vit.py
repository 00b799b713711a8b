"""MPVGViT against the paper's equations, Table 1's parameter counts and its contract."""
import math

import pytest
import torch
import torch.nn.functional as F

from mpvg_mm.models import MPVGViT, PEStructure, build_pe_structure

PRESETS = ['default', 'lape', 'pvg', 'mpvg']


# --------------------------------------------------------------------------- reference
def _ln(x, sd, key, eps=1e-6):
    return F.layer_norm(x, x.shape[-1:], sd[key + '.weight'], sd[key + '.bias'], eps)


def _reference_forward(sd, img, *, patch, heads, layers, input_pe, lw_from, hier, last_k,
                       cls):
    """Method.md's equations written out with plain tensor ops (no backbone code)."""
    B = img.shape[0]
    w = sd['patch_embed.proj.weight']
    D = w.shape[0]
    # patchify as a matmul: (B, N, 3*p*p) @ (3*p*p, D)
    cols = F.unfold(img, kernel_size=patch, stride=patch).transpose(1, 2)
    x = cols @ w.reshape(D, -1).t() + sd['patch_embed.proj.bias']
    pos0 = sd['pos_embed']
    if cls:
        x = torch.cat([sd['cls_token'].expand(B, 1, D), x], 1)
    if input_pe:
        x = x + pos0
    pos_prev, pos = pos0, {}
    for l in range(layers):
        if lw_from is not None and l >= lw_from:
            pos[l] = _ln(pos_prev if hier else pos0, sd, f'pe.layer_norms.{l}')
            pos_prev = pos[l]
    for l in range(layers):
        p = f'blocks.{l}.'
        h = _ln(x, sd, p + 'norm1')
        if l in pos:
            h = h + pos[l]
        qkv = h @ sd[p + 'attn.qkv.weight'].t() + sd[p + 'attn.qkv.bias']
        q, k, v = qkv.chunk(3, dim=-1)
        split = lambda t: t.reshape(B, -1, heads, D // heads).transpose(1, 2)  # noqa: E731
        q, k, v = split(q), split(k), split(v)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D // heads), dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, -1, D)
        x = x + o @ sd[p + 'attn.proj.weight'].t() + sd[p + 'attn.proj.bias']
        h = _ln(x, sd, p + 'norm2')
        h = F.gelu(h @ sd[p + 'mlp.fc1.weight'].t() + sd[p + 'mlp.fc1.bias'])
        x = x + h @ sd[p + 'mlp.fc2.weight'].t() + sd[p + 'mlp.fc2.bias']
    y = _ln(x, sd, 'norm')
    if last_k is not None:
        y = y + _ln(pos0 if last_k == 0 else pos[last_k], sd, 'pe.last_norm')
    return y[:, 0] if cls else y.mean(1)


CASES = {
    # name: (MPVGViT kwargs, reference switches)
    'default': (dict(pe_mode='default'),
                dict(input_pe=True, lw_from=None, hier=True, last_k=None, cls=True)),
    'default_gap': (dict(pe_mode='default', with_cls_token=False),
                    dict(input_pe=True, lw_from=None, hier=True, last_k=None, cls=False)),
    'gap_last_ln_pe': (dict(pe_mode='default', with_cls_token=False, pe_cfg=dict(last_ln_pos=0)),
                       dict(input_pe=True, lw_from=None, hier=True, last_k=0, cls=False)),
    'lape': (dict(pe_mode='lape'),
             dict(input_pe=False, lw_from=0, hier=True, last_k=None, cls=True)),
    'pvg': (dict(pe_mode='pvg'),
            dict(input_pe=True, lw_from=1, hier=True, last_k=None, cls=False)),
    'mpvg': (dict(pe_mode='mpvg'),
             dict(input_pe=True, lw_from=1, hier=True, last_k=0, cls=False)),
    'mpvg_pe_to_layer0': (dict(pe_mode='mpvg', pe_cfg=dict(layerwise_from=0)),
                          dict(input_pe=True, lw_from=0, hier=True, last_k=0, cls=False)),
    'mpvg_non_hier': (dict(pe_mode='mpvg', pe_cfg=dict(hierarchical=False)),
                      dict(input_pe=True, lw_from=1, hier=False, last_k=0, cls=False)),
    'mpvg_no_input_pe': (dict(pe_mode='mpvg', pe_cfg=dict(input_pe=False)),
                         dict(input_pe=False, lw_from=1, hier=True, last_k=0, cls=False)),
    'mpvg_last_from_pos3': (dict(pe_mode='mpvg', pe_cfg=dict(last_ln_pos=3)),
                            dict(input_pe=True, lw_from=1, hier=True, last_k=3, cls=False)),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_matches_reference_equations(case, tiny_arch, randomize):
    kwargs, ref = CASES[case]
    model = randomize(MPVGViT(arch=tiny_arch, **kwargs)).eval()
    img = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        out = model(img)[0]
        want = _reference_forward(model.state_dict(), img, patch=8, heads=2, layers=4, **ref)
    assert out.shape == (3, 64)
    torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-4)


def test_structures_really_differ(tiny_arch, randomize):
    """Same weights, different switches -> different outputs (so the test above can fail)."""
    img = torch.randn(2, 3, 32, 32)
    outs = {}
    base = randomize(MPVGViT(arch=tiny_arch, pe_mode='mpvg', pe_cfg=dict(layerwise_from=0)))
    for case in ['pvg', 'mpvg', 'mpvg_non_hier', 'mpvg_no_input_pe', 'mpvg_last_from_pos3']:
        model = MPVGViT(arch=tiny_arch, **CASES[case][0]).eval()
        model.load_state_dict(base.state_dict(), strict=False)
        with torch.no_grad():
            outs[case] = model(img)[0]
    names = sorted(outs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not torch.allclose(outs[a], outs[b], atol=1e-3), (a, b)


# --------------------------------------------------------------------------- Table 1
# The paper's Table 1 (M params, classifier with a 1000-class head), which truncates.
TABLE1 = {
    'deit-tiny': dict(default=5.717, lape=5.721, pvg=5.721, mpvg=5.721),
    'deit-small': dict(default=22.050, lape=22.059, pvg=22.058, mpvg=22.059),
    'deit-base': dict(default=86.567, lape=86.586, pvg=86.583, mpvg=86.584),
}
EXACT = {  # independently: DeiT + 12 (LaPE) or 11 (PVG) LNs of 2*D, GAP drops 2 rows of D
    ('deit-tiny', 'default'): 5_717_416, ('deit-tiny', 'lape'): 5_722_024,
    ('deit-tiny', 'pvg'): 5_721_256, ('deit-tiny', 'mpvg'): 5_721_640,
}


@pytest.mark.parametrize('arch', sorted(TABLE1))
@pytest.mark.parametrize('pe_mode', PRESETS)
def test_parameter_counts_match_table1(arch, pe_mode):
    from mmpretrain.registry import MODELS
    dims = {'deit-tiny': 192, 'deit-small': 384, 'deit-base': 768}[arch]
    with torch.device('meta'):
        model = MODELS.build(dict(
            type='ImageClassifier',
            backbone=dict(type='MPVGViT', arch=arch, pe_mode=pe_mode),
            head=dict(type='LinearClsHead', num_classes=1000, in_channels=dims)))
    n = sum(p.numel() for p in model.parameters())
    if (arch, pe_mode) in EXACT:
        assert n == EXACT[arch, pe_mode]
    truncated = math.floor(n / 1e3) / 1e3
    if (arch, pe_mode) == ('deit-tiny', 'lape'):
        # Table 1 prints 5.721 for LaPE-Ti, but 12 LN's of 2*192 on DeiT-Ti's 5,717,416
        # give 5,722,024 (and the S/B rows follow the same 12-LN rule exactly).
        assert truncated == pytest.approx(TABLE1[arch][pe_mode] + 0.001)
    else:
        assert truncated == pytest.approx(TABLE1[arch][pe_mode])


# --------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize('pe_mode', PRESETS)
def test_every_pe_parameter_gets_gradient(pe_mode, tiny_arch):
    model = MPVGViT(arch=tiny_arch, pe_mode=pe_mode)
    model(torch.randn(2, 3, 32, 32))[0].pow(2).sum().backward()
    pe_params = {n: p for n, p in model.named_parameters() if n == 'pos_embed' or n.startswith('pe.')}
    expected = {'default': 1, 'lape': 1 + 2 * 4, 'pvg': 1 + 2 * 3, 'mpvg': 1 + 2 * 4}
    assert len(pe_params) == expected[pe_mode]
    for name, p in pe_params.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for name, p in model.named_parameters():
        assert p.grad is not None, name


@pytest.mark.parametrize('batch', [1, 5])
def test_pe_chain_runs_once_per_forward_on_batch_free_pe(batch, tiny_arch):
    model = MPVGViT(arch=tiny_arch, pe_mode='mpvg')
    seen = []
    for norm in list(model.pe.layer_norms.values()) + [model.pe.last_norm]:
        norm.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape)))
    model(torch.randn(batch, 3, 32, 32))
    assert seen == [(1, 16, 64)] * 4


@pytest.mark.parametrize('pe_mode', PRESETS)
@pytest.mark.parametrize('size', [(32, 32), (48, 24), (64, 96), (8, 8)])
def test_any_input_size(pe_mode, size, tiny_arch):
    model = MPVGViT(arch=tiny_arch, pe_mode=pe_mode, out_type='featmap',
                    out_indices=(1, 3)).eval()
    outs = model(torch.randn(2, 3, *size))
    assert [o.shape for o in outs] == [(2, 64, size[0] // 8, size[1] // 8)] * 2
    assert all(torch.isfinite(o).all() for o in outs)


def test_runtime_resample_is_bicubic_on_the_grid(tiny_arch, randomize):
    model = randomize(MPVGViT(arch=tiny_arch, pe_mode='pvg')).eval()
    grid = model.pos_embed.reshape(1, 4, 4, 64).permute(0, 3, 1, 2)
    want = F.interpolate(grid, size=(6, 2), mode='bicubic', align_corners=False)
    got = model.resampled_pos_embed((6, 2))
    torch.testing.assert_close(got, want.permute(0, 2, 3, 1).reshape(1, 12, 64))
    with_cls = randomize(MPVGViT(arch=tiny_arch, pe_mode='default'))
    got = with_cls.resampled_pos_embed((6, 2))
    assert got.shape == (1, 13, 64)
    torch.testing.assert_close(got[:, :1], with_cls.pos_embed[:, :1])


def test_checkpoint_of_another_size_loads_through_resample(tiny_arch, randomize):
    small = randomize(MPVGViT(arch=tiny_arch, pe_mode='mpvg')).eval()
    big = MPVGViT(arch=tiny_arch, pe_mode='mpvg', img_size=64).eval()
    big.load_state_dict(small.state_dict())
    assert big.pos_embed.shape == (1, 64, 64)
    img = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(big(img)[0], small(img)[0])


def test_class_token_checkpoint_loads_into_gap_model(tiny_arch, randomize):
    deit = randomize(MPVGViT(arch=tiny_arch, pe_mode='default'))
    gap = MPVGViT(arch=tiny_arch, pe_mode='pvg')
    missing, unexpected = gap.load_state_dict(deit.state_dict(), strict=False)
    # the cls_token key is what says the first PE row is the class token's
    assert unexpected == ['cls_token'] and all(k.startswith('pe.') for k in missing)
    torch.testing.assert_close(gap.pos_embed, deit.pos_embed[:, 1:])
    sd = {k: v for k, v in deit.state_dict().items() if k != 'cls_token'}
    with pytest.raises(ValueError, match='were cls_token / dist_token removed'):
        gap.load_state_dict(sd, strict=False)


def test_clear_errors(tiny_arch):
    with pytest.raises(ValueError, match='unknown pe_mode'):
        MPVGViT(arch=tiny_arch, pe_mode='mpvg++')
    with pytest.raises(ValueError, match='incompatible with a class token'):
        MPVGViT(arch=tiny_arch, pe_mode='mpvg', with_cls_token=True)
    with pytest.raises(ValueError, match='unknown pe_cfg keys'):
        MPVGViT(arch=tiny_arch, pe_mode='pvg', pe_cfg=dict(hierarchichal=False))
    with pytest.raises(ValueError, match='block 2 takes no layer-wise PE'):
        MPVGViT(arch=tiny_arch, pe_mode='default', with_cls_token=False,
                pe_cfg=dict(last_ln_pos=2))
    with pytest.raises(ValueError, match='uses the position embedding nowhere'):
        MPVGViT(arch=tiny_arch, pe_mode='default', pe_cfg=dict(input_pe=False))
    with pytest.raises(ValueError, match='unknown arch'):
        MPVGViT(arch='deit-huge')
    # the arch dict checks shared with CeiT and T2T-ViT (resolve_arch_settings)
    with pytest.raises(ValueError, match=r"arch dict: missing \['num_heads'\]; it needs"):
        MPVGViT(arch=dict(embed_dims=64, num_layers=2))
    with pytest.raises(ValueError, match='num_heads=3 does not divide embed_dims=64'):
        MPVGViT(arch=dict(tiny_arch, num_heads=3))
    with pytest.raises(ValueError, match=r"must be one of the arch names \['deit-base'"):
        MPVGViT(arch=5)
    with pytest.raises(ValueError, match="needs with_cls_token=True"):
        MPVGViT(arch=tiny_arch, pe_mode='pvg', out_type='cls_token')
    with pytest.raises(ValueError, match='outside the 4 blocks'):
        MPVGViT(arch=tiny_arch, out_indices=(4, ))
    model = MPVGViT(arch=tiny_arch)
    with pytest.raises(ValueError, match='not a multiple of the patch size 8'):
        model(torch.randn(1, 3, 30, 32))
    with pytest.raises(ValueError, match=r'expects images \(B, 3, H, W\)'):
        model(torch.randn(3, 32, 32))
    padded = MPVGViT(arch=tiny_arch, pad_to_patch=True, out_type='featmap')
    assert padded(torch.randn(1, 3, 30, 33))[0].shape == (1, 64, 4, 5)
    bad = dict(model.state_dict(), pos_embed=torch.zeros(1, 15, 64))
    with pytest.raises(ValueError, match='leave 15 patch rows, but its grid 4x4'):
        model.load_state_dict(bad)
    cls_model = MPVGViT(arch=tiny_arch, pe_mode='default')
    sd = dict(cls_model.state_dict(), pos_embed=torch.zeros(1, 16, 64))
    with pytest.raises(ValueError, match='leave 15 patch rows, but its grid 4x4'):
        cls_model.load_state_dict(sd)
    gap_sd = MPVGViT(arch=tiny_arch, pe_mode='pvg').state_dict()
    with pytest.raises(ValueError, match='no class-token row.*with_cls_token=False'):
        cls_model.load_state_dict(gap_sd)


def test_presets_are_the_papers_structures():
    assert build_pe_structure('default') == (PEStructure(True, None, True, None), True)
    assert build_pe_structure('lape') == (PEStructure(False, 0, True, None), True)
    assert build_pe_structure('pvg') == (PEStructure(True, 1, True, None), False)
    assert build_pe_structure('mpvg') == (PEStructure(True, 1, True, 0), False)


def test_layer_depth_and_frozen_stages(tiny_arch):
    model = MPVGViT(arch=tiny_arch, pe_mode='mpvg', frozen_stages=2)
    depth = lambda n: model.get_layer_depth('backbone.' + n, 'backbone.')  # noqa: E731
    assert depth('pos_embed') == (0, 6)
    assert depth('patch_embed.proj.weight') == (0, 6)
    assert depth('blocks.0.attn.qkv.weight') == (1, 6)
    assert depth('pe.layer_norms.3.weight') == (4, 6)
    assert depth('norm.weight') == (5, 6)
    assert depth('pe.last_norm.bias') == (5, 6)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert 'pos_embed' in frozen and 'blocks.1.mlp.fc2.bias' in frozen
    assert 'pe.layer_norms.1.weight' in frozen and 'pe.layer_norms.2.weight' not in frozen
    assert 'blocks.2.norm1.weight' not in frozen
    model.train()
    assert not model.blocks[0].training and model.blocks[2].training


def test_activation_checkpointing_is_exact(tiny_arch, randomize):
    torch.manual_seed(0)
    plain = randomize(MPVGViT(arch=tiny_arch, pe_mode='mpvg'))
    ckpt = MPVGViT(arch=tiny_arch, pe_mode='mpvg', with_cp=True)
    ckpt.load_state_dict(plain.state_dict())
    img = torch.randn(2, 3, 32, 32)
    plain(img)[0].sum().backward()
    ckpt(img)[0].sum().backward()
    for (n, a), (_, b) in zip(plain.named_parameters(), ckpt.named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=n)


def test_deit_init(tiny_arch):
    model = MPVGViT(arch=dict(tiny_arch, embed_dims=256, num_heads=4))
    std = model.blocks[0].mlp.fc1.weight.std().item()
    assert 0.015 < std < 0.025
    assert 0.015 < model.pos_embed.std().item() < 0.025
    assert torch.all(model.blocks[0].attn.qkv.bias == 0)


def test_registered_in_three_registries():
    from mmdet.registry import MODELS as DET
    from mmpretrain.registry import MODELS as CLS
    from mmseg.registry import MODELS as SEG
    for registry in (CLS, DET, SEG):
        assert registry.get('MPVGViT') is MPVGViT


def test_window_attention_equals_reference_per_window(tiny_arch, randomize):
    """A window block is the plain block applied to each window of the token grid."""
    torch.manual_seed(0)
    arch = dict(tiny_arch, img_size=64)  # an 8x8 grid
    model = randomize(MPVGViT(arch=arch, pe_mode='pvg', window_size=4,
                               window_block_indexes=(0, 2))).eval()
    block = model.blocks[0]
    x = torch.randn(2, 64, 64)
    with torch.no_grad():
        got = block(x, None, (8, 8))
        block.window_size = 0
        grid = x.reshape(2, 2, 4, 2, 4, 64).permute(0, 1, 3, 2, 4, 5).reshape(8, 16, 64)
        want = block(grid).reshape(2, 2, 2, 4, 4, 64).permute(0, 1, 3, 2, 4, 5).reshape(2, 64, 64)
        assert not torch.allclose(block(x), got, atol=1e-4)  # global attention differs
    torch.testing.assert_close(got, want)
    # odd grids are zero-padded to whole windows; any size runs
    out = model.eval()(torch.randn(1, 3, 40, 56))[0]
    assert out.shape == (1, 64) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match='needs with_cls_token=False'):
        MPVGViT(arch=arch, pe_mode='default', window_size=4, window_block_indexes=(0, ))
