# UperNet on a plain MPVGViT: mmseg's UperNet for ViT/DeiT (upernet_vit-b16_ln_mln.py:
# the outputs of four blocks go through MultiLevelNeck to strides 4/8/16/32, then
# UPerHead; an FCN auxiliary head reads the neck's last map) with MPVGViT in place of
# mmseg's VisionTransformer, returning feature maps of its patch tokens. No class token
# for any preset (as the adapter and the plain-ViT Mask R-CNN): a Default/LaPE
# classifier's class token is ignored on load and its pos_embed row dropped; the LN'
# chain acts per token, so the patch rows of the layer-wise PE are exactly the
# classifier's. Any input size runs (pos_0 resampled, sides padded to the patch).
# Children set backbone.arch and out_indices, and the channels of the neck and heads.
_base_ = ['mmseg::_base_/models/upernet_vit-b16_ln_mln.py']
model = dict(
    pretrained=None,  # mmseg's ViT-B weights; the backbone's init_cfg loads ours
    backbone=dict(
        _delete_=True,  # mmseg's VisionTransformer
        type='MPVGViT',
        pe_mode='mpvg',
        with_cls_token=False,
        out_type='featmap',
        pad_to_patch=True))
