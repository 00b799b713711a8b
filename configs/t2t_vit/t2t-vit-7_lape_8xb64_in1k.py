# LaPE: class token kept, no input PE, LN' on all 7 blocks of the fixed 197-row sinusoid
# chain (the class row included).
_base_ = ['./t2t-vit-7_mpvg_8xb64_in1k.py']
model = dict(backbone=dict(pe_mode='lape'))
