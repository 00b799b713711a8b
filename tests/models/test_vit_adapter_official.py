"""The official ViT-Adapter's golden outputs reproduced by ``MPVGViTAdapter`` in Default
mode with the official-structure switches, from a converted official checkpoint.

The fixture (``tests/data/vit_adapter_official/``, made by ``make_fixture.py`` there from
the official code at the commit its README names) holds random weights of a tiny
DeiT-Ti-like ``ViTAdapter`` (official key names under ``backbone.``), a 128x160 input (an
8x10 patch grid: windows of 3 pad both sides) and the official four output maps.
"""
from pathlib import Path

import pytest
import torch

from mpvg_mm.models.backbones.vit_adapter import MPVGViTAdapter
from mpvg_mm.models.checkpoint_layout import convert_checkpoint, detect_layout

pytestmark = pytest.mark.usefixtures('single_thread')
FIXTURE = Path(__file__).parents[1] / 'data' / 'vit_adapter_official' / 'fixture.pth'


@pytest.fixture(scope='module')
def golden():
    return torch.load(FIXTURE, weights_only=True)


def _adapter_kwargs(golden):
    """The fixture's official config in MPVGViTAdapter's terms (the parts the weights do
    not hold: heads, window attention, deformable heads and points)."""
    c = golden['config']
    return dict(arch=dict(embed_dims=c['embed_dim'], num_layers=c['depth'],
                          num_heads=c['num_heads'], mlp_ratio=float(c['mlp_ratio']),
                          patch_size=16, img_size=c['pretrain_size']),
                deform_num_heads=c['deform_num_heads'], deform_num_points=c['n_points'],
                window_size=3, window_block_indexes=[i for i, w in
                                                     enumerate(c['window_attn']) if w])


def _run(cfg, state_dict, image):
    model = MPVGViTAdapter(**cfg, norm_cfg=dict(type='BN'))
    model.load_state_dict({k[len('backbone.'):]: v for k, v in state_dict.items()
                           if k.startswith('backbone.')}, strict=True)
    model.eval()
    with torch.no_grad():
        return model(image)


@pytest.mark.parametrize('variant, fold', [('detection', False), ('detection', True),
                                           ('segmentation', False)])
def test_converted_official_checkpoint_reproduces_the_official_outputs(golden, variant, fold):
    state_dict = golden['state_dict']
    if variant == 'segmentation':  # a segmentor's decode head tells the variant
        state_dict = dict(state_dict, **{'decode_head.conv_seg.weight': torch.zeros(2, 48, 1, 1)})
    assert detect_layout(state_dict) == 'vit-adapter'
    overrides = dict(_adapter_kwargs(golden), fold_layer_scale=fold)
    converted, cfg, notes = convert_checkpoint(dict(state_dict=state_dict), overrides=overrides)
    assert (cfg['pe_mode'], cfg['vit_output_norm'], cfg['window_padding'],
            cfg['layer_scale']) == ('default', False, 'qkv', not fold)
    assert cfg.get('vit_feature', 'last') == ('per_group' if variant == 'segmentation' else
                                              'last')
    assert any('dropped the class row of pos_embed' in n for n in notes)
    outs = _run(cfg, converted['state_dict'], golden['input'])
    want_outputs = golden['outputs' if variant == 'detection' else 'outputs_segmentation']
    for got, want in zip(outs, want_outputs, strict=True):
        assert got.shape == want.shape
        assert (got - want).abs().max() <= 1e-4


def _max_diff(outs, golden):
    return max((o - w).abs().max().item() for o, w in zip(outs, golden['outputs']))


def test_each_official_switch_matters(golden):
    """Any one switch back at our default changes the outputs (measured: 0.6-1.3 for the
    token padding, 5-6 for a unit Last LN, more without the layer scale; values up to 14)."""
    converted, cfg, _ = convert_checkpoint(dict(state_dict=golden['state_dict']),
                                           overrides=_adapter_kwargs(golden))
    sd, dims = converted['state_dict'], cfg['arch']['embed_dims']
    assert _max_diff(_run(dict(cfg, window_padding='tokens'), sd, golden['input']),
                     golden) > 0.1
    with_norm = dict(sd, **{'backbone.norm.weight': torch.ones(dims),  # a unit Last LN
                            'backbone.norm.bias': torch.zeros(dims)})
    assert _max_diff(_run(dict(cfg, vit_output_norm=True), with_norm, golden['input']),
                     golden) > 0.1
    no_scale = {k: v for k, v in sd.items() if 'gamma1' not in k and 'gamma2' not in k}
    assert _max_diff(_run(dict(cfg, layer_scale=False), no_scale, golden['input']),
                     golden) > 0.1


def test_unplaced_official_keys_are_refused_by_name(golden):
    sd = dict(golden['state_dict'], **{'backbone.blocks.0.residual.conv1.weight':
                                       torch.zeros(1)})
    with pytest.raises(ValueError, match=r"no place.*backbone\.blocks\.0\.residual"):
        convert_checkpoint(dict(state_dict=sd), overrides=_adapter_kwargs(golden))
