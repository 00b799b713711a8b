# mmpretrain's runtime (default_scope='mmpretrain'); importing mpvg_mm registers MPVGViT
# and LayerDecayOptimWrapperConstructor, so mmpretrain's own tools/train.py runs these
# configs as they are. Ours: the last 3 checkpoints and the best one are kept, written so
# that a kill at any moment loses none (DurableCheckpointHook); training stops at the first
# non-finite loss (NonFiniteLossHook).
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mpvg_mm'], allow_failed_imports=False)
default_hooks = dict(
    checkpoint=dict(type='DurableCheckpointHook', max_keep_ckpts=3, save_best='auto'),
    check_loss=dict(type='NonFiniteLossHook'))
