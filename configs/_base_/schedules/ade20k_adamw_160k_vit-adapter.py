# The ViT-Adapter-Ti UperNet 160k schedule (ade20k_adamw_160k.py: AdamW lr 12e-5, wd 0.01,
# batch 8, 1500 warm-up iterations from 1e-6 x lr, poly to 0, layer-wise decay 0.95) with
# the official recipe's weight-decay rule (czczup/ViT-Adapter segmentation/configs/ade20k/
# upernet_deit_adapter_tiny_512_160k_ade20k.py with BEiT's LayerDecayOptimizerConstructor,
# segmentation/mmcv_custom/layer_decay_optimizer_constructor.py): no decay on 1-D
# parameters and biases, decay on every other one. That constructor also lists
# `pos_embed` and `cls_token`, but compares them with the full name
# (`backbone.pos_embed`), so they never match: the official runs decay `pos_embed` and
# `level_embed`, and so do these configs (the paper states no exemption for them). The
# PE's LN'_l and LN'' are 1-D, so not decayed (as in the paper's DeiT training).
_base_ = ['./ade20k_adamw_160k.py']
optim_wrapper = dict(
    paramwise_cfg=dict(_delete_=True, layer_decay_rate=0.95, flat_decay_mult=0.0))
