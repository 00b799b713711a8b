"""Every config in configs/: the expected set exists, each builds (model, dataset and
pipeline types) in its toolbox's scope, and each optimizer gets its reference recipe's
no-weight-decay rule parameter by parameter; the schedules' layer-wise lr decay; the demo configs match
the demo classifier and data; the metafiles point at configs."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm, _InstanceNorm
from torch import nn

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(f'{ROOT}/configs/**/*.py', recursive=True)
                 if '/_base_/' not in p)
PRESETS = ('default', 'lape', 'pvg', 'mpvg')

# config families: one config per PE preset, {} = the preset -> default scope
FAMILIES = {
    'mpvg/deit-tiny_{}_8xb128_in1k': 'mmpretrain',
    'mpvg/deit-small_{}_8xb128_in1k': 'mmpretrain',
    'mpvg/deit-base_{}_8xb128_in1k': 'mmpretrain',
    'vit_lite/vit-lite-7-4_{}_1xb128_cifar100': 'mmpretrain',
    'mask_rcnn/mask-rcnn_vit-adapter-deit-tiny_{}_4xb2-ms-3x_coco': 'mmdet',
    'mask_rcnn/mask-rcnn_mpvg-vit-deit-tiny-sfp_{}_4xb2-ms-3x_coco': 'mmdet',
    'upernet/upernet_vit-adapter-deit-tiny_{}_4xb2-160k_ade20k-512x512': 'mmseg',
    'upernet/upernet_mpvg-vit-deit-tiny_{}_8xb2-160k_ade20k-512x512': 'mmseg',
    'demo/mpvg-vit-demo_{}_1xb64_demo-cls': 'mmpretrain',
    'swin/swin-tiny_{}_16xb64_in1k': 'mmpretrain',
    'swin/mask-rcnn_mpvg-swin-t_{}_fpn_1x_coco': 'mmdet',
    'swin/mask-rcnn_mpvg-swin-t_{}_fpn_ms-crop-3x_coco': 'mmdet',
    'swin/upernet_mpvg-swin-t_{}_8xb2-160k_ade20k-512x512': 'mmseg',
    'ceit/ceit-tiny_{}_8xb128_in1k': 'mmpretrain',
    't2t_vit/t2t-vit-7_{}_8xb64_in1k': 'mmpretrain',
    't2t_vit/t2t-vit-7_{}_1xb128_cifar100-ft': 'mmpretrain',
}
# the rest: name -> (default scope, preset); the ablations of Fig. 5 and Table 6 and the
# demo detector and segmentor
SINGLES = {
    'mpvg/deit-tiny_default-gap_8xb128_in1k': ('mmpretrain', 'default'),
    'mpvg/deit-tiny_default-gap-lastlnpe_8xb128_in1k': ('mmpretrain', 'default'),
    'mpvg/deit-tiny_mpvg-pe-to-layer0_8xb128_in1k': ('mmpretrain', 'mpvg'),
    'mpvg/deit-tiny_mpvg-non-hierarchical_8xb128_in1k': ('mmpretrain', 'mpvg'),
    'mpvg/deit-tiny_mpvg-no-input-pe_8xb128_in1k': ('mmpretrain', 'mpvg'),
    'mpvg/deit-tiny_mpvg-lastlnpe-pos5_8xb128_in1k': ('mmpretrain', 'mpvg'),
    'mpvg/deit-tiny_mpvg-lastlnpe-pos8_8xb128_in1k': ('mmpretrain', 'mpvg'),
    'mpvg/deit-tiny_mpvg-lastlnpe-pos11_8xb128_in1k': ('mmpretrain', 'mpvg'),
    'demo/mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco': ('mmdet', 'mpvg'),
    'demo/mask-rcnn_mpvg-vit-demo-sfp_mpvg_1xb8_demo-coco': ('mmdet', 'mpvg'),
    'demo/mask-rcnn_vit-adapter-demo_mpvg_1xb8_demo-coco': ('mmdet', 'mpvg'),
    'demo/upernet_mpvg-vit-demo_mpvg_1xb8_demo-ade': ('mmseg', 'mpvg'),
    'demo/mpvg-swin-demo_mpvg_1xb64_demo-cls': ('mmpretrain', 'mpvg'),
    'demo/mpvg-t2t-vit-demo_mpvg_1xb64_demo-cls': ('mmpretrain', 'mpvg'),
    'demo/upernet_mpvg-swin-demo_mpvg_1xb8_demo-ade': ('mmseg', 'mpvg'),
    'demo/mpvg-ceit-demo_mpvg_1xb64_demo-cls': ('mmpretrain', 'mpvg'),
}
EXPECTED = {family.format(preset): (scope, preset)
            for family, scope in FAMILIES.items() for preset in PRESETS}
EXPECTED.update(SINGLES)
NO_DECAY_FRAGMENT = 'configs/_base_/schedules/adamw_no-decay-pe-norm-bias.py'
NO_DECAY_RULE = Config.fromfile(f'{ROOT}/{NO_DECAY_FRAGMENT}').optim_wrapper.paramwise_cfg.to_dict()
NORMS = (nn.LayerNorm, _BatchNorm, _InstanceNorm, nn.GroupNorm)


def _name(path):
    return osp.relpath(path, f'{ROOT}/configs')[:-len('.py')]


def _ids(paths):
    return [_name(p) for p in paths]


def _registries(scope):
    module = __import__(f'{scope}.registry', fromlist=['MODELS'])
    return module.MODELS, module.DATASETS, module.TRANSFORMS


def _build_on_meta(cfg):
    """The model of ``cfg`` in its toolbox's scope, built on the meta device (fast)."""
    DefaultScope._instance_dict.clear()
    init_default_scope(cfg.default_scope)
    with torch.device('meta'):
        return _registries(cfg.default_scope)[0].build(cfg.model)


def _param_groups(cfg):
    """The model (storage allocated, not initialised) and ``{param name: param group}``
    of the optimizer that ``cfg.optim_wrapper`` builds for it."""
    model, _, groups = _optim_wrapper_and_groups(cfg)
    return model, groups


def _optim_wrapper_and_groups(cfg):
    """The model, the optimizer wrapper ``cfg.optim_wrapper`` builds for it with
    mmengine's builder, and its ``{param name: param group}``."""
    model = _build_on_meta(cfg).to_empty(device='cpu')
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    groups = {}
    for group in optim.optimizer.param_groups:
        for p in group['params']:
            name = names[id(p)]
            assert name not in groups, f'{name} in two param groups'
            groups[name] = group
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set(groups) == trainable, set(groups) ^ trainable
    return model, optim, groups


def _check_dataset(cfg, DATASETS, TRANSFORMS, where):
    if cfg.get('type') in ('ConcatDataset', 'RepeatDataset', 'ClassBalancedDataset'):
        inner = cfg.get('datasets') or [cfg['dataset']]
        for c in inner:
            _check_dataset(c, DATASETS, TRANSFORMS, where)
        return
    assert DATASETS.get(cfg['type']) is not None, f'{where}: dataset {cfg["type"]}'
    for t in cfg.get('pipeline', []):
        assert TRANSFORMS.get(t['type']) is not None, f'{where}: transform {t["type"]}'


def test_the_expected_configs_exist():
    """Exactly the expected configs: every preset of every family, and the singles."""
    found = set(_ids(CONFIGS))
    assert found == set(EXPECTED), (f'missing: {sorted(set(EXPECTED) - found)}, '
                                    f'unexpected: {sorted(found - set(EXPECTED))}')


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_config_builds(path):
    cfg = Config.fromfile(path)
    scope, preset = EXPECTED[_name(path)]
    assert 'mpvg_mm' in cfg.custom_imports['imports']
    assert cfg.default_scope == scope
    assert cfg.model.backbone.pe_mode == preset  # the preset its file name says
    model = _build_on_meta(cfg)
    assert sum(p.numel() for p in model.parameters()) > 0
    if scope in ('mmdet', 'mmseg'):
        # dense backbones have no class token, whatever the preset (a Default/LaPE
        # classifier's token and its pos_embed row are dropped on load)
        assert getattr(model.backbone, 'cls_token', None) is None
    _, DATASETS, TRANSFORMS = _registries(scope)
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if loader:
            _check_dataset(loader['dataset'], DATASETS, TRANSFORMS, f'{split}_dataloader')


def _expected_weight_decay(name, param, module, weight_decay):
    """The paper's rule (DeiT's): (expected weight decay, why), or (None, why) for a
    parameter the rule does not cover."""
    leaf = name.rsplit('.', 1)[-1]
    if name in ('backbone.pos_embed', 'backbone.cls_token', 'backbone.level_embed'):
        return 0.0, leaf
    if name == 'backbone.absolute_pos_embed':  # Swin's pos_0
        return 0.0, 'pos_embed'
    if leaf == 'relative_position_bias_table':  # Swin's relative position bias
        return 0.0, leaf
    if name == 'backbone.pos_layer_embed':  # CeiT's LCA layer PE: decayed in its reference
        return weight_decay, leaf  # (coeusguo/ceit no_weight_decay(): pos_embed, cls_token)
    if name.startswith('backbone.pe.layer_norms.'):
        return 0.0, "LN'"
    if name.startswith('backbone.pe.last_norm.'):
        return 0.0, "LN''"
    if isinstance(module, NORMS):
        return 0.0, f'norm ({type(module).__name__})'
    if leaf == 'bias':
        return 0.0, 'bias'
    if param.ndim == 1:
        return 0.0, '1-D parameter'
    if leaf == 'weight' and isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
        return weight_decay, f'{type(module).__name__} weight'
    return None, f'{type(module).__name__}.{leaf} of shape {tuple(param.shape)}'


def _expected_weight_decay_timm(name, param, module, weight_decay):
    """timm's ``add_weight_decay`` (Compact-Transformers' ViT-Lite, whose model lists no
    ``no_weight_decay()``) and BEiT's ``LayerDecayOptimizerConstructor`` (ViT-Adapter's
    UperNet, whose ``('pos_embed', 'cls_token')`` never matches a full name): no decay on
    1-D parameters and ``.bias``, decay on all others, the PE included."""
    if param.ndim == 1 or name.endswith('.bias'):
        return 0.0, '1-D parameter' if param.ndim == 1 else 'bias'
    return weight_decay, f'{name.rsplit(".", 1)[-1]} ({param.ndim}-D)'


def _expected_weight_decay_vit_adapter_det(name, param, module, weight_decay):
    """ViT-Adapter's Mask R-CNN (``custom_keys`` of mask_rcnn_deit_adapter_tiny_fpn_3x_coco.py
    through mmcv's DefaultOptimizerConstructor): no decay on names containing
    ``level_embed``, ``pos_embed``, ``norm`` or ``bias``; decay on all others."""
    for key in ('level_embed', 'pos_embed', 'norm', 'bias'):
        if key in name:
            return 0.0, key
    return weight_decay, f'{name.rsplit(".", 1)[-1]} ({param.ndim}-D)'


def _expected_weight_decay_everywhere(name, param, module, weight_decay):
    """T2T-ViT's ``transfer_learning.py`` (the CIFAR-100 fine-tune): plain
    ``optim.SGD(groups, weight_decay=5e-4)``, so every parameter it trains is decayed."""
    return weight_decay, f'{name.rsplit(".", 1)[-1]} ({param.ndim}-D)'


# config family (a part of its name) -> (the reference's weight-decay rule, where it
# comes from)
WEIGHT_DECAY_RULES = {
    'vit_lite/': _expected_weight_decay_timm,
    'upernet/upernet_vit-adapter': _expected_weight_decay_timm,
    'mask_rcnn/mask-rcnn_vit-adapter': _expected_weight_decay_vit_adapter_det,
    '_1xb128_cifar100-ft': _expected_weight_decay_everywhere,
}


def _weight_decay_rule(name):
    rules = [rule for part, rule in WEIGHT_DECAY_RULES.items() if part in name]
    return rules[0] if rules else _expected_weight_decay


@pytest.mark.parametrize('path', CONFIGS, ids=_ids(CONFIGS))
def test_optimizer_weight_decay_per_parameter(path):
    """Per parameter, the weight decay of the reference recipe: the paper's DeiT rule (no
    decay on pos_embed, the class token, every LN' and LN'' of the PE, ViT-Adapter's
    level_embed, every norm, bias and other 1-D parameter) for the DeiT classifiers, the
    demo and the plain-ViT dense configs; timm's 1-D rule for ViT-Lite and the
    ViT-Adapter UperNet; the official name rule for the ViT-Adapter Mask R-CNN."""
    cfg = Config.fromfile(path)
    weight_decay = cfg.optim_wrapper.optimizer.weight_decay
    assert weight_decay > 0
    rule = _weight_decay_rule(_name(path))
    if rule is _expected_weight_decay:
        paramwise = cfg.optim_wrapper.paramwise_cfg.to_dict()
        paramwise.pop('layer_decay_rate', None)
        assert paramwise == NO_DECAY_RULE  # the fragment's rule, not overridden
    model, groups = _param_groups(cfg)
    modules = dict(model.named_modules())
    wrong, kinds = [], set()
    for name, param in model.named_parameters():
        if not param.requires_grad:  # frozen: no optimizer group (fixed PE, features)
            continue
        expected, why = rule(name, param, modules[name.rpartition('.')[0]], weight_decay)
        kinds.add(why.split(' ')[0])
        got = groups[name]['weight_decay']
        if expected is None or got != pytest.approx(expected):
            wrong.append(f'{name} ({why}): weight_decay {got}, expected {expected}')
    assert not wrong, '\n'.join(wrong)
    if rule is _expected_weight_decay_everywhere:
        return
    if rule is not _expected_weight_decay:
        # the PE's LNs are not decayed under any of the rules (1-D, and named `norm`)
        for name in groups:
            if name.startswith(('backbone.pe.layer_norms.', 'backbone.pe.last_norm.')):
                assert groups[name]['weight_decay'] == 0.0, name
        return
    # the rule was exercised where the model has these parameters
    # (T2T-ViT's pos_0 is the fixed sinusoid: frozen, in no group)
    fixed_pe = not model.backbone.pos_embed.requires_grad \
        if isinstance(getattr(model.backbone, 'pos_embed', None), nn.Parameter) else False
    assert ('pos_embed' in kinds or fixed_pe) and 'bias' in kinds and 'Linear' in kinds
    if cfg.model.backbone.pe_mode != 'default':
        assert "LN'" in kinds
    if cfg.model.backbone.pe_mode == 'mpvg' and \
            'pe' in cfg.model.backbone.get('final_norm', 'ln+pe').split('+'):
        assert "LN''" in kinds  # not built when final_norm leaves the Last-LN PE out
    if 'adapter' in path:
        assert 'level_embed' in kinds


def test_no_decay_rules_are_spelled_once_per_reference():
    """The no-weight-decay rules stand in schedule fragments, one per reference recipe
    (the paper's DeiT rule, timm's for ViT-Lite, ViT-Adapter's for its Mask R-CNN and its
    UperNet), nowhere else."""
    spelled = sorted(osp.relpath(p, ROOT)
                     for p in glob.glob(f'{ROOT}/configs/**/*.py', recursive=True)
                     if any(k in open(p).read() for k in ('custom_keys', 'decay_mult')))
    assert spelled == sorted([
        NO_DECAY_FRAGMENT,
        'configs/_base_/schedules/cifar100_bs128_adamw_310e.py',
        'configs/_base_/schedules/coco_adamw_3x_vit-adapter.py',
        'configs/_base_/schedules/ade20k_adamw_160k_vit-adapter.py',
        # lr multipliers only (the T2T-ViT fine-tune's groups); its decay applies to all
        'configs/_base_/schedules/cifar100_bs128_sgd_t2t-ft_60e.py',
    ])


def _config(family, preset='mpvg'):
    return Config.fromfile(f'{ROOT}/configs/{family.format(preset)}.py')


def test_adapter_detector_schedule_has_no_layer_decay():
    cfg = _config('mask_rcnn/mask-rcnn_vit-adapter-deit-tiny_{}_4xb2-ms-3x_coco')
    lr = cfg.optim_wrapper.optimizer.lr
    assert (lr, cfg.optim_wrapper.optimizer.weight_decay) == (1e-4, 0.05)
    _, groups = _param_groups(cfg)
    assert all(g['lr'] == pytest.approx(lr) for g in groups.values())


def test_plain_vit_detector_schedule_layer_decay():
    _, groups = _param_groups(_config('mask_rcnn/mask-rcnn_mpvg-vit-deit-tiny-sfp_{}_4xb2-ms-3x_coco'))
    lr = 1e-4
    # 12 blocks -> 14 depths: lr * 0.9 ** (13 - depth)
    assert groups['backbone.patch_embed.proj.weight']['lr'] == pytest.approx(lr * 0.9**13)
    assert groups['backbone.pos_embed']['lr'] == pytest.approx(lr * 0.9**13)
    assert groups['backbone.blocks.0.mlp.fc1.weight']['lr'] == pytest.approx(lr * 0.9**12)
    assert groups['backbone.pe.layer_norms.11.weight']['lr'] == pytest.approx(lr * 0.9)
    for name in ('neck.output_convs.0.0.weight', 'rpn_head.rpn_conv.weight'):
        assert groups[name]['lr'] == pytest.approx(lr), name
    # final_norm='none' (ViTDet's structure, the final_norm study's default): the pyramid
    # reads the last block's raw output, so neither the Last LN nor LN'' is built
    assert not any(n.startswith(('backbone.norm.', 'backbone.pe.last_norm.')) for n in groups)


def test_demo_dense_configs_match_the_classifier_and_the_generator():
    from mpvg_mm.demo import CLASSES_FILE, SHAPES
    cls = _config('demo/mpvg-vit-demo_{}_1xb64_demo-cls')
    for name in ('demo/upernet_mpvg-vit-demo_mpvg_1xb8_demo-ade',
                 'demo/mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco'):
        dense = _config(name)
        assert dense.model.backbone.arch == cls.model.backbone.arch, name
        assert dense.model.backbone.pe_mode == cls.model.backbone.pe_mode, name
    seg = _config('demo/upernet_mpvg-vit-demo_mpvg_1xb8_demo-ade')
    assert 'init_cfg' not in seg.model.backbone  # builds without the classifier's file
    for split in ('train', 'val', 'test'):
        meta = seg[f'{split}_dataloader'].dataset.metainfo
        assert meta.classes == CLASSES_FILE['ade20k']  # the names the generator wrote
    assert seg.model.decode_head.num_classes == len(SHAPES)


def test_metafiles_point_at_configs_and_model_index_lists_them():
    import yaml
    metafiles = sorted(glob.glob(f'{ROOT}/configs/*/metafile.yml'))
    assert metafiles
    with open(f'{ROOT}/model-index.yml') as f:
        imported = set(yaml.safe_load(f)['Import'])
    for metafile in metafiles:
        assert osp.relpath(metafile, ROOT) in imported, metafile
        with open(metafile) as f:
            meta = yaml.safe_load(f)
        for model in meta['Models']:
            assert osp.isfile(f'{ROOT}/{model["Config"]}'), model['Name']
            assert model['Results'], model['Name']


# the configs that set default_hooks themselves, and one real config per toolbox
RUNTIME_CHECKED = [p for p in CONFIGS if '/demo/' in p or any(
    f'{f.format("mpvg")}.py' in p for f in list(FAMILIES)[3:8:2])]


@pytest.mark.parametrize('path', RUNTIME_CHECKED, ids=_ids(RUNTIME_CHECKED))
def test_runtime_keeps_checkpoints_and_stops_on_non_finite_loss(path):
    """The runtimes' checkpoints survive kills (DurableCheckpointHook) and training stops at
    the first non-finite loss (NonFiniteLossHook), in each toolbox's scope."""
    from mpvg_mm.engine.checkpoint_hook import DurableCheckpointHook
    from mpvg_mm.engine.loss_check import NonFiniteLossHook
    cfg = Config.fromfile(path)
    DefaultScope._instance_dict.clear()
    init_default_scope(cfg.default_scope)
    hooks = __import__(f'{cfg.default_scope}.registry', fromlist=['HOOKS']).HOOKS
    assert type(hooks.build(cfg.default_hooks.checkpoint)) is DurableCheckpointHook
    assert type(hooks.build(cfg.default_hooks.check_loss)) is NonFiniteLossHook
    if cfg.default_scope in ('mmdet', 'mmseg'):
        from mpvg_mm.engine.data_check import DataCheckHook
        assert type(hooks.build(cfg.default_hooks.data_check)) is DataCheckHook
