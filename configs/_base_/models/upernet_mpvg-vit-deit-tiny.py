# UperNet on a plain DeiT-Ti MPVGViT, as mmseg's UperNet for DeiT/ViT: the outputs of
# blocks 2, 5, 8, 11 (stride 16; the last one after the Last LN, plus LN''(pos_0) for
# MPVG) go through MultiLevelNeck to strides 4/8/16/32, then UPerHead; an FCN auxiliary
# head reads the neck's stride-32 map (in_index=3, as mmseg's upernet_vit). Heads, data
# preprocessor and test mode are the adapter base's. Thin configs set backbone.pe_mode
# and the checkpoint.
_base_ = ['./upernet_vit-adapter-deit-tiny.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='MPVGViT',
        arch='deit-tiny',
        pe_mode='mpvg',
        img_size=512,  # as mmseg's ViT: a checkpoint's 14x14 pos_0 is resampled on load
        out_type='featmap',
        out_indices=(2, 5, 8, 11),
        pad_to_patch=True,  # sides that are not multiples of 16 are zero-padded inside
        drop_path_rate=0.1),
    neck=dict(
        type='MultiLevelNeck',
        in_channels=[192, 192, 192, 192],
        out_channels=192,
        scales=[4, 2, 1, 0.5]),
    auxiliary_head=dict(in_index=3),
)
