# CPU demo: the small MPVGSwin (mpvg-swin_demo.py) with MPVG on the generated
# position-dependent classification set, the demo's 30-epoch schedule; the demo Swin
# segmentor starts from its checkpoint.
_base_ = [
    '../_base_/models/mpvg-swin_demo.py', '../_base_/datasets/demo_cls.py',
    '../_base_/schedules/demo_adamw_30e.py', '../_base_/default_runtime_cls.py'
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, max_keep_ckpts=1))
randomness = dict(seed=0)
