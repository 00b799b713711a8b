# CPU demo of the ViT-Adapter detector structure of configs/mask_rcnn/mask-rcnn_vit-
# adapter-deit-tiny_*.py, in the official adapter's form: a tiny MPVGViTAdapter (4 blocks
# of 64 channels, 16x16 patches, one block per interaction) + mmdet's FPN under the demo
# detector's heads, data and schedule (mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco.py).
# The switches give czczup/ViT-Adapter's detection/ ViTAdapter: no final norm on the ViT
# tokens (vit_output_norm=False), windows zero-padded after the qkv projection,
# layer scale, the final tokens at every level (vit_feature='last').
#
# This is the config of the Last-LN PE port study (tools/analysis_tools/switch_study.py
# --switch last_ln_pe_port, README "ViT-Adapter: where the Last-LN PE goes"): with no Last
# LN in this form, model.backbone.last_ln_pe_port chooses where MPVG's LN''(pos_0) is
# added to the raw ViT tokens.
#
# The demo classifier has 8x8 patches and the adapter needs 16x16 ones, so the backbone
# trains from scratch (init_cfg=None): on the 128x128 scenes, an 8x8 patch grid whose
# pos_0 is learnt here.
#
#   python tools/make_demo_data.py data/demo --formats coco
#   python tools/train.py configs/demo/mask-rcnn_vit-adapter-demo_mpvg_1xb8_demo-coco.py
_base_ = ['./mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco.py']
channels = {{_base_.channels}}
embed_dims = 64
model = dict(
    backbone=dict(
        _delete_=True,  # the demo's plain MPVGViT
        type='MPVGViTAdapter',
        arch=dict(embed_dims=embed_dims, num_layers=4, num_heads=2, mlp_ratio=2.0,
                  patch_size=16, img_size=128),
        pe_mode='mpvg',
        interaction_indexes=[[0, 0], [1, 1], [2, 2], [3, 3]],
        spatial_prior_channels=16,
        deform_num_heads=4,
        norm_cfg=dict(type='BN'),
        # the official ViT-Adapter structure (see MPVGViTAdapter)
        vit_output_norm=False,
        window_padding='qkv',
        layer_scale=True,
        vit_feature='last',
        last_ln_pe_port='stride16',  # decided by the study (README)
        init_cfg=None),
    neck=dict(
        _delete_=True,  # the demo's MultiLevelNeck
        type='FPN',
        in_channels=[embed_dims] * 4,
        out_channels=channels,
        num_outs=4))
