# LaPE: no input PE; every block takes LN1(x) + LN'_l(pos_{l-1}), the PE merged
# between stages by the tokens' PatchMerging.
_base_ = ['./swin-tiny_mpvg_16xb64_in1k.py']
model = dict(backbone=dict(pe_mode='lape'))
