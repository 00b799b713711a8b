# The ViT-Adapter-Ti Mask R-CNN 3x+MS schedule (coco_adamw_3x.py: AdamW lr 1e-4, wd 0.05,
# batch 8, 36 epochs, steps 27/33, 500 warm-up iterations from 1e-3 x lr, no layer-wise
# decay, no clipping) with the official recipe's weight-decay rule
# (czczup/ViT-Adapter detection/configs/mask_rcnn/mask_rcnn_deit_adapter_tiny_fpn_3x_coco.py,
# `paramwise_cfg.custom_keys`): no decay on parameters whose names contain `level_embed`,
# `pos_embed`, `norm` or `bias`, decay on all others. On our names this matches the
# official modules one for one: the injector gammas and the spatial prior's BN weights
# (`spatial_prior.*.N.weight`) are decayed, the ViT's, injectors', extractors' and output
# norms are not. The PE's LayerNorms LN'_l (`pe.layer_norms`) and LN'' (`pe.last_norm`)
# are ours: their names contain `norm`, so the rule exempts them, as the paper's DeiT
# training does (1-D parameters are not decayed there; LaPE and timm alike).
_base_ = ['./coco_adamw_3x.py']
optim_wrapper = dict(
    paramwise_cfg=dict(
        _delete_=True,
        layer_decay_rate=1.0,
        custom_keys={
            'level_embed': dict(decay_mult=0.0),
            'pos_embed': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
        }))
