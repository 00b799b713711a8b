# mmdet's runtime (default_scope='mmdet'); importing mpvg_mm registers MPVGViT,
# MPVGViTAdapter, SimpleFeaturePyramid and LayerDecayOptimWrapperConstructor in mmdet's
# registries, so mmdet's own tools/train.py runs these configs as they are. Ours: the
# last 3 checkpoints are kept, written so that a kill at any moment loses none
# (DurableCheckpointHook); training stops at the first non-finite loss (NonFiniteLossHook).
# DetVisualizationHook draws only when asked (--show-dir).
_base_ = ['mmdet::_base_/default_runtime.py']
custom_imports = dict(imports=['mpvg_mm'], allow_failed_imports=False)
default_hooks = dict(checkpoint=dict(type='DurableCheckpointHook', max_keep_ckpts=3),
                     check_loss=dict(type='NonFiniteLossHook'),
                     data_check=dict(type='DataCheckHook'))
