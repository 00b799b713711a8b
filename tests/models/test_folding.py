"""MPVG folding: identical logits, and the folded model is the PVG structure."""
import subprocess
import sys

import pytest
import torch
from mmpretrain.registry import MODELS

from mpvg_mm.models.folding import fold_last_ln_pe

ROOT = __file__.rsplit('/tests/', 1)[0]


def _classifier(**backbone):
    arch = dict(embed_dims=64, num_layers=4, num_heads=2, mlp_ratio=2.0, patch_size=8,
                img_size=32)
    return MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='MPVGViT', arch=arch, **backbone),
        head=dict(type='LinearClsHead', num_classes=5, in_channels=64)))


@pytest.mark.parametrize('pe_cfg', [None, dict(last_ln_pos=2, hierarchical=False)])
def test_folded_logits_equal_and_cost_is_pvg(pe_cfg):
    torch.manual_seed(0)
    mpvg = _classifier(pe_mode='mpvg', pe_cfg=pe_cfg).eval()
    with torch.no_grad():
        for n, p in mpvg.named_parameters():
            p.add_(0.2 * torch.randn_like(p))
    state, update = fold_last_ln_pe(mpvg)
    folded = _classifier(pe_mode='mpvg', **update).eval()
    folded.load_state_dict(state, strict=True)
    img = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        want, got = mpvg(img, mode='tensor'), folded(img, mode='tensor')
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(state['head.fc.bias'], mpvg.head.fc.bias)
    pvg = _classifier(pe_mode='pvg', pe_cfg={k: v for k, v in (pe_cfg or {}).items()
                                             if k != 'last_ln_pos'})
    assert folded.backbone.pe.last_norm is None
    assert folded.backbone.pe.structure == pvg.backbone.pe.structure
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(folded) == count(pvg) == count(mpvg) - 2 * 64


def test_folding_refuses_what_it_cannot_fold():
    with pytest.raises(ValueError, match='PE in the Last LN'):
        fold_last_ln_pe(_classifier(pe_mode='pvg'))
    # a backbone without the folding interface (mmpretrain's ViT: no pooled_last_ln_pe)
    vit = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='mmpretrain.VisionTransformer', arch=dict(
            embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64),
            img_size=32, patch_size=8),
        head=dict(type='LinearClsHead', num_classes=5, in_channels=32)))
    with pytest.raises(ValueError, match='folding interface'):
        fold_last_ln_pe(vit)
    # the backbone's pooled_last_ln_pe refuses an output that is not GAP'd
    with pytest.raises(ValueError, match='out_type=avg_featmap'):
        fold_last_ln_pe(_classifier(pe_mode='mpvg', out_type='featmap'))


def test_fold_tool(tmp_path):
    cfg = f'{ROOT}/configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'
    from mmengine.config import Config
    model = MODELS.build(Config.fromfile(cfg).model).eval()
    src, dst = tmp_path / 'm.pth', tmp_path / 'folded.pth'
    torch.save({'state_dict': model.state_dict()}, src)
    out = subprocess.run([sys.executable, f'{ROOT}/tools/model_converters/fold_mpvg.py', cfg,
                          str(src), str(dst)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'last_ln_pos': None" in out.stdout
    saved = torch.load(dst, weights_only=True)
    assert not any('last_norm' in k for k in saved['state_dict'])
    # the fold size is recorded (the demo ViT: img_size 32), and tools/test.py's check
    # passes at the demo's 32px CenterCrop and warns at another size
    from mpvg_mm.models.folding import fold_size_mismatch
    assert saved['meta']['folded_img_size'] == [32, 32]
    test_cfg = Config.fromfile(cfg)
    assert fold_size_mismatch(saved['meta'], test_cfg) is None
    test_cfg.test_dataloader.dataset.pipeline[-2].crop_size = 48
    assert [t.type for t in test_cfg.test_dataloader.dataset.pipeline[-2:]] == \
        ['CenterCrop', 'PackInputs']
    assert 'folded for 32x32 inputs' in fold_size_mismatch(saved['meta'], test_cfg)
    assert 'gives 48x48' in fold_size_mismatch(saved['meta'], test_cfg)


@pytest.mark.parametrize('out_type', ['featmap', 'avg_featmap'])
def test_swin_folded_logits_equal(out_type):
    """Swin: LN''(P) after the last stage's norm is a constant after GAP too."""
    torch.manual_seed(0)

    def swin(**kw):
        return MODELS.build(dict(
            type='ImageClassifier',
            backbone=dict(type='MPVGSwin', arch=dict(embed_dims=16, depths=[2, 2, 2, 2],
                                                     num_heads=[2, 2, 4, 4]),
                          img_size=32, patch_size=2, window_size=2, out_type=out_type, **kw),
            neck=dict(type='GlobalAveragePooling') if out_type == 'featmap' else None,
            head=dict(type='LinearClsHead', num_classes=5, in_channels=128)))

    mpvg = swin(pe_mode='mpvg').eval()
    with torch.no_grad():
        for p in mpvg.parameters():
            p.add_(0.2 * torch.randn_like(p))
    state, update = fold_last_ln_pe(mpvg)
    folded = swin(pe_mode='mpvg', **update).eval()
    folded.load_state_dict(state, strict=True)
    assert folded.backbone.pe.last_norm is None
    from mpvg_mm.models.folding import fold_img_size
    assert fold_img_size(mpvg.backbone) == (32, 32)  # 16x16 grid of 2px patches
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(folded(img, mode='tensor'), mpvg(img, mode='tensor'),
                                   rtol=1e-5, atol=1e-5)


def test_ceit_folded_logits_equal_and_cost_is_pvg():
    """CeiT: c = mean_i LN''(pos_0)_i after the Last LN of the LCA token goes into the head
    bias; the folded model is CeiT's PVG (same parameters, same logits)."""
    torch.manual_seed(0)
    arch = dict(embed_dims=16, num_layers=3, num_heads=2, mlp_ratio=2.0, stem_channels=8,
                patch_size=2, img_size=32)

    def ceit(**kw):
        return MODELS.build(dict(
            type='ImageClassifier', backbone=dict(type='MPVGCeiT', arch=arch, **kw),
            head=dict(type='LinearClsHead', num_classes=5, in_channels=16))).eval()

    mpvg = ceit(pe_mode='mpvg')
    with torch.no_grad():
        for p in mpvg.parameters():
            p.add_(0.2 * torch.randn_like(p))
    state, update = fold_last_ln_pe(mpvg)
    folded = ceit(pe_mode='mpvg', **update)
    folded.load_state_dict(state, strict=True)
    pvg = ceit(pe_mode='pvg')
    assert folded.backbone.pe.last_norm is None
    assert folded.backbone.pe.structure == pvg.backbone.pe.structure
    assert sum(p.numel() for p in folded.parameters()) == \
        sum(p.numel() for p in pvg.parameters())
    from mpvg_mm.models.folding import fold_img_size
    assert fold_img_size(mpvg.backbone) == (32, 32)
    img = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        want = mpvg(img, mode='tensor')
        torch.testing.assert_close(folded(img, mode='tensor'), want, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(state['head.fc.bias'], mpvg.head.fc.bias)


def test_t2t_vit_folded_logits_equal():
    """T2T-ViT: LN''(pos_0) of the fixed sinusoid after the Last LN, a constant after GAP;
    the fold holds at the backbone's img_size (40: a 3x3 token grid)."""
    from mpvg_mm.models.folding import fold_img_size
    torch.manual_seed(0)

    def t2t(**kw):
        return MODELS.build(dict(
            type='ImageClassifier',
            backbone=dict(type='MPVGT2TViT', arch=dict(embed_dims=16, num_layers=3, num_heads=2,
                                                       token_dims=8, img_size=40), **kw),
            head=dict(type='LinearClsHead', num_classes=5, in_channels=16)))

    mpvg = t2t(pe_mode='mpvg').eval()
    with torch.no_grad():
        for p in mpvg.parameters():
            if p.requires_grad:
                p.add_(0.2 * torch.randn_like(p))
    state, update = fold_last_ln_pe(mpvg)
    folded = t2t(pe_mode='mpvg', **update).eval()
    folded.load_state_dict(state, strict=True)
    assert folded.backbone.pe.last_norm is None
    assert fold_img_size(mpvg.backbone) == (40, 40)
    img = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(folded(img, mode='tensor'), mpvg(img, mode='tensor'),
                                   rtol=1e-5, atol=1e-5)
