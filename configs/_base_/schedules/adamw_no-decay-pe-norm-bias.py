# AdamW (betas 0.9/0.999) and the no-weight-decay rule that every schedule inherits (the
# paper trains as DeiT); schedules set the lr, weight decay and constructor:
# no weight decay on the position embedding pos_0 (backbone.pos_embed; Swin's
# backbone.absolute_pos_embed) and Swin's relative position bias tables, the PE's
# LayerNorms LN'_l and LN'' (backbone.pe.layer_norms.*, backbone.pe.last_norm), the class
# token, ViT-Adapter's level embedding, any norm layer, any bias, and any other 1-D
# parameter (e.g. the adapter's injector gammas).
#
# custom_keys are substrings of the parameter's full name from the model's root, and the
# longest matching key wins (all give 0 here). One spelling serves both constructors the
# schedules use: mmengine's DefaultOptimWrapperConstructor (classifiers) matches them
# against '<module path>.<name>', mmpretrain's LearningRateDecayOptimWrapperConstructor
# (mpvg_mm's LayerDecayOptimWrapperConstructor: detectors, segmentors) against
# '<module path>.' + '<name>'; the two strings differ only for parameters of the root
# module itself ('.name' vs 'name'), and every key here names a path inside the backbone.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0,
        custom_keys={
            'backbone.pos_embed': dict(decay_mult=0.0),
            'backbone.absolute_pos_embed': dict(decay_mult=0.0),
            '.relative_position_bias_table': dict(decay_mult=0.0),
            'backbone.cls_token': dict(decay_mult=0.0),
            'backbone.level_embed': dict(decay_mult=0.0),
            'backbone.pe.': dict(decay_mult=0.0),
        }))
