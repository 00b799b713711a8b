"""``MPVGViT(final_norm=...)``: what the last block's output gets, against the terms of
the paper's Eq. 11 (``y = LN(x_L) + LN''(pos_0)``) written out here with plain ops."""
import pytest
import torch
import torch.nn.functional as F

from mpvg_mm.models import MPVGViT

OPTIONS = ('ln+pe', 'ln', 'pe', 'none')


def _randomized(model):
    """Non-trivial LN affines and PE, so that every term changes the output."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    return model


def _block_output(model, img):
    """``x_L``, the last block's output tokens ``(B, N, D)``, read by a forward hook."""
    seen = []
    handle = model.blocks[-1].register_forward_hook(lambda m, i, o: seen.append(o.detach()))
    with torch.no_grad():
        out = model(img)
    handle.remove()
    return seen[0], out


def _as_map(tokens, grid):
    B, _, D = tokens.shape
    return tokens.transpose(1, 2).reshape(B, D, *grid)


@pytest.fixture
def pair(tiny_arch):
    """The MPVG backbone with the default final_norm (randomised weights) and an input."""
    ref = _randomized(MPVGViT(tiny_arch, pe_mode='mpvg', out_type='featmap')).eval()
    return ref, torch.randn(2, 3, 32, 32)


@pytest.mark.parametrize('final_norm', OPTIONS)
def test_each_option_is_its_terms_of_eq_11(tiny_arch, pair, final_norm):
    ref, img = pair
    sd = ref.state_dict()
    x_L, _ = _block_output(ref, img)
    D = x_L.shape[-1]
    ln = F.layer_norm(x_L, (D, ), sd['norm.weight'], sd['norm.bias'], 1e-6)
    # LN''(pos_0) per token: pos_0 is at its own grid here (no resampling)
    pe = F.layer_norm(sd['pos_embed'], (D, ), sd['pe.last_norm.weight'],
                      sd['pe.last_norm.bias'], 1e-6)
    expected = {'ln+pe': ln + pe, 'ln': ln, 'pe': x_L + pe, 'none': x_L}[final_norm]

    model = MPVGViT(tiny_arch, pe_mode='mpvg', out_type='featmap', final_norm=final_norm)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not missing
    # the terms left out are not built: their checkpoint keys are the unexpected ones
    dropped = {'ln+pe': set(), 'ln': {'pe.last_norm.weight', 'pe.last_norm.bias'},
               'pe': {'norm.weight', 'norm.bias'},
               'none': {'norm.weight', 'norm.bias', 'pe.last_norm.weight',
                        'pe.last_norm.bias'}}[final_norm]
    assert set(unexpected) == dropped
    x_L_model, (out, ) = _block_output(model.eval(), img)
    torch.testing.assert_close(x_L_model, x_L)  # the blocks are the same
    torch.testing.assert_close(out, _as_map(expected, (4, 4)), rtol=1e-5, atol=1e-5)


def test_the_default_is_the_classifiers_output(tiny_arch, pair):
    ref, img = pair
    gap = MPVGViT(tiny_arch, pe_mode='mpvg')  # the classifier: avg_featmap
    gap.load_state_dict(ref.state_dict())
    _, (fmap, ) = _block_output(ref, img)
    _, (pooled, ) = _block_output(gap.eval(), img)
    assert ref.final_norm == gap.final_norm == 'ln+pe'
    torch.testing.assert_close(pooled, fmap.flatten(2).mean(-1))


@pytest.mark.parametrize('final_norm', OPTIONS)
def test_every_built_parameter_gets_a_gradient(tiny_arch, final_norm):
    """No unused parameter: DDP (find_unused_parameters=False) would fail on one."""
    model = MPVGViT(tiny_arch, pe_mode='mpvg', out_type='featmap', final_norm=final_norm)
    model(torch.randn(1, 3, 32, 32))[0].square().sum().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


def test_presets_without_a_last_ln_pe(tiny_arch):
    """'pe' is x_L and 'ln+pe' is LN(x_L) when the structure has no LN'' (PVG)."""
    img = torch.randn(1, 3, 32, 32)
    ref = _randomized(MPVGViT(tiny_arch, pe_mode='pvg', out_type='featmap')).eval()
    x_L, (out, ) = _block_output(ref, img)
    sd = ref.state_dict()
    ln = F.layer_norm(x_L, x_L.shape[-1:], sd['norm.weight'], sd['norm.bias'], 1e-6)
    torch.testing.assert_close(out, _as_map(ln, (4, 4)), rtol=1e-5, atol=1e-5)
    pe_only = MPVGViT(tiny_arch, pe_mode='pvg', out_type='featmap', final_norm='pe').eval()
    pe_only.load_state_dict(sd, strict=False)
    assert pe_only.pe.last_norm is None and pe_only.norm is None
    torch.testing.assert_close(_block_output(pe_only, img)[1][0], _as_map(x_L, (4, 4)))


def test_earlier_blocks_are_untouched_and_booleans_alias(tiny_arch):
    model = MPVGViT(tiny_arch, pe_mode='mpvg', out_type='featmap', out_indices=(1, 3),
                    final_norm=False)
    assert model.final_norm == 'none'
    assert MPVGViT(tiny_arch, final_norm=True).final_norm == 'ln+pe'
    seen = []
    model.blocks[1].register_forward_hook(lambda m, i, o: seen.append(o))
    out = model(torch.randn(1, 3, 32, 32))
    torch.testing.assert_close(out[0], _as_map(seen[0], (4, 4)))


def test_unknown_value_is_refused_with_the_choices(tiny_arch):
    with pytest.raises(ValueError, match="final_norm 'LN'.*'ln\\+pe'.*'none'"):
        MPVGViT(tiny_arch, final_norm='LN')


def test_the_diagnostics_refuse_a_backbone_without_the_last_ln(tiny_arch):
    from mpvg_mm.analysis.counterbalance import find_backbone
    with pytest.raises(ValueError, match="final_norm='none'.*classifier checkpoint"):
        find_backbone(MPVGViT(tiny_arch, out_type='featmap', final_norm='none'))


@pytest.mark.parametrize('config, option, right', [
    ('mask_rcnn/mask-rcnn_vit-adapter-deit-tiny_mpvg_4xb2-ms-3x_coco', 'final_norm=none',
     r"MPVGViTAdapter has no 'final_norm' switch: .*vit_output_norm.*last_ln_pe_port"),
    ('mask_rcnn/mask-rcnn_mpvg-vit-deit-tiny-sfp_mpvg_4xb2-ms-3x_coco',
     'last_ln_pe_port=all_levels',
     r"MPVGViT has no 'last_ln_pe_port' switch: .*ViT-Adapter.*final_norm"),
    ('upernet/upernet_mpvg-vit-deit-tiny_mpvg_8xb2-160k_ade20k-512x512', 'vit_output_norm=False',
     r"MPVGViT has no 'vit_output_norm' switch: .*final_norm"),
])
def test_another_backbones_switch_names_this_ones(config, option, right):
    """``--cfg-options model.backbone.<the other backbone's switch>`` on a real config:
    a ValueError naming the switch of this backbone, not a bare TypeError."""
    from mmengine.config import Config, DictAction
    from mmengine.registry import DefaultScope, init_default_scope

    cfg = Config.fromfile(f'{__file__.rsplit("/tests/", 1)[0]}/configs/{config}.py')
    key, value = option.split('=')
    cfg.merge_from_dict({f'model.backbone.{key}': DictAction._parse_iterable(value)})
    DefaultScope._instance_dict.clear()
    init_default_scope(cfg.default_scope)
    from mmengine.registry import MODELS
    with pytest.raises(ValueError, match=right):
        MODELS.build(cfg.model.backbone)
