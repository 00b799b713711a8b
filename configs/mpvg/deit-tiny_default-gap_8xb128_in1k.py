# Fig. 5: Default structure, class token removed, GAP (paper: 72.40)
_base_ = ['./deit-tiny_default_8xb128_in1k.py']
model = dict(backbone=dict(with_cls_token=False))
