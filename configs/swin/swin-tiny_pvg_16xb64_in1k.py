# PVG: the input PE plus the layer-wise PE on every block (block 0 included, the
# paper's Swin exception).
_base_ = ['./swin-tiny_mpvg_16xb64_in1k.py']
model = dict(backbone=dict(pe_mode='pvg'))
