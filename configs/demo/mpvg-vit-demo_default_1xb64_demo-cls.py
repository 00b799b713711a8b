# Default (DeiT): pos_0 added to the patch tokens at the input only; class token.
_base_ = ['./mpvg-vit-demo_mpvg_1xb64_demo-cls.py']
model = dict(backbone=dict(pe_mode='default'))
