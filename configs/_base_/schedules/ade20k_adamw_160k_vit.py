# mmseg's recipe for UperNet on a plain DeiT (configs/vit/vit_deit-s16-ln_mln_upernet_
# 8xb2-160k on vit_vit-b16_mln_upernet_8xb2-160k): AdamW lr 6e-5 (betas 0.9/0.999) at a
# total batch of 16 (8 GPUs x 2), wd 0.01, 160k iterations, 1500-iteration linear warm-up
# from 1e-6 x lr, poly decay (power 1) to 0, no layer-wise lr decay.
# Weight decay: mmseg's config means "no weight decay for position embedding & layer norm"
# (keys pos_embed, cls_token, norm), but its VisionTransformer names its LayerNorms
# `ln1`/`ln2`, so the key `norm` misses them and they, and every bias, are decayed there.
# Not in the paper; we keep the stated intent with the paper's DeiT rule
# (adamw_no-decay-pe-norm-bias.py: no decay on the PE, its LNs, norms, biases, 1-D).
_base_ = ['./ade20k_adamw_160k.py']
optim_wrapper = dict(optimizer=dict(lr=6e-5), paramwise_cfg=dict(layer_decay_rate=1.0))
auto_scale_lr = dict(base_batch_size=16)
