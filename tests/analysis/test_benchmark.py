"""The benchmark's structure and bookkeeping on a tiny arch (no wall-clock assertions)."""
import json

import pytest
import torch

from mpvg_mm.analysis import benchmark as bm

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, mlp_ratio=2.0, patch_size=8,
            img_size=32)
D = ARCH['embed_dims']


@pytest.fixture(autouse=True, scope='module')
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope='module')
def results():
    return bm.run_benchmark(archs=[ARCH], batch_size=2, img_size=32, iters=2, warmup=1,
                            device='cpu', num_classes=10, matmul_size=64, log=lambda s: None)


def _models(results):
    (arch_result, ) = results['archs'].values()
    return arch_result


def test_structure(results):
    expected = list(bm.OUR_PRESETS) + ['mmpretrain-vit']
    try:
        import timm  # noqa: F401
        expected.append('timm-vit')
    except ImportError:
        pass
    res = _models(results)
    assert list(res['models']) == expected
    for m in res['models'].values():
        assert len(m['fwd_times_s']) == len(m['fwd_bwd_times_s']) == 2
        for key in ('fwd_img_s', 'fwd_bwd_img_s', 'fwd_achieved_flop_s',
                    'fwd_bwd_frac_of_peak'):
            assert m[key] > 0
        for key in ('peak_mem_fwd_mb', 'peak_mem_fwd_bwd_mb'):
            assert m[key] is None or m[key] >= 0
    assert results['matmul_peak_flop_s']['fp32'] > 0
    assert set(res['ratios']) == {k for k, base in bm.RATIO_BASES.items()
                                  if base in res['models']}
    json.dumps(results, allow_nan=False)


def test_ratios_against_itself_are_one(results):
    res = _models(results)
    for key, base in bm.RATIO_BASES.items():
        if key not in res['ratios']:
            continue
        for metric, value in res['ratios'][key][base].items():
            assert value is None or value == pytest.approx(1.0), (key, metric)
    fwd = res['models']['pvg']['fwd_img_s'] / res['models']['default']['fwd_img_s']
    assert res['ratios']['vs_default']['pvg']['fwd_img_s'] == pytest.approx(fwd)


def test_parameter_and_flop_bookkeeping(results):
    models = _models(results)['models']
    params = {k: v['params'] for k, v in models.items()}
    flops = {k: v['flops'] for k, v in models.items()}
    assert params['mpvg'] - params['pvg'] == 2 * D  # LN''
    # PVG: LN'_1..LN'_{L-1}, no class token and no class row in pos_embed
    assert params['pvg'] - params['default'] == (ARCH['num_layers'] - 1) * 2 * D - 2 * D
    assert params['lape'] - params['default'] == ARCH['num_layers'] * 2 * D  # all LN'
    assert params['mpvg-folded'] == params['pvg'] and flops['mpvg-folded'] == flops['pvg']
    # the reference ViTs are the Default structure: same parameters and FLOPs
    assert params['mmpretrain-vit'] == params['default']
    assert flops['mmpretrain-vit'] == flops['default']
    if 'timm-vit' in models:
        assert params['timm-vit'] == params['default']
        assert flops['timm-vit'] == flops['default']


def test_attention_flops_are_counted():
    """The SDPA handle adds B*H*N*M*(d + dv) = 2*T^2*D MACs per block."""
    from mmengine.analysis import FlopAnalyzer
    model = bm.build_models(ARCH, 32, 10, include_timm=False)['pvg'].eval()
    plain = FlopAnalyzer(model, (torch.randn(1, 3, 32, 32), ))
    plain.unsupported_ops_warnings(False)
    plain.uncalled_modules_warnings(False)
    T = 16  # no class token
    assert bm.count_complexity(model, 32)['flops'] - plain.total() == \
        ARCH['num_layers'] * 2 * T * T * D


def test_markdown_table(results):
    table = bm.format_markdown(results)
    assert 'matmul peak' in table
    for name in _models(results)['models']:
        assert f'| {name} |' in table
    assert '| default |' in table and '1.000' in table


def test_cli_writes_json_and_markdown(tmp_path):
    out_json, out_md = tmp_path / 'b.json', tmp_path / 'b.md'
    bm.main(['--archs', 'vit-lite', '--batch-size', '1', '--img-size', '32', '--iters', '1',
             '--warmup', '0', '--device', 'cpu', '--no-timm', '--matmul-size', '32',
             '--num-classes', '4', '--json', str(out_json), '--markdown', str(out_md)])
    data = json.loads(out_json.read_text())
    assert list(data['archs']) == ['vit-lite']
    assert 'timm-vit' not in data['archs']['vit-lite']['models']
    assert '### vit-lite' in out_md.read_text()
