# mmseg's runtime (default_scope='mmseg'); importing mpvg_mm registers MPVGViT,
# MPVGViTAdapter and LayerDecayOptimWrapperConstructor in mmseg's registries, so mmseg's
# own tools/train.py runs these configs as they are. mmseg keeps its iteration-based
# hooks in its schedules (_base_/schedules/schedule_160k.py), whose SGD optimizer ours
# do not share; they stand here, with the last 3 checkpoints kept, written so that a kill
# at any moment loses none (DurableCheckpointHook), and a stop at the first non-finite loss
# (NonFiniteLossHook).
# SegVisualizationHook draws only when asked (--show-dir).
_base_ = ['mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mpvg_mm'], allow_failed_imports=False)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='DurableCheckpointHook', by_epoch=False, interval=16000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
    check_loss=dict(type='NonFiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
