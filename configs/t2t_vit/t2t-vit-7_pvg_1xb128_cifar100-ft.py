# pvg: fine-tuned on CIFAR-100 from the pvg ImageNet-1K checkpoint (the paper's Table 2).
_base_ = ['./t2t-vit-7_mpvg_1xb128_cifar100-ft.py']
model = dict(
    backbone=dict(
        pe_mode='pvg',
        frozen_params=['norm.'],
        init_cfg=dict(checkpoint='work_dirs/t2t-vit-7_pvg_8xb64_in1k/epoch_310.pth')))
