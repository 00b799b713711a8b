"""The official ViT-Adapter's golden outputs reproduced by ``MPVGViTAdapter`` in Default
mode with the official-structure switches, from a converted official checkpoint.

The fixture (``tests/data/vit_adapter_official/``, made by ``make_fixture.py`` there from
the official code at the commit its README names) holds random weights of a tiny
DeiT-Ti-like ``ViTAdapter`` (official key names under ``backbone.``), a 128x160 input (an
8x10 patch grid: windows of 3 pad both sides) and the official four output maps.
"""
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mpvg_mm.models.backbones.vit_adapter import MPVGViTAdapter
from mpvg_mm.models.checkpoint_layout import convert_checkpoint, detect_layout
from mpvg_mm.registry import build_model

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
    """Any one switch back at our default changes the outputs (measured max abs diff: 1.3
    for the token padding, 6.1 for a unit Last LN, 5.5 without the layer scale; values up
    to 14)."""
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


def _official_layout(state_dict):
    """Our detector / segmentor in the official ViT-Adapter's key names (the inverse of the
    converter's renaming, written out by hand); ``pos_embed`` gets back its class row."""
    rules = [(r'spatial_prior\.stem\.(\d)\.0\.', lambda m: f'spm.stem.{3 * int(m[1])}.'),
             (r'spatial_prior\.stem\.(\d)\.1\.', lambda m: f'spm.stem.{3 * int(m[1]) + 1}.'),
             (r'spatial_prior\.to_stride(\d+)\.',
              lambda m: f'spm.conv{ {"8": 2, "16": 3, "32": 4}[m[1]]}.'),
             (r'spatial_prior\.projections\.(\d)\.', lambda m: f'spm.fc{int(m[1]) + 1}.'),
             (r'stride4_up\.', lambda m: 'up.'),
             (r'output_norms\.(\d)\.', lambda m: f'norm{int(m[1]) + 1}.'),
             (r'ffn\.dwconv\.', lambda m: 'ffn.dwconv.dwconv.')]
    out = {}
    for key, value in state_dict.items():
        if key == 'backbone.pos_embed_grid':
            continue
        if key == 'backbone.pos_embed':
            value = torch.cat([torch.randn(1, 1, value.shape[-1]), value], dim=1)
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


@pytest.mark.parametrize('config, vit_feature', [
    ('mask_rcnn/mask-rcnn_vit-adapter-deit-tiny_default_4xb2-ms-3x_coco.py', 'last'),
    ('upernet/upernet_vit-adapter-deit-tiny_default_4xb2-160k_ade20k-512x512.py', 'per_group')])
def test_a_whole_official_model_loads_strictly_into_our_config(config, vit_feature):
    cfg = Config.fromfile(Path(__file__).parents[2] / 'configs' / config)
    cfg.model.backbone.update(vit_output_norm=False, window_padding='qkv', layer_scale=True,
                              vit_feature=vit_feature, init_cfg=None)
    ours = build_model(cfg).state_dict()
    official = _official_layout(ours)
    converted, backbone, notes = convert_checkpoint(dict(state_dict=official))
    assert backbone['arch'] == 'deit-tiny' and backbone['img_size'] == 224
    assert backbone.get('vit_feature', 'last') == vit_feature
    got = converted['state_dict']
    assert sorted(got) == sorted(ours)
    assert all(torch.equal(got[k], ours[k]) for k in ours if k != 'backbone.pos_embed_grid')


def test_switch_values_are_checked():
    tiny = dict(arch=dict(embed_dims=48, num_layers=4, num_heads=3, img_size=64),
                norm_cfg=dict(type='BN'))
    with pytest.raises(ValueError, match="unknown window_padding 'zeros'"):
        MPVGViTAdapter(**tiny, window_padding='zeros')
    with pytest.raises(ValueError, match="unknown vit_feature 'first'"):
        MPVGViTAdapter(**tiny, vit_feature='first')
    with pytest.raises(ValueError, match='needs 4 interaction groups'):
        MPVGViTAdapter(**tiny, vit_feature='per_group', interaction_indexes=[[0, 1], [2, 3]])


def test_convert_tool_detects_and_reports_the_official_layout(tool, tmp_path, capsys, golden):
    arch = _adapter_kwargs(golden)['arch']
    tool('model_converters/convert').main(
        [str(FIXTURE), str(tmp_path / 'out.pth'), '--arch', str(arch).replace("'", '"'),
         '--fold-layer-scale'])
    out = capsys.readouterr().out
    assert 'layout: vit-adapter' in out and 'folded 8 layer-scale vectors' in out
    assert "'window_padding': 'qkv'" in out and "'layer_scale': False" in out
