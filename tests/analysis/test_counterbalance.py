"""Counterbalancing diagnostics: Pearson's sign convention, every structure, wrappers
(mmdet/mmseg-like models, ViT-Adapter) and the CLI on a saved checkpoint."""
import json
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn

from mpvg_mm import demo
from mpvg_mm.analysis.counterbalance import (analyze_model, collect_layer_stats,
                                             find_backbone, pearson, summarize)
from mpvg_mm.models import MPVGViT
from mpvg_mm.registry import build_model

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STRUCTURES = {
    'default': dict(pe_mode='default'),
    'lape': dict(pe_mode='lape'),
    'pvg': dict(pe_mode='pvg'),
    'mpvg': dict(pe_mode='mpvg'),
    'default-gap-lastlnpe': dict(pe_mode='default', with_cls_token=False,
                                 pe_cfg=dict(last_ln_pos=0)),
}
EXPECTED_SOURCES = {
    'default': ['input'] * 4,
    'lape': ['layerwise'] * 4,
    'pvg': ['input'] + ['layerwise'] * 3,
    'mpvg': ['input'] + ['layerwise'] * 3,
    'default-gap-lastlnpe': ['input'] * 4,
}


pytestmark = pytest.mark.usefixtures('single_thread')


def _finite_numbers(obj):
    """Every number in a nested JSON-like object (None allowed, NaN/inf not)."""
    if isinstance(obj, dict):
        return all(_finite_numbers(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_finite_numbers(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


def _corrcoef(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson's r by numpy, independently of :func:`pearson`."""
    return float(np.corrcoef(a.double().numpy().ravel(), b.double().numpy().ravel())[0, 1])


# --------------------------------------------------------------------------- pearson
def test_pearson_sign_convention():
    x = torch.randn(7, 5, generator=torch.Generator().manual_seed(0))
    assert pearson(x, -x) == pytest.approx(-1.0, abs=1e-12)
    assert pearson(x, 2 * x + 1) == pytest.approx(1.0, abs=1e-12)
    assert pearson(x, -3 * x + 0.5) == pytest.approx(-1.0, abs=1e-12)
    assert pearson(x, x.reshape(-1)) == pytest.approx(1.0)  # flattened
    a = torch.tensor([1.0, -1.0, 1.0, -1.0])
    b = torch.tensor([1.0, 1.0, -1.0, -1.0])
    assert pearson(a, b) == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(pearson(torch.ones(4), b))
    with pytest.raises(ValueError, match='equal size'):
        pearson(torch.ones(3), torch.ones(4))


@pytest.mark.parametrize('gamma, expected', [(-1.0, -1.0), (1.0, 1.0), (-2.5, -1.0)])
def test_sign_on_a_constructed_backbone(tiny_arch, gamma, expected):
    """With a zero patch embedding, x_0 = pos_0 (input PE on), so LN1_0(x_0) =
    gamma * LN(pos_0) and block 0's layer-wise PE is LN'_0(pos_0) = LN(pos_0) (identity
    affine, same eps): r = sign(gamma)."""
    bb = MPVGViT(arch=tiny_arch, pe_mode='pvg', pe_cfg=dict(layerwise_from=0))
    with torch.no_grad():
        bb.patch_embed.proj.weight.zero_()
        bb.patch_embed.proj.bias.zero_()
        bb.blocks[0].norm1.weight.fill_(gamma)
    stats = collect_layer_stats(bb, torch.randn(3, 3, 32, 32))
    summary = summarize(stats, bb)
    assert summary['pe_source'][0] == 'layerwise'
    assert summary['correlation'][0] == pytest.approx(expected, abs=1e-5)
    # LN1_0(x_0) is the same for every image: the batch mean is that map exactly
    expected_tokens = gamma * torch.nn.functional.layer_norm(bb.pos_embed[0], (64, ), eps=1e-6)
    torch.testing.assert_close(stats['token_mean'][0], expected_tokens.detach(), atol=1e-5,
                               rtol=1e-5)


# --------------------------------------------------------------------------- structures
@pytest.mark.parametrize('name', list(STRUCTURES))
def test_every_structure_gives_finite_numbers(tiny_arch, name):
    bb = MPVGViT(arch=tiny_arch, **STRUCTURES[name])
    images = torch.randn(5, 3, 32, 32)
    stats = collect_layer_stats(bb, images, batch_size=2)  # 3 batches: 2 + 2 + 1
    T = 16 + int(bb.with_cls_token)
    assert stats['num_images'] == 5
    assert stats['token_mean'].shape == (4, T, 64)
    assert stats['norm_before'].shape == stats['norm_after'].shape == (T, )
    assert stats['cosine'].shape == (5, )
    has_last = bb.pe.last_norm is not None
    assert (stats['last_pe'] is not None) == has_last == (stats['cosine_pe'] is not None)
    summary = summarize(stats, bb)
    assert summary['pe_source'] == EXPECTED_SOURCES[name]
    # r against the PE the block receives: pos_l where it has one, else pos_0
    for l, source in enumerate(EXPECTED_SOURCES[name]):
        assert (stats['pos'][l] is not None) == (source == 'layerwise'), l
        ref = stats['pos'][l] if source == 'layerwise' else stats['pos_0']
        token_mean = stats['token_mean'][l]
        assert summary['correlation'][l] == pytest.approx(_corrcoef(token_mean, ref),
                                                          abs=1e-9), l
        assert summary['correlation_vs_pos0'][l] == pytest.approx(
            _corrcoef(token_mean, stats['pos_0']), abs=1e-9), l
    assert len(summary['last_ln']['beta']) == 64
    assert (summary['token_norms']['after_last_ln_with_pe'] is not None) == has_last
    json.dumps(summary, allow_nan=False)
    assert _finite_numbers(summary)
    # the batch mean does not depend on the chunking
    whole = collect_layer_stats(bb, images)
    torch.testing.assert_close(whole['token_mean'], stats['token_mean'], atol=1e-5, rtol=1e-5)
    assert bb.training  # the train/eval state is restored


def test_matches_a_manual_forward(tiny_arch):
    """The hooks record exactly LN1_l(x_l) of the backbone's own forward pass."""
    bb = MPVGViT(arch=tiny_arch, pe_mode='mpvg').eval()
    images = torch.randn(2, 3, 32, 32)
    stats = collect_layer_stats(bb, images)
    with torch.no_grad():
        tokens, _, plan = bb.prepare_tokens(images)
        for i in range(bb.num_layers):
            torch.testing.assert_close(stats['token_mean'][i], bb.blocks[i].norm1(tokens).mean(0))
            tokens = bb.forward_block(i, tokens, plan)
        out = bb.norm(tokens)
    torch.testing.assert_close(stats['last_out_mean'], out.mean(0))
    torch.testing.assert_close(stats['pos'][1], plan.blocks[1][0])
    torch.testing.assert_close(stats['last_pe'], plan.last[0])


def test_last_ln_statistics_of_known_parameters(tiny_arch):
    """gamma_k = 1 + k/16, beta_k = k/8 (k = 0..63): population variances
    (64^2 - 1) / 12 / 16^2 and / 8^2, means 1 + 63/32 and 63/16."""
    bb = MPVGViT(arch=tiny_arch, pe_mode='pvg')
    k = torch.arange(64, dtype=torch.float32)
    with torch.no_grad():
        bb.norm.weight.copy_(1 + k / 16)
        bb.norm.bias.copy_(k / 8)
    ln = summarize(collect_layer_stats(bb, torch.randn(2, 3, 32, 32)), bb)['last_ln']
    assert ln['gamma_var'] == pytest.approx(4095 / 12 / 256, rel=1e-12)
    assert ln['beta_var'] == pytest.approx(4095 / 12 / 64, rel=1e-12)
    assert ln['gamma_mean'] == pytest.approx(1 + 63 / 32, rel=1e-12)
    assert ln['beta_mean'] == pytest.approx(63 / 16, rel=1e-12)
    assert ln['beta'] == [v / 8 for v in range(64)]


def test_no_pe_anywhere_in_a_block_gives_none(tiny_arch):
    """Input PE off and layer-wise PE from block 1: block 0 sees no PE (r undefined)."""
    bb = MPVGViT(arch=tiny_arch, pe_mode='pvg', pe_cfg=dict(input_pe=False))
    summary = summarize(collect_layer_stats(bb, torch.randn(2, 3, 32, 32)), bb)
    assert summary['pe_source'][0] == 'none' and summary['correlation'][0] is None
    assert summary['correlation_vs_pos0'][0] is not None


# --------------------------------------------------------------------------- wrappers
class DetectorLike(nn.Module):
    """What the tool needs of an mmdet/mmseg model: ``.backbone`` and
    ``.data_preprocessor``."""

    def __init__(self, backbone):
        super().__init__()
        from mmengine.model import ImgDataPreprocessor
        self.backbone = backbone
        self.data_preprocessor = ImgDataPreprocessor(mean=[120.0] * 3, std=[60.0] * 3)


def test_detector_like_model(tiny_arch):
    model = DetectorLike(MPVGViT(arch=tiny_arch, pe_mode='mpvg', out_type='featmap'))
    batches = [dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)
                            for _ in range(3)]) for _ in range(3)]
    stats = analyze_model(model, batches, num_images=7)
    assert stats['num_images'] == 7 and stats['image_size'] == (32, 32)
    # a batch of another size (another token grid) is skipped, not averaged in
    other = dict(inputs=[torch.randint(0, 255, (3, 48, 48), dtype=torch.uint8)])
    stats = analyze_model(model, [batches[0], other, batches[1]], num_images=10)
    assert stats['num_images'] == 6 and stats['token_mean'].shape[1] == 16
    assert _finite_numbers(summarize(stats, model.backbone))


def test_mmseg_encoder_decoder():
    import mmseg.models  # noqa: F401  (registers EncoderDecoder, SegDataPreProcessor)
    from mmseg.registry import MODELS
    arch = dict(embed_dims=32, num_layers=2, num_heads=2, mlp_ratio=2.0, patch_size=8,
                img_size=32)
    model = MODELS.build(dict(
        type='EncoderDecoder', _scope_='mmseg',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[120.0] * 3,
                               std=[60.0] * 3, size=(32, 32)),
        backbone=dict(type='MPVGViT', arch=arch, pe_mode='lape', out_type='featmap'),
        decode_head=dict(type='FCNHead', in_channels=32, channels=8, num_convs=1,
                         num_classes=3, concat_input=False)))
    batches = [dict(inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)
                            for _ in range(2)])]
    summary = summarize(analyze_model(model, batches), model.backbone)
    assert summary['pe_source'] == ['layerwise', 'layerwise']
    assert summary['num_tokens'] == 17  # LaPE keeps its class token here
    assert _finite_numbers(summary)


def test_vit_adapter_backbone():
    """The adapter's injectors change the tokens between blocks; the hooks see its own
    forward (and the Last LN it calls twice counts once)."""
    from mpvg_mm.models import MPVGViTAdapter
    arch = dict(embed_dims=64, num_layers=4, num_heads=2, mlp_ratio=2.0, patch_size=16,
                img_size=64)
    bb = MPVGViTAdapter(arch=arch, pe_mode='mpvg', interaction_indexes=[[0, 1], [2, 3]],
                        spatial_prior_channels=16, deform_num_heads=4,
                        norm_cfg=dict(type='BN'))
    stats = collect_layer_stats(bb, torch.randn(2, 3, 64, 64))
    assert stats['token_mean'].shape == (4, 16, 64)
    assert stats['cosine'].shape == (2, )
    assert _finite_numbers(summarize(stats, bb))


# --------------------------------------------------------------------------- CLI
@pytest.fixture(scope='module')
def demo_imagenet(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo') / 'imagenet')
    demo.write_imagenet(root, seed=0, num_train=1, num_val=2)  # 16 val images
    return root


@pytest.mark.parametrize('preset', ['default', 'mpvg'])
def test_cli_writes_every_output(demo_imagenet, tmp_path, preset, analysis_tool):
    from mmengine.config import Config
    config = f'{ROOT}/configs/demo/mpvg-vit-demo_{preset}_1xb64_demo-cls.py'
    options = [f'val_dataloader.dataset.data_root={demo_imagenet}',
               'val_dataloader.batch_size=6']
    cfg = Config.fromfile(config)
    model = build_model(cfg)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    out = tmp_path / 'diag'
    summary = analysis_tool('pe_counterbalance').main([
        config, ckpt, '--out-dir', str(out), '--num-images', '10', '--cfg-options', *options])
    for name in ('correlation.png', 'correlation.csv', 'heatmaps.png', 'heatmaps.npz',
                 'last_ln.png', 'token_norms_cosine.png', 'diagnostics.json'):
        assert (out / name).stat().st_size > 0, name
    with open(out / 'diagnostics.json') as f:
        written = json.load(f)  # json's parser accepts NaN: check explicitly
    assert _finite_numbers(written)
    assert written['num_images'] == 10 and written['pe_mode'] == preset
    rows = (out / 'correlation.csv').read_text().strip().splitlines()
    assert rows[0] == 'layer,pe_source,correlation,correlation_vs_pos0'
    assert rows[1:] == [f'{l},{src},{c:.6f},{c0:.6f}' for l, (src, c, c0) in enumerate(
        zip(written['pe_source'], written['correlation'], written['correlation_vs_pos0']))]
    assert len(written['correlation']) == 4
    assert written['correlation'] == summary['correlation']
    assert (written['cosine']['with_last_pe'] is not None) == (preset == 'mpvg')


def _ceit():
    from mpvg_mm.models import MPVGCeiT
    arch = dict(embed_dims=16, num_layers=3, num_heads=2, mlp_ratio=2.0, stem_channels=8,
                patch_size=2, img_size=32)
    return MPVGCeiT(arch=arch, pe_mode='mpvg').eval()


def _t2t_vit():
    from mpvg_mm.models import MPVGT2TViT
    bb = MPVGT2TViT(arch=dict(embed_dims=16, num_layers=3, num_heads=2, token_dims=8,
                              img_size=32), pe_mode='mpvg').eval()
    with torch.no_grad():
        for norm in [*bb.pe.layer_norms.values(), bb.pe.last_norm]:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_(0, 0.3)
    return bb


@pytest.mark.parametrize('backbone', ['ceit', 't2t-vit'])
def test_ceit_and_t2t_vit_backbones(backbone):
    """MPVGCeiT and MPVGT2TViT (GAP, fixed sinusoid PE): per-layer LN1 means and the
    chain's PE as for the ViT, replayed block by block. CeiT's Last LN acts on the one LCA
    token (T = 1 there) and MPVG's term is c = mean_i LN''(pos_0)_i; T2T-ViT's Last-LN
    statistics are on its 4 tokens, MPVG's term LN''(pos_0) per token."""
    ceit = backbone == 'ceit'
    bb = _ceit() if ceit else _t2t_vit()
    images = torch.randn(3, 3, 32, 32)
    stats = collect_layer_stats(bb, images, batch_size=2)
    with torch.no_grad():
        tokens, grid = bb.i2t(images) if ceit else bb.tokens_to_token(images)
        plan = bb.pe(bb.resampled_pos_embed(grid))
        tokens = tokens + plan.input
        for i, block in enumerate(bb.blocks):
            torch.testing.assert_close(stats['token_mean'][i], block.norm1(tokens).mean(0))
            tokens = (block(tokens, plan.blocks[i], grid, 0) if ceit else
                      block(tokens, plan.blocks[i]))
        y = bb(images)[0]
    if ceit:
        assert stats['token_mean'].shape == (3, 16, 16)
        assert stats['norm_after'].shape == (1, )
        c = plan.last[0].mean(0)
        torch.testing.assert_close(stats['last_out_mean'][0] + c, y.mean(0))
    else:
        assert grid == (2, 2) and stats['token_mean'].shape == (3, 4, 16)
        torch.testing.assert_close(stats['last_in_mean'], tokens.mean(0))
        torch.testing.assert_close((stats['last_out_mean'] + plan.last[0]).mean(0),
                                   y.mean(0))
    torch.testing.assert_close(stats['last_pe'], plan.last[0])
    summary = summarize(stats, bb)
    assert summary['pe_source'] == ['input', 'layerwise', 'layerwise']
    assert summary['token_norms']['after_last_ln_with_pe'] is not None
    json.dumps(summary, allow_nan=False)
    assert find_backbone(bb) is bb
