# UperNet on MPVGSwin-T (mmseg's upernet_swin.py with our backbone): the four stages'
# outputs, each through its own norm (the last one plus LN''(P) for MPVG), windows padded
# on small maps, drop path 0.3 (mmseg's Swin-T). The ADE20K configs initialise it from
# the Swin-T ImageNet classifier of the same PE structure (backbone.init_cfg).
_base_ = ['mmseg::_base_/models/upernet_swin.py']
data_preprocessor = dict(size=(512, 512))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        _delete_=True,
        type='MPVGSwin',
        arch='tiny',
        pe_mode='mpvg',
        img_size=224,
        out_indices=(0, 1, 2, 3),
        pad_small_map=True,
        drop_path_rate=0.3),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))
