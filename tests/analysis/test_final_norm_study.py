"""The final_norm study: its run configs, its bookkeeping (stubbed training), its table."""
import json
import math
import os.path as osp

import pytest

from mpvg_mm.analysis import final_norm_study as fns

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/demo/mask-rcnn_mpvg-vit-demo-sfp_mpvg_1xb8_demo-coco.py')

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
        name, seed = cfg.model.backbone.final_norm, cfg.randomness.seed
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
    with pytest.raises(ValueError, match='plain MPVGViT backbone'):
        fns.build_run_config(
            osp.join(ROOT, 'configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'), 'ln', 0, 'w')


def test_study_aggregates_over_seeds_and_resumes(tmp_path, demo_cfg):
    calls = []
    out = str(tmp_path / 'study.json')
    results = fns.run_study(demo_cfg, seeds=(0, 1), work_root=str(tmp_path),
                            results_path=out, run=_stub(calls), log=lambda *a: None)
    # seed-major: every option has seed 0 before any has seed 1
    assert calls == [(o, s) for s in (0, 1) for o in fns.OPTIONS]
    # a third seed: only the new runs train
    calls.clear()
    results = fns.run_study(demo_cfg, seeds=(0, 1, 2), work_root=str(tmp_path),
                            results_path=out, run=_stub(calls), log=lambda *a: None)
    assert calls == [(o, 2) for o in fns.OPTIONS]
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
    table = analysis_tool('final_norm_study').format_table(results).splitlines()
    assert len(table) == 4
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
    results['options']['none']['runs'].pop('2')
    with pytest.raises(ValueError, match="baseline 'none' needs 3 runs"):
        fns.decide(results)


def test_plain_vit_detectors_default_to_the_studys_decision():
    """The configs' final_norm is what :func:`decide` takes from the study committed
    with them (docs/studies/final_norm_study.json, the README table)."""
    import glob

    from mmengine.config import Config
    with open(osp.join(ROOT, 'docs/studies/final_norm_study.json')) as f:
        choice = fns.decide(json.load(f))
    paths = sorted(glob.glob(osp.join(ROOT, 'configs/mask_rcnn/*-sfp_*.py'))) + [CONFIG]
    assert len(paths) == 5
    for path in paths:
        assert Config.fromfile(path).model.backbone.final_norm == choice, path
