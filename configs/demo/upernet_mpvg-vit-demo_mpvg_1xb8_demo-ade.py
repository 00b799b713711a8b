# UperNet on the demo classifier's MPVGViT (configs/_base_/models/mpvg-vit_demo.py: same
# arch, same parameter names), fine-tuned on the generated ADE20K-layout scenes on CPU.
# The ViT's four blocks give stride-8 maps (8x8 patches; pad_to_patch for other sizes);
# MultiLevelNeck turns them into strides 4/8/16/32 for a small UPerHead.
#
# The config starts from random weights; to fine-tune the demo classifier (trained with
# configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py) pass its checkpoint:
#   python tools/train.py configs/demo/upernet_mpvg-vit-demo_mpvg_1xb8_demo-ade.py \
#       --work-dir work_dirs/demo_seg_mpvg --cfg-options \
#       model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.checkpoint=work_dirs/demo_cls_mpvg/epoch_30.pth \
#       model.backbone.init_cfg.prefix=backbone.
# 500 iterations of 8 images: about 2 minutes on 2 idle CPU cores, from the classifier's
# checkpoint; mIoU (4 shapes, background ignored) 98.4 on the 50 val scenes, where
# guessing by class frequency gives about 15. The classes' fill patterns carry most of
# it: on flat-coloured scenes (make_demo_data.py --flat) the same run reaches about 20,
# as a 4-block 8x8-patch ViT learns silhouettes slowly.
_base_ = [
    '../_base_/models/upernet_mpvg-vit.py', '../_base_/datasets/demo_ade.py',
    '../_base_/schedules/ade20k_adamw_160k.py', '../_base_/default_runtime_seg.py'
]
norm_cfg = dict(type='BN', requires_grad=True)  # one CPU process
# At test time images smaller than 32x32 are padded to it (mmseg's SegDataPreProcessor
# test_cfg; the padding is cropped from the prediction): the neck's 0.25 scale of the
# stride-8 maps needs at least 4x4 of them, so any image size runs.
data_preprocessor = dict(size=(128, 128), test_cfg=dict(size=(32, 32)))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        arch=dict(embed_dims=128, num_layers=4, num_heads=4, mlp_ratio=2.0, patch_size=8,
                  img_size=32),
        pe_mode='mpvg',
        out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[128, 128, 128, 128], out_channels=64,
              scales=[2, 1, 0.5, 0.25]),  # stride 8 -> 4, 8, 16, 32
    decode_head=dict(
        in_channels=[64, 64, 64, 64],
        channels=64,
        num_classes=4,
        norm_cfg=norm_cfg,
        loss_decode=dict(avg_non_ignore=True)),
    auxiliary_head=dict(
        in_channels=64,
        in_index=2,
        channels=32,
        num_classes=4,
        norm_cfg=norm_cfg,
        loss_decode=dict(avg_non_ignore=True)),
)
# The paper's ADE20K schedule shortened: AdamW (its no-decay rules), lr 1e-3, 50 warm-up
# iterations, poly decay to 0 at 500; the pretrained ViT gets a layer-wise decayed lr
max_iters = 500
optim_wrapper = dict(optimizer=dict(lr=1e-3), paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=50, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1),
    # --show-dir draws every 4th val image (mmseg's default 50 would draw 1 of the 50)
    visualization=dict(interval=4))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
