# CPU demo: the small MPVGViT (mpvg-vit_demo.py) with MPVG on the generated
# position-dependent classification set, 30 epochs; the other presets are thin configs
# on this one, and the demo detector and segmentor start from its checkpoint.
_base_ = [
    '../_base_/models/mpvg-vit_demo.py', '../_base_/datasets/demo_cls.py',
    '../_base_/schedules/demo_adamw_30e.py', '../_base_/default_runtime_cls.py'
]
model = dict(backbone=dict(pe_mode='mpvg'))
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, max_keep_ckpts=1))
randomness = dict(seed=0)
