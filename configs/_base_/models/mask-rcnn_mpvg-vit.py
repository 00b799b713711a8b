# Mask R-CNN on a plain MPVGViT: mmdet's mask-rcnn_r50_fpn.py (data preprocessor, RPN,
# RoI heads, train/test settings) with the ViT in place of ResNet-50, returning feature
# maps of its patch tokens. No class token for any preset (as ViTDet and the adapter): a
# Default/LaPE classifier's class token is ignored on load and its pos_embed row dropped;
# the LN' chain acts per token, so the patch rows of the layer-wise PE are exactly the
# classifier's. Any input size runs (pos_0 resampled, sides padded to the patch).
# Children set backbone.arch and the neck that turns the ViT's one stride into the
# pyramid of the RPN and RoI heads.
_base_ = ['mmdet::_base_/models/mask-rcnn_r50_fpn.py']
model = dict(
    backbone=dict(
        _delete_=True,  # mmdet's ResNet-50
        type='MPVGViT',
        pe_mode='mpvg',
        with_cls_token=False,
        out_type='featmap',
        pad_to_patch=True),
    neck=dict(_delete_=True))  # mmdet's FPN wants 4 strides; the children give the neck
