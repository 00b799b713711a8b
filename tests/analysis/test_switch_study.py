"""The switch studies (final_norm, last_ln_pe_port): their run configs, their bookkeeping
(stubbed training; one real iteration), their table, and the configs following the
committed results."""
import glob
import json
import math
import os.path as osp
import subprocess
import sys

import pytest

from mpvg_mm.analysis import switch_study as fns

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, fns.SWITCHES['final_norm'].config)
OPTIONS = fns.SWITCHES['final_norm'].options

pytestmark = pytest.mark.usefixtures('single_thread')

#: synthetic bbox mAP per option, seeds 0, 1, 2
BBOX = {'none': [0.5, 0.6, 0.7], 'pe': [0.4, 0.4, 0.4], 'ln': [0.1, 0.2, 0.3],
        'ln+pe': [0.0, 0.1, 0.2]}


@pytest.fixture(scope='module')
def demo_cfg():
    """The demo SFP detector's config, read once (mmdet's base configs are slow to read)."""
    from mmengine.config import Config
    return Config.fromfile(CONFIG)


def _stub(calls):

    def run(cfg):
        name, seed = cfg.model.backbone.final_norm, cfg.randomness.seed  # final_norm study
        calls.append((name, seed))
        bbox = BBOX[name][seed]
        return dict(bbox_mAP=bbox, bbox_mAP_50=bbox + 0.3, segm_mAP=bbox / 2,
                    segm_mAP_50=bbox, train_time_s=1.0)

    return run


def test_run_config_sets_the_option_seed_and_shorter_schedule(tmp_path, demo_cfg):
    cfg = fns.build_run_config(demo_cfg, 'pe', 3, str(tmp_path), epochs=5,
                               data_root='elsewhere/coco', checkpoint='cls.pth', batch_size=2)
    assert cfg.model.backbone.final_norm == 'pe' and cfg.randomness.seed == 3
    assert cfg.work_dir == str(tmp_path)
    # the demo's cosine ran to epoch 14; the iteration warm-up (end 50) is kept
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.end, cfg.train_cfg.max_epochs) == (50, 5, 5)
    assert cfg.train_cfg.val_begin > 5 and cfg.default_hooks.checkpoint is None
    assert cfg.model.backbone.init_cfg.checkpoint == 'cls.pth'
    assert cfg.train_dataloader.batch_size == 2 and cfg.val_dataloader.batch_size == 8
    assert cfg.train_dataloader.dataset.data_root == 'elsewhere/coco/'
    assert cfg.val_evaluator.ann_file == 'elsewhere/coco/annotations/instances_val2017.json'


def test_run_config_refuses_unknown_options_and_other_models(demo_cfg):
    with pytest.raises(ValueError, match="unknown final_norm 'LN'"):
        fns.build_run_config(demo_cfg, 'LN', 0, 'w')
    with pytest.raises(ValueError, match="unknown switch 'norm'"):
        fns.build_run_config(demo_cfg, 'ln', 0, 'w', switch='norm')
    with pytest.raises(ValueError, match='backbone of type MPVGViT, got'):
        fns.build_run_config(
            osp.join(ROOT, 'configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'), 'ln', 0, 'w')
    # the plain-ViT detector is not the adapter study's
    with pytest.raises(ValueError, match='backbone of type MPVGViTAdapter, got'):
        fns.build_run_config(demo_cfg, 'none', 0, 'w', switch='last_ln_pe_port')


def test_study_aggregates_over_seeds_and_resumes(tmp_path, demo_cfg):
    calls = []
    out = str(tmp_path / 'study.json')
    results = fns.run_study(demo_cfg, seeds=(0, 1), work_root=str(tmp_path),
                            results_path=out, run=_stub(calls), log=lambda *a: None)
    # seed-major: every option has seed 0 before any has seed 1
    assert calls == [(o, s) for s in (0, 1) for o in OPTIONS]
    # a third seed: only the new runs train
    calls.clear()
    results = fns.run_study(demo_cfg, seeds=(0, 1, 2), work_root=str(tmp_path),
                            results_path=out, run=_stub(calls), log=lambda *a: None)
    assert calls == [(o, 2) for o in OPTIONS]
    with open(out) as f:
        assert json.load(f) == results
    none = results['options']['none']['summary']
    assert none['bbox_mAP']['mean'] == pytest.approx(0.6)
    assert none['bbox_mAP']['std'] == pytest.approx(0.1 * math.sqrt(2 / 3))
    assert none['segm_mAP']['mean'] == pytest.approx(0.3)
    assert results['options']['pe']['summary']['bbox_mAP']['std'] == pytest.approx(0.0)
    assert sorted(results['options']['ln']['runs']) == ['0', '1', '2']


def test_study_refuses_a_results_file_of_other_settings(tmp_path, demo_cfg):
    out = str(tmp_path / 'study.json')
    fns.run_study(demo_cfg, options=('none', ), seeds=(0, ), results_path=out,
                  work_root=str(tmp_path), run=_stub([]), log=lambda *a: None)
    with pytest.raises(ValueError, match='other settings'):
        fns.run_study(demo_cfg, options=('none', ), seeds=(0, ), epochs=3, results_path=out,
                      work_root=str(tmp_path), run=_stub([]), log=lambda *a: None)


def test_the_table_lists_mean_and_std(tmp_path, analysis_tool, demo_cfg):
    results = fns.run_study(demo_cfg, options=('none', 'ln'), seeds=(0, 1, 2),
                            work_root=str(tmp_path), run=_stub([]), log=lambda *a: None)
    table = analysis_tool('switch_study').format_table(results).splitlines()
    assert len(table) == 4 and table[0].startswith('| final_norm | the neck gets |')
    assert table[2].startswith('| `none` |') and '| 0.600 +- 0.082 | 0.300 +- 0.041 |' in \
        table[2] and table[2].endswith('| 3 |')


def test_decide_takes_the_best_only_beyond_the_seed_spread(tmp_path, demo_cfg):
    results = fns.run_study(demo_cfg, seeds=(0, 1, 2), work_root=str(tmp_path),
                            run=_stub([]), log=lambda *a: None)
    assert fns.decide(results) == 'none'  # 0.6 +- 0.082 is the best
    # 'pe' at 0.75 +- 0.0 beats 0.6 +- 0.082 by more than the spread; 0.65 does not
    results['options']['pe']['summary']['bbox_mAP']['mean'] = 0.75
    assert fns.decide(results) == 'pe'
    results['options']['pe']['summary']['bbox_mAP']['mean'] = 0.65
    assert fns.decide(results) == 'none'
    # the baseline is the recorded switch's: with 'pe' as the baseline, 'pe' stays
    assert fns.decide(results, baseline='pe') == 'pe'
    results['options']['none']['runs'].pop('2')
    with pytest.raises(ValueError, match="baseline 'none' needs 3 runs"):
        fns.decide(results)


@pytest.fixture(scope='module')
def tiny_coco(tmp_path_factory):
    """4 train and 2 val scenes of the demo's COCO layout."""
    out = tmp_path_factory.mktemp('coco')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools/make_demo_data.py'), str(out),
                    '--formats', 'coco', '--num-train', '4', '--num-val', '2'], check=True,
                   capture_output=True)
    return str(out / 'coco')


@pytest.mark.slow
def test_adapter_study_trains_and_evaluates_one_iteration(tmp_path, tiny_coco, monkeypatch):
    """The last_ln_pe_port study end to end with the real run_one, one option and seed:
    the demo adapter detector, 1 epoch of 1 iteration (4 images, batch 4), evaluated."""
    monkeypatch.chdir(ROOT)  # the switch's config is relative to the repository
    out = str(tmp_path / 'study.json')
    logs = []
    results = fns.run_study(options=('all_levels', ), seeds=(1, ), epochs=1, batch_size=4,
                            work_root=str(tmp_path), results_path=out, data_root=tiny_coco,
                            switch='last_ln_pe_port', log=logs.append)
    assert results['settings']['switch'] == 'last_ln_pe_port'
    assert results['settings']['config'] == fns.SWITCHES['last_ln_pe_port'].config
    run = results['options']['all_levels']['runs']['1']
    assert set(run) == set(fns.METRICS) | {'train_time_s'}
    assert all(0.0 <= run[k] <= 1.0 for k in fns.METRICS)
    assert logs and logs[0].startswith('last_ln_pe_port=all_levels seed 1:')
    scalars, = glob.glob(osp.join(tmp_path, 'all_levels_seed1', '*', 'vis_data',
                                  'scalars.json'))
    with open(scalars) as f:
        iters = [json.loads(line)['iter'] for line in f if '"loss"' in line]
    assert iters == [1]


@pytest.mark.parametrize('switch', list(fns.SWITCHES))
def test_configs_default_to_the_studys_decision(switch):
    """The configs' switch is what :func:`decide` takes from the study committed with
    them (``SWITCHES[switch].results``, the README table); a study whose baseline has not
    reached 3 seeds decides nothing and the configs keep the baseline."""
    from mmengine.config import Config
    spec = fns.SWITCHES[switch]
    with open(osp.join(ROOT, spec.results)) as f:
        results = json.load(f)
    assert results['settings']['switch'] == switch
    assert set(results['options']) == set(spec.options)
    try:
        choice = fns.decide(results)
    except ValueError:
        choice = spec.baseline
    paths = fns.config_paths(switch, ROOT)
    assert len(paths) == {'final_norm': 5, 'last_ln_pe_port': 3}[switch]
    for path in paths:
        assert Config.fromfile(path).model.backbone[switch] == choice, path


def test_data_root_at_the_generators_folder_names_its_coco_subfolder(tmp_path, demo_cfg):
    """--data-root data/demo (the folder make_demo_data.py wrote) instead of
    data/demo/coco: the error names the coco subfolder to point at."""
    import re

    from mmdet.registry import DATASETS
    from mmengine.registry import DefaultScope, init_default_scope
    demo = tmp_path / 'demo'
    (demo / 'coco').mkdir(parents=True)
    (demo / 'coco' / 'classes.txt').write_text('a\nb\n')
    cfg = fns.build_run_config(demo_cfg, 'pe', 0, str(tmp_path), data_root=str(demo),
                               checkpoint='cls.pth')
    DefaultScope._instance_dict.clear()
    init_default_scope('mmdet')
    with pytest.raises(FileNotFoundError, match=(
            re.escape(f'its coco data are in {demo}/coco: point data_root there '
                      f'(e.g. --data-root {demo}/coco)') + r'.*writes data/demo/coco/')):
        DATASETS.build(cfg.train_dataloader.dataset)
