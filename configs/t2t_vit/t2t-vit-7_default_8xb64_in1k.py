# Default: the reference T2T-ViT-7 (class token, the fixed 1-D sinusoid PE for 197 rows
# added at the input, class-token output).
_base_ = ['./t2t-vit-7_mpvg_8xb64_in1k.py']
model = dict(backbone=dict(pe_mode='default'))
