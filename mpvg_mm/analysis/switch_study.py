"""Multi-seed studies of a backbone switch in a detector, decided by measurement.

Two design questions the paper leaves open are answered this way on the demo data, each
a keyword of the backbone whose values are the options (:data:`SWITCHES`):

* ``final_norm`` (:class:`MPVGViT`): where do the Last LN and MPVG's Last-LN PE (the
  paper's Eq. 11, ``y = LN(x_L) + LN''(pos_0)``) belong when the last block's map feeds a
  simple feature pyramid? ViTDet (mmdet ``projects/ViTDet``) feeds the pyramid ``x_L``
  without a final norm: the baseline. Config: the demo's plain-ViT + SimpleFeaturePyramid
  Mask R-CNN.
* ``last_ln_pe_port`` (:class:`MPVGViTAdapter` in the official ViT-Adapter form, which has
  no Last LN): where does ``LN''(pos_0)`` enter the adapter's outputs? The baseline is the
  port the adapter configs had before any measurement, ``'stride16'`` (MPVG as the
  classifier computes it, its PE term on the ViT's own stride-16 level; ``'none'`` would
  turn MPVG into PVG). Config: the demo's tiny ViT-Adapter Mask R-CNN.

Each run trains the switch's detection config with mmengine's ``Runner`` in this process
(the config's optimizer, schedule, data and backbone checkpoint, ``randomness.seed`` set
to the run's seed, the backbone's switch set to the option), then evaluates it once on
the config's val split (mmdet's ``CocoMetric``: bbox and segm mAP). A shorter schedule
(``epochs``) rescales the config's by-epoch schedulers that end at its ``max_epochs`` to
end at ``epochs``. Runs go one at a time; the results file is rewritten after every run
and a study restarted on it skips the runs already there, so an interrupted study
resumes. :func:`decide` turns a results file into the option the configs default to.
The command line and the table are ``tools/analysis_tools/switch_study.py``.
"""
import copy
import glob
import json
import os
import os.path as osp
import time
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

from .preset_study import mean_std


class Switch(NamedTuple):
    """A backbone keyword studied by measurement (paths relative to the repository)."""
    #: the backbone type whose keyword it is
    backbone: str
    #: option (the keyword's value) -> what the detector's neck gets
    options: Dict[str, str]
    #: the option kept unless another beats it beyond the seed spread (:func:`decide`)
    baseline: str
    #: the detection config the study trains by default
    config: str
    #: the committed results file the configs follow
    results: str
    #: globs of the configs whose backbone defaults to the decision (those of the presets
    #: it changes)
    configs: Tuple[str, ...]


SWITCHES: Dict[str, Switch] = {
    'final_norm': Switch(
        backbone='MPVGViT',
        options={
            'none': "x_L (ViTDet: no final norm)",
            'pe': "x_L + LN''(pos_0) (MPVG's PE term, no LN)",
            'ln': "LN(x_L) (the Last LN, no PE term)",
            'ln+pe': "LN(x_L) + LN''(pos_0) (the classifier's output, Eq. 11)",
        },
        baseline='none',
        config='configs/demo/mask-rcnn_mpvg-vit-demo-sfp_mpvg_1xb8_demo-coco.py',
        results='docs/studies/final_norm_study.json',
        configs=('configs/mask_rcnn/*-sfp_*.py',
                 'configs/demo/mask-rcnn_mpvg-vit-demo-sfp_mpvg_1xb8_demo-coco.py')),
    'last_ln_pe_port': Switch(
        backbone='MPVGViTAdapter',
        options={
            'stride16': "x_L + LN''(pos_0) at the stride-16 level, x_L at the others",
            'all_levels': "x_L + LN''(pos_0), resized to every level",
            'none': "x_L at every level (no Last-LN PE: PVG)",
        },
        baseline='stride16',
        config='configs/demo/mask-rcnn_vit-adapter-demo_mpvg_1xb8_demo-coco.py',
        results='docs/studies/last_ln_pe_port_study.json',
        configs=('configs/mask_rcnn/*vit-adapter*_mpvg_*.py',
                 'configs/upernet/*vit-adapter*_mpvg_*.py',
                 'configs/demo/mask-rcnn_vit-adapter-demo_mpvg_1xb8_demo-coco.py')),
}
#: the CocoMetric keys kept per run (prefix 'coco/' dropped)
METRICS = ('bbox_mAP', 'bbox_mAP_50', 'segm_mAP', 'segm_mAP_50')


def get_switch(switch: str) -> Switch:
    """The :class:`Switch` named ``switch``; ValueError naming the known ones."""
    if switch not in SWITCHES:
        raise ValueError(f'unknown switch {switch!r}; choose from {list(SWITCHES)}.')
    return SWITCHES[switch]


def config_paths(switch: str, root: str) -> list:
    """The configs under ``root`` (the repository) that default to ``switch``'s decision."""
    return sorted({path for pattern in get_switch(switch).configs
                   for path in glob.glob(osp.join(root, pattern))})


def build_run_config(config, option: str, seed: int, work_dir: str,
                     epochs: Optional[int] = None, data_root: Optional[str] = None,
                     checkpoint: Optional[str] = None, batch_size: Optional[int] = None,
                     switch: str = 'final_norm'):
    """The detection ``config`` (path or ``Config``, copied) for one run.

    Sets ``model.backbone.<switch> = option``, ``randomness.seed``, ``work_dir``; no
    validation during training (the study evaluates once at the end) and no checkpoint
    saving; ``epochs`` shortens the schedule (by-epoch schedulers ending at the config's
    ``max_epochs`` end at ``epochs``); ``batch_size`` replaces the training batch (the
    lr is the config's, unscaled); ``data_root`` moves the COCO-layout data (and the
    evaluators' ``ann_file``); ``checkpoint`` replaces the backbone's pretrained file.

    Raises:
        ValueError: an unknown switch or option, or a config that is not an mmdet
            detector on the switch's backbone.
    """
    from mmengine.config import Config
    spec = get_switch(switch)
    if option not in spec.options:
        raise ValueError(f'unknown {switch} {option!r}; choose from {list(spec.options)}.')
    cfg = Config.fromfile(config) if isinstance(config, (str, os.PathLike)) else \
        copy.deepcopy(config)
    backbone = cfg.model.get('backbone', {}).get('type')
    if cfg.get('default_scope') != 'mmdet' or backbone != spec.backbone:
        raise ValueError(
            f'the {switch} study trains mmdet detectors with a backbone of type '
            f'{spec.backbone}, got '
            f"default_scope={cfg.get('default_scope')!r}, backbone type={backbone!r} "
            f'(e.g. {spec.config}).')
    cfg.model.backbone[switch] = option
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    if checkpoint is not None:
        cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint,
                                           prefix='backbone.')
    if data_root is not None:
        root = data_root.rstrip('/') + '/'
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[key].dataset.data_root = root
        for key in ('val_evaluator', 'test_evaluator'):
            cfg[key].ann_file = root + 'annotations/instances_val2017.json'
    if batch_size is not None:
        cfg.train_dataloader.batch_size = batch_size
    old_epochs = cfg.train_cfg.max_epochs
    epochs = epochs or old_epochs
    if epochs != old_epochs:
        for item in cfg.get('param_scheduler', []) or []:
            if item.get('by_epoch', True) and item.get('end') == old_epochs:
                item['end'] = epochs
    # no validation inside the training loop: run_one evaluates once at the end
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_begin = epochs + 1
    cfg.train_cfg.val_interval = 1
    cfg.default_hooks.checkpoint = None
    return cfg


def run_one(cfg) -> dict:
    """Train ``cfg`` with mmengine's ``Runner`` and evaluate on its val split.

    Returns ``{metric: value for metric in METRICS}`` plus ``train_time_s``.
    """
    from mmengine.runner import Runner
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_time = time.perf_counter() - start
    metrics = runner.val_loop.run()
    out = {k: float(metrics[f'coco/{k}']) for k in METRICS}
    out['train_time_s'] = train_time
    return out


def aggregate(runs: Sequence[dict]) -> Dict[str, Dict[str, float]]:
    """Per metric of :data:`METRICS`, mean and std over the runs (seeds)."""
    return {k: mean_std(r[k] for r in runs) for k in METRICS}


def summarize(results: dict) -> dict:
    """Fill ``results['options'][name]['summary']`` from its runs; returns ``results``."""
    for entry in results['options'].values():
        runs = list(entry['runs'].values())
        entry['summary'] = aggregate(runs) if runs else {}
    return results


def run_study(config=None, options: Optional[Sequence[str]] = None,
              seeds: Sequence[int] = (0, 1, 2), epochs: Optional[int] = None,
              work_root: Optional[str] = None, results_path: Optional[str] = None,
              data_root: Optional[str] = None, checkpoint: Optional[str] = None,
              batch_size: Optional[int] = None, switch: str = 'final_norm', run=run_one,
              log=print) -> dict:
    """Train every option of ``switch`` (default: all) with every seed (seed-major
    order, so that an interrupted study has whole seeds); returns ``{'settings',
    'options': {name: {'description', 'runs': {seed: metrics}, 'summary': {metric:
    {'mean', 'std'}}}}}``.

    ``config`` defaults to the switch's (:data:`SWITCHES`), ``work_root`` to
    ``work_dirs/<switch>_study``. ``results_path`` (default
    ``work_root/<switch>_study.json``) is rewritten after each run; runs already in it
    (same settings) are skipped. ``run`` trains and evaluates one config
    (:func:`run_one`; tests pass a stub).

    Raises:
        ValueError: an unknown switch or options, or a results file written with other
            settings.
    """
    spec = get_switch(switch)
    options = tuple(spec.options) if options is None else tuple(options)
    unknown = [o for o in options if o not in spec.options]
    if unknown:
        raise ValueError(f'unknown {switch} options {unknown}; choose from '
                         f'{list(spec.options)}.')
    config = spec.config if config is None else config
    work_root = work_root or f'work_dirs/{switch}_study'
    results_path = results_path or osp.join(work_root, f'{switch}_study.json')
    config_name = os.fspath(config) if isinstance(config, (str, os.PathLike)) else \
        config.filename
    settings = dict(switch=switch, config=config_name, epochs=epochs, batch_size=batch_size,
                    data_root=data_root, checkpoint=checkpoint)
    results = dict(settings=settings, options={})
    if osp.exists(results_path):
        with open(results_path) as f:
            previous = json.load(f)
        if previous.get('settings') != settings:
            raise ValueError(f'{results_path} holds a study with other settings '
                             f"({previous.get('settings')}); pass another results path "
                             'or work root to start a new one.')
        results = previous
    for name in options:
        entry = results['options'].setdefault(
            name, dict(description=spec.options[name], runs={}))
        entry['description'] = spec.options[name]
    if isinstance(config, (str, os.PathLike)):
        from mmengine.config import Config
        config = Config.fromfile(config)  # once: build_run_config copies it per run
    for seed in seeds:
        for name in options:
            runs = results['options'][name]['runs']
            if str(seed) in runs:
                continue
            cfg = build_run_config(config, name, seed,
                                   osp.join(work_root, f'{name}_seed{seed}'), epochs,
                                   data_root, checkpoint, batch_size, switch)
            metrics = run(cfg)
            runs[str(seed)] = metrics
            log(f"{switch}={name:10s} seed {seed}: bbox mAP {metrics['bbox_mAP']:.3f}, "
                f"segm mAP {metrics['segm_mAP']:.3f} ({metrics['train_time_s']:.0f} s)")
            summarize(results)
            os.makedirs(osp.dirname(osp.abspath(results_path)), exist_ok=True)
            with open(results_path, 'w') as f:
                json.dump(results, f, indent=1, allow_nan=False)
    return summarize(results)


def decide(results: dict, baseline: Optional[str] = None, metric: str = 'bbox_mAP',
           min_seeds: int = 3) -> str:
    """The option the configs should default to: the best mean ``metric`` among the
    options with at least ``min_seeds`` runs, if it beats ``baseline`` (default: the
    baseline of the switch recorded in ``results['settings']``) by more than the two
    options' std added; else ``baseline``.

    Raises:
        ValueError: ``baseline`` has fewer than ``min_seeds`` runs.
    """
    if baseline is None:
        baseline = get_switch(results['settings']['switch']).baseline
    summaries = {name: entry['summary'][metric] for name, entry in results['options'].items()
                 if len(entry['runs']) >= min_seeds}
    if baseline not in summaries:
        raise ValueError(f'the baseline {baseline!r} needs {min_seeds} runs to decide; run '
                         'the study with more seeds.')
    best = max(summaries, key=lambda name: summaries[name]['mean'])
    margin = summaries[best]['mean'] - summaries[baseline]['mean']
    return best if margin > summaries[best]['std'] + summaries[baseline]['std'] else baseline
