"""Counterbalancing diagnostics on ``MPVGSwin``: every number against a reference written
out here (the blocks driven by hand with mmpretrain's modules, the PE terms from the
equations with the model's LN parameters, Pearson's r by numpy), the CLI on the demo Swin
config and the refusals."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.backbones import SwinTransformer

from mpvg_mm.analysis.counterbalance import collect_layer_stats, find_backbone, summarize
from mpvg_mm.models import MPVGSwin
from mpvg_mm.registry import build_model

pytestmark = pytest.mark.usefixtures('single_thread')
# a small Swin: 8x8 stage-1 grid (16px input, 2px patches), windows of 2, 4 stages of 2
TINY = dict(arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[2, 2, 4, 4]),
            img_size=16, patch_size=2, window_size=2, drop_path_rate=0.0, pad_small_map=True)
CASES = {  # name: (MPVGSwin kwargs, input PE, first layer-wise block or None, last_ln_pos)
    'default': (dict(pe_mode='default'), True, None, None),
    'lape': (dict(pe_mode='lape'), False, 0, None),
    'pvg': (dict(pe_mode='pvg'), True, 0, None),
    'mpvg': (dict(pe_mode='mpvg'), True, 0, 0),
    'pvg_from_stage2': (dict(pe_mode='pvg', pe_cfg=dict(layerwise_from=3)), True, 3, None),
}


def _randomized(seed=0, **kwargs):
    """Non-trivial LN affine parameters (1 + 0.5 N(0, 1)); the rest N(0, 0.3^2)."""
    model = MPVGSwin(**dict(TINY, **kwargs)).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            scale, offset = (0.5, 1.0) if 'norm' in name and name.endswith('weight') else \
                (0.3, 0.0)
            p.copy_(offset + scale * torch.randn(p.shape, generator=g))
    return model


def _ln(x, norm):
    return F.layer_norm(x, x.shape[-1:], norm.weight, norm.bias, norm.eps)


def _corrcoef(a, b):
    return float(np.corrcoef(a.detach().double().numpy().ravel(), b.detach().double().numpy().ravel())[0, 1])


@torch.no_grad()
def _reference(model, img, input_pe, lw_from, last_k):
    """The pass written out: x_0 = patches (+ pos_0); pos_l = LN'_l(pos_{l-1}), merged by
    the stage's PatchMerging between stages; block l: x + SW-MSA(LN1(x) + pos_l), then the
    MLP; pos_0 carried to each stage by the mergings; y = norm3(x_L) + LN''(pos_0 merged)."""
    x, grid = model.patch_embed(img)
    pos0 = model.absolute_pos_embed  # the input is the APE's size: no resampling
    if input_pe:
        x = x + pos0
    lw, carried, ln1 = {}, [], []
    pe, base, pe_grid, l = pos0, pos0, grid, 0
    for s, stage in enumerate(model.stages):
        if s > 0:
            merge = model.stages[s - 1].downsample
            base = merge(base, pe_grid)[0]
            pe, pe_grid = merge(pe, pe_grid)
        for block in stage.blocks:
            carried.append(base[0].detach())
            if lw_from is not None and l >= lw_from:
                pe = lw[l] = _ln(pe, model.pe.layer_norms[str(l)])
            h = block.norm1(x)
            ln1.append(h)
            if l in lw:
                h = h + lw[l]
            x = x + block.attn(h, grid)
            x = block.ffn(block.norm2(x), identity=x)
            l += 1
        if stage.downsample is not None:
            x, grid = stage.downsample(x, grid)
    out = model.norm3(x)
    last_pe = None if last_k is None else _ln(base, model.pe.last_norm)
    return dict(ln1=ln1, lw=lw, carried=carried, x_L=x, out=out, last_pe=last_pe)


@pytest.mark.parametrize('case', list(CASES))
def test_swin_numbers_match_the_written_out_pass(case):
    kwargs, input_pe, lw_from, last_k = CASES[case]
    model = _randomized(**kwargs)
    img = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    stats = collect_layer_stats(model, img, batch_size=2)  # batches of 2 and 1
    summary = summarize(stats, model)
    ref = _reference(model, img, input_pe, lw_from, last_k)
    L = 8
    shapes = [[64, 16]] * 2 + [[16, 32]] * 2 + [[4, 64]] * 2 + [[1, 128]] * 2
    assert summary['num_layers'] == L and summary['layer_shapes'] == shapes
    assert (summary['num_tokens'], summary['embed_dims']) == (1, 128)
    assert summary['with_cls_token'] is False and summary['pe_mode'] == kwargs['pe_mode']
    sources = ['layerwise' if l in ref['lw'] else 'input' if input_pe else 'none'
               for l in range(L)]
    assert summary['pe_source'] == sources
    for l in range(L):
        token_mean = ref['ln1'][l].mean(0)
        torch.testing.assert_close(stats['token_mean'][l], token_mean, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(stats['input_pe'][l], ref['carried'][l], atol=1e-5,
                                   rtol=1e-5)
        pe = ref['lw'][l][0] if l in ref['lw'] else ref['carried'][l]
        # the stage-4 grid is one token: r over its 128 channels
        assert summary['correlation'][l] == pytest.approx(_corrcoef(token_mean, pe),
                                                          abs=1e-5), l
        assert summary['correlation_vs_pos0'][l] == pytest.approx(
            _corrcoef(token_mean, ref['carried'][l]), abs=1e-5), l
    torch.testing.assert_close(stats['last_in_mean'], ref['x_L'].mean(0), atol=1e-4,
                               rtol=1e-5)
    torch.testing.assert_close(stats['last_out_mean'], ref['out'].mean(0), atol=1e-5,
                               rtol=1e-5)
    gap_in = ref['x_L'].mean(1)
    cos = F.cosine_similarity(gap_in, ref['out'].mean(1), dim=-1).double()
    assert summary['cosine']['without_last_pe']['mean'] == pytest.approx(float(cos.mean()),
                                                                         abs=1e-5)
    norms = ref['out'].norm(dim=-1).mean(0)
    assert summary['token_norms']['after_last_ln'] == pytest.approx(norms.tolist(), rel=1e-5)
    gamma = model.norm3.weight.detach().double()
    assert summary['last_ln']['gamma_var'] == pytest.approx(float(gamma.var(unbiased=False)))
    if last_k is None:
        assert stats['last_pe'] is None and summary['cosine']['with_last_pe'] is None
    else:
        torch.testing.assert_close(stats['last_pe'], ref['last_pe'][0], atol=1e-5, rtol=1e-5)
        with_pe = ref['out'] + ref['last_pe']
        cos_pe = F.cosine_similarity(gap_in, with_pe.mean(1), dim=-1).double()
        assert summary['cosine']['with_last_pe']['mean'] == pytest.approx(
            float(cos_pe.mean()), abs=1e-5)
        assert summary['token_norms']['after_last_ln_with_pe'] == pytest.approx(
            with_pe.norm(dim=-1).mean(0).tolist(), rel=1e-5)
    json.dumps(summary, allow_nan=False)


def test_swin_without_the_last_stage_norm_is_refused():
    with pytest.raises(ValueError, match=r'Last LN \(norm3.*out_indices=\(0, 1, 2\).*3 in'):
        find_backbone(MPVGSwin(**dict(TINY, pe_mode='pvg', out_indices=(0, 1, 2))))


def test_a_backbone_without_the_interface_is_refused():
    peer = SwinTransformer(**dict(TINY, use_abs_pos_embed=True))
    with pytest.raises(TypeError, match='counterbalance interface.*SwinTransformer'):
        find_backbone(peer)


@pytest.mark.slow
def test_cli_on_the_demo_swin_classifier(tmp_path, analysis_tool):
    from mmengine.config import Config

    from mpvg_mm import demo
    root = str(tmp_path / 'imagenet')
    demo.write_imagenet(root, seed=0, num_train=1, num_val=1)  # 8 val images
    config = 'configs/demo/mpvg-swin-demo_mpvg_1xb64_demo-cls.py'
    model = build_model(Config.fromfile(config))
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    out = tmp_path / 'diag'
    summary = analysis_tool('pe_counterbalance').main([
        config, ckpt, '--out-dir', str(out), '--num-images', '6', '--cfg-options',
        f'val_dataloader.dataset.data_root={root}', 'val_dataloader.batch_size=4'])
    written = json.loads((out / 'diagnostics.json').read_text())
    assert written['correlation'] == summary['correlation']
    assert written['num_images'] == 6 and written['pe_source'] == ['layerwise'] * 8
    assert written['layer_shapes'][0] == [256, 32] and written['layer_shapes'][-1] == [4, 256]
    arrays = np.load(out / 'heatmaps.npz')
    assert arrays['token_mean_0'].shape == (256, 32) and arrays['input_pe_7'].shape == (4, 256)
    for name in ('correlation.png', 'heatmaps.png', 'last_ln.png', 'token_norms_cosine.png'):
        assert (out / name).stat().st_size > 0, name


def test_input_pe_at_blocks_of_a_staged_chain():
    """pos_0 carried through a stand-in transition (here: the first half of the rows,
    doubled in width), once per stage change; a staged chain without one is refused."""
    from mpvg_mm.models.pos_embed import (STAGED_PE_PRESETS, LayerwisePositionEmbedding,
                                          build_pe_structure)
    structure, _ = build_pe_structure('default', None, STAGED_PE_PRESETS)
    chain = LayerwisePositionEmbedding(structure, 4, (8, 16), (3, 1))
    pos_0 = torch.randn(1, 16, 8)

    def transition(stage, pe, grid):
        return torch.cat([pe, pe], -1)[:, :8], (grid[0] // 2, grid[1])

    out = chain.input_pe_at_blocks(pos_0, transition, (4, 4))
    assert [tuple(p.shape) for p in out] == [(1, 16, 8)] * 3 + [(1, 8, 16)]
    assert all(p is pos_0 for p in out[:3])
    torch.testing.assert_close(out[3], torch.cat([pos_0, pos_0], -1)[:, :8])
    with pytest.raises(ValueError, match='spans stages.*needs the stage transition'):
        chain.input_pe_at_blocks(pos_0)
