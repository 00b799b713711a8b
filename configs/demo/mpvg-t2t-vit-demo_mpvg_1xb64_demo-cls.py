# CPU demo: a small MPVGT2TViT (the Performer T2T tokenizer, the fixed sinusoid PE, 4
# blocks of width 64) with MPVG on the generated position-dependent classification set
# (32x32 images: soft splits 32 -> 8 -> 4 -> 2x2 tokens), the demo ViT's classifier
# (head, loss), data, 30-epoch schedule and runtime, the backbone replaced.
_base_ = ['./mpvg-vit-demo_mpvg_1xb64_demo-cls.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='MPVGT2TViT',
        arch=dict(embed_dims=64, num_layers=4, num_heads=2, token_dims=16, img_size=32),
        pe_mode='mpvg',
        drop_path_rate=0.1),
    head=dict(in_channels=64))
