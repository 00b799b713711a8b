# Mask R-CNN + FPN on MPVGSwin-T (mmdet's mask-rcnn_r50_fpn.py with the backbone of
# mmdet's Swin-T configs): the four stages' outputs (strides 4-32), each through its own
# norm (the last one plus LN''(P) for MPVG), windows padded on small maps, drop path 0.2,
# initialised from the Swin-T ImageNet classifier of the same PE structure
# (configs/swin/swin-tiny_<preset>_16xb64_in1k.py). Leaves set backbone.pe_mode and
# backbone.init_cfg.checkpoint.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='MPVGSwin',
        arch='tiny',
        pe_mode='mpvg',
        img_size=224,  # pos_0's grid; any input size runs (pos_0 resampled, padded)
        out_indices=(0, 1, 2, 3),
        pad_small_map=True,
        drop_path_rate=0.2,
        init_cfg=dict(type='MPVGPretrained',
                      checkpoint='work_dirs/swin-tiny_mpvg_16xb64_in1k/epoch_300.pth',
                      prefix='backbone.',
                      use_ema=False)),  # the trained weights (no EMA in Swin's recipe)
    neck=dict(in_channels=[96, 192, 384, 768]))
