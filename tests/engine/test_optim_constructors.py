"""LayerDecayOptimWrapperConstructor: layer-wise lr and weight-decay rules for a model
whose top module has no get_layer_depth (a detector/segmentor with .backbone/.neck)."""
import pytest
import torch.nn as nn
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from mpvg_mm.engine import LayerDecayOptimWrapperConstructor
from mpvg_mm.models import MPVGViT, MPVGViTAdapter

ARCH = dict(embed_dims=32, num_layers=4, num_heads=2, mlp_ratio=2.0, patch_size=16,
            img_size=32)
LR, WD, DECAY = 1e-3, 0.05, 0.5
OPTIM_CFG = dict(
    optimizer=dict(type='AdamW', lr=LR, weight_decay=WD),
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=DECAY, norm_decay_mult=0.0, bias_decay_mult=0.0,
        custom_keys={'pos_embed': dict(decay_mult=0.0), 'level_embed': dict(decay_mult=0.0)}))


class TinyDetector(nn.Module):
    """Just what the constructor looks at: ``.backbone`` and ``.neck``."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.neck = nn.Sequential(nn.Conv2d(32, 8, 1), nn.BatchNorm2d(8))


def groups_by_name(optim_wrapper):
    return {g['param_name']: g for g in optim_wrapper.optimizer.param_groups}


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_layer_wise_lr_and_decay_rules(scope):
    model = TinyDetector(MPVGViT(arch=ARCH, pe_mode='mpvg'))
    with DefaultScope.overwrite_default_scope(scope):
        groups = groups_by_name(build_optim_wrapper(model, dict(OPTIM_CFG)))
    assert len(groups) == len(list(model.parameters()))
    # 4 blocks -> 6 depths: lr = LR * DECAY ** (5 - depth)
    expected_lr = {
        'backbone.patch_embed.proj.weight': LR * DECAY**5,  # depth 0
        'backbone.pos_embed': LR * DECAY**5,
        'backbone.blocks.0.attn.qkv.weight': LR * DECAY**4,  # depth 1
        'backbone.pe.layer_norms.1.weight': LR * DECAY**3,  # LN'_1 with block 1
        'backbone.blocks.3.mlp.fc2.weight': LR * DECAY,  # last block, depth 4
        'backbone.norm.weight': LR,  # Last LN
        'backbone.pe.last_norm.weight': LR,  # LN''
        'neck.0.weight': LR,  # outside the backbone
        'neck.1.bias': LR,
    }
    for name, lr in expected_lr.items():
        assert groups[name]['lr'] == pytest.approx(lr), name
    expected_wd = {
        'backbone.pos_embed': 0.0,
        'backbone.blocks.0.attn.qkv.weight': WD,
        'backbone.blocks.0.attn.qkv.bias': 0.0,
        'backbone.blocks.0.norm1.weight': 0.0,
        'backbone.pe.layer_norms.2.weight': 0.0,  # PE LNs are LayerNorms
        'backbone.pe.last_norm.bias': 0.0,
        'neck.0.weight': WD,
        'neck.1.weight': 0.0,  # BN
    }
    for name, wd in expected_wd.items():
        assert groups[name]['weight_decay'] == pytest.approx(wd), name


def test_adapter_modules_get_full_lr():
    backbone = MPVGViTAdapter(arch=ARCH, interaction_indexes=[[0, 1], [2, 3]],
                              spatial_prior_channels=8, deform_num_heads=2,
                              norm_cfg=dict(type='BN'))
    with DefaultScope.overwrite_default_scope('mmdet'):
        groups = groups_by_name(build_optim_wrapper(TinyDetector(backbone), dict(OPTIM_CFG)))
    adapter = [n for n in groups if n.startswith(('backbone.spatial_prior', 'backbone.level',
                                                  'backbone.interactions', 'backbone.stride4',
                                                  'backbone.output_norms'))]
    assert len(adapter) > 50
    for name in adapter:
        assert groups[name]['lr'] == pytest.approx(LR), name
    assert groups['backbone.level_embed']['weight_decay'] == 0.0
    assert groups['backbone.blocks.0.attn.qkv.weight']['lr'] == pytest.approx(LR * DECAY**4)


def test_model_with_its_own_get_layer_depth_still_works():
    from mmpretrain.registry import MODELS
    classifier = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='MPVGViT', arch=ARCH, pe_mode='pvg'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=32)))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        groups = groups_by_name(build_optim_wrapper(classifier, dict(OPTIM_CFG)))
    assert groups['backbone.blocks.0.attn.qkv.weight']['lr'] == pytest.approx(LR * DECAY**4)
    assert groups['head.fc.weight']['lr'] == pytest.approx(LR)


def test_clear_error_without_backbone_depths():
    model = TinyDetector(nn.Conv2d(3, 32, 1))
    with pytest.raises(NotImplementedError, match='get_layer_depth'):
        LayerDecayOptimWrapperConstructor(dict(optimizer=OPTIM_CFG['optimizer']),
                                          OPTIM_CFG['paramwise_cfg'])(model)
