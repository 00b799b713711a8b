# T2T-ViT-7 with MPVG fine-tuned on CIFAR-100 from its own ImageNet-1K checkpoint (the
# paper's Table 2; the reference's transfer_learning.py): SGD 0.05 for the head, 0.01x
# for the tokenizer and blocks, wd 5e-4, batch 128, 60 epochs, cosine to 2e-4, images
# resized to 224 (random crop with padding 28, flip), plain cross-entropy, drop path 0.1.
# It starts from the checkpoint's EMA weights, as the reference (use_ema=True).
# Frozen (not in the reference's optimizer): the Last LN and, by the same rule, LN''
# (and the class token, in the presets that have one); pos_embed is the fixed sinusoid.
_base_ = [
    '../_base_/models/mpvg-t2t-vit.py', '../_base_/datasets/cifar100_bs128_224.py',
    '../_base_/schedules/cifar100_bs128_sgd_t2t-ft_60e.py', '../_base_/default_runtime_cls.py'
]
model = dict(
    backbone=dict(
        pe_mode='mpvg',
        frozen_params=['norm.', 'pe.last_norm.'],
        init_cfg=dict(type='MPVGPretrained', prefix='backbone.', use_ema=True,
                      checkpoint='work_dirs/t2t-vit-7_mpvg_8xb64_in1k/epoch_310.pth')),
    head=dict(
        num_classes=100,
        loss=dict(_delete_=True, type='CrossEntropyLoss', loss_weight=1.0)),
    train_cfg=dict(_delete_=True))
