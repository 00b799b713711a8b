# UperNet on the demo Swin classifier's MPVGSwin (configs/_base_/models/mpvg-swin_demo.py:
# same arch, same parameter names), fine-tuned on the generated ADE20K-layout scenes on
# CPU: the four stages (strides 2/4/8/16 with 2x2 patches), each through its norm, feed
# a small UPerHead. Starts from random weights; to fine-tune the demo Swin classifier:
#   python tools/train.py configs/demo/upernet_mpvg-swin-demo_mpvg_1xb8_demo-ade.py \
#       --cfg-options model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.checkpoint=work_dirs/demo_cls_swin/epoch_30.pth \
#       model.backbone.init_cfg.prefix=backbone.
_base_ = [
    '../_base_/models/upernet_mpvg-swin-t.py', '../_base_/datasets/demo_ade.py',
    '../_base_/schedules/ade20k_adamw_swin_160k.py', '../_base_/default_runtime_seg.py'
]
norm_cfg = dict(type='BN', requires_grad=True)  # one CPU process
data_preprocessor = dict(size=(128, 128))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        # the demo classifier's arch (mpvg-swin_demo.py) in place of the base's 'tiny'
        arch=dict(_delete_=True, embed_dims=32, depths=[2, 2, 2, 2], num_heads=[2, 2, 4, 8]),
        img_size=32,
        patch_size=2,
        window_size=4,
        drop_path_rate=0.1),
    decode_head=dict(in_channels=[32, 64, 128, 256], channels=64, num_classes=4,
                     norm_cfg=norm_cfg, loss_decode=dict(avg_non_ignore=True)),
    auxiliary_head=dict(in_channels=128, channels=32, num_classes=4, norm_cfg=norm_cfg,
                        loss_decode=dict(avg_non_ignore=True)),
)
# mmseg's Swin schedule shortened: lr 1e-3, 50 warm-up iterations, poly decay to 0 at 500
max_iters = 500
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=50, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
