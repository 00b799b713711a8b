"""SimpleFeaturePyramid (ViTDet): strides, sizes, LN2d, inputs, registries."""
import importlib

import pytest
import torch
import torch.nn.functional as F

from mpvg_mm.models import MPVGViT, SimpleFeaturePyramid
from mpvg_mm.models.necks import LayerNorm2d


pytestmark = pytest.mark.usefixtures('single_thread')


@pytest.mark.parametrize('grid, want', [
    ((8, 12), [(32, 48), (16, 24), (8, 12), (4, 6), (2, 3)]),
    ((7, 9), [(28, 36), (14, 18), (7, 9), (4, 5), (2, 3)]),  # odd sides: ceil
])
def test_strides_4_to_64(grid, want):
    neck = SimpleFeaturePyramid(in_channels=64, out_channels=32, num_outs=5)
    outs = neck((torch.randn(2, 64, *grid), ))
    assert [tuple(o.shape) for o in outs] == [(2, 32, h, w) for h, w in want]


def test_four_outputs_tensor_input_and_last_of_tuple():
    neck = SimpleFeaturePyramid(in_channels=64, out_channels=16, num_outs=4).eval()
    x = torch.randn(1, 64, 6, 6)
    outs = neck(x)
    assert [tuple(o.shape[-2:]) for o in outs] == [(24, 24), (12, 12), (6, 6), (3, 3)]
    from_tuple = neck((torch.randn(1, 64, 3, 3), x))  # the last entry is used
    for a, b in zip(outs, from_tuple):
        torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match='stride-16 map'):
        neck(torch.randn(1, 32, 6, 6))


def test_branches_and_norms():
    neck = SimpleFeaturePyramid(in_channels=64, out_channels=16, scale_factors=(2.0, 1.0),
                                num_outs=2)
    assert len(neck.resamplers) == 2
    assert isinstance(neck.lateral_convs[0][1], LayerNorm2d)
    assert neck.lateral_convs[0][0].bias is None and neck.output_convs[0][0].bias is None
    assert neck.lateral_convs[0][0].in_channels == 32  # 2x branch halves the channels
    bn = SimpleFeaturePyramid(in_channels=64, out_channels=16, num_outs=4,
                              norm_cfg=dict(type='BN'))
    assert isinstance(bn.output_convs[3][1], torch.nn.BatchNorm2d)
    with pytest.raises(ValueError, match='scale_factors'):
        SimpleFeaturePyramid(in_channels=64, scale_factors=(8.0, ))
    with pytest.raises(ValueError, match='num_outs'):
        SimpleFeaturePyramid(in_channels=64, num_outs=3)


def test_layer_norm_2d_normalises_channels_per_pixel():
    norm = LayerNorm2d(8, eps=1e-6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    x = torch.randn(2, 8, 3, 5)
    want = F.layer_norm(x.permute(0, 2, 3, 1), (8, ), norm.weight, norm.bias, 1e-6)
    torch.testing.assert_close(norm(x), want.permute(0, 3, 1, 2))


def test_plain_mpvg_vit_plus_pyramid_end_to_end():
    arch = dict(embed_dims=64, num_layers=2, num_heads=2, mlp_ratio=2.0, patch_size=16,
                img_size=64)
    vit = MPVGViT(arch=arch, pe_mode='mpvg', out_type='featmap')
    neck = SimpleFeaturePyramid(in_channels=64, out_channels=16)
    outs = neck(vit(torch.randn(1, 3, 96, 64)))
    assert [tuple(o.shape[-2:]) for o in outs] == [(24, 16), (12, 8), (6, 4), (3, 2), (2, 1)]
    sum(o.sum() for o in outs).backward()
    for name, p in list(vit.named_parameters()) + list(neck.named_parameters()):
        assert p.grad is not None, name


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_build_from_each_registry(scope):
    registry = importlib.import_module(f'{scope}.registry')
    neck = registry.MODELS.build(dict(type='SimpleFeaturePyramid', in_channels=64,
                                      out_channels=16, num_outs=5))
    assert isinstance(neck, SimpleFeaturePyramid)
    assert len(neck(torch.randn(1, 64, 4, 4))) == 5
