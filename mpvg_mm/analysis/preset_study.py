"""Multi-seed study of the PE structures on the demo's position-dependent task.

Each preset is a classification config's ``ImageClassifier`` (the tool's default: the
demo's MPVG config) with backbone overrides (:data:`PRESETS`), trained from scratch in-process for a fixed number of epochs
per seed, with the config's optimizer (``build_optim_wrapper(cfg.optim_wrapper)``: AdamW,
lr, weight decay and its decay multipliers) and its ``param_scheduler`` (built like the
Runner does: iter-based warm-up + cosine, ``end`` defaulting to the run's epochs), the
config's train batch size and shuffling per epoch. Data: the config's train/val datasets
are read once (its pipeline), normalised by the model's ``data_preprocessor`` and kept as
tensors; the loss is cross-entropy on the head's logits (the config's
``CrossEntropyLoss``). After training: top-1 accuracy (%) on the whole val split, and the
counterbalancing diagnostics (:mod:`mpvg_mm.analysis.counterbalance`) on up to
``diag_images`` val images.

The backbone is the config's: any backbone with the diagnostics' interface
(``MPVGViT``, ``MPVGSwin``, e.g. ``configs/demo/mpvg-swin-demo_mpvg_1xb64_demo-cls.py``).
The GAP ablations (``default-gap``, ``default-gap-lastlnpe``) switch a ViT's class token
off (``with_cls_token=False``): they apply to backbones that take that argument only
(:func:`applicable_presets`; Swin is GAP in every preset).

The config is an argument (a path or an mmengine ``Config``): the package has no
``configs/`` of its own. The command line, its default config and the summary table are
``tools/analysis_tools/preset_study.py``.
"""
import contextlib
import copy
import logging
import os
import random
import statistics
import time
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..registry import build_model
from .counterbalance import collect_layer_stats, summarize

#: preset name -> backbone overrides of the demo config
PRESETS: Dict[str, dict] = {
    'default': dict(pe_mode='default'),
    'lape': dict(pe_mode='lape'),
    'pvg': dict(pe_mode='pvg'),
    'mpvg': dict(pe_mode='mpvg'),
    'default-gap': dict(pe_mode='default', with_cls_token=False),
    'default-gap-lastlnpe': dict(pe_mode='default', with_cls_token=False,
                                 pe_cfg=dict(last_ln_pos=0)),
}
#: the diagnostics kept per run (keys of counterbalance.summarize)
RUN_DIAGNOSTICS = ('correlation', 'pe_source', 'correlation_vs_pos0', 'cosine')


def load_config(config, data_root: Optional[str] = None):
    """The config (a path, or a ``Config``, which is copied) with the train and val
    datasets' ``data_root`` pointed at ``data_root`` when given.

    Raises:
        ValueError: the config is not an mmpretrain classification config.
    """
    from mmengine.config import Config
    if isinstance(config, (str, os.PathLike)):
        cfg = Config.fromfile(config)
    else:
        cfg = copy.deepcopy(config)
    if cfg.get('default_scope') != 'mmpretrain' or \
            cfg.model.get('type') != 'ImageClassifier':
        raise ValueError(
            f"the preset study trains classifiers: it needs an mmpretrain ImageClassifier "
            f"config, got default_scope={cfg.get('default_scope')!r}, model type="
            f"{cfg.model.get('type')!r} (e.g. configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py).")
    if data_root is not None:
        for key in ('train_dataloader', 'val_dataloader'):
            cfg[key].dataset.data_root = data_root
    return cfg


def _takes_cls_token_switch(cfg) -> bool:
    """Whether ``cfg.model.backbone``'s class (its registry entry) takes ``with_cls_token``."""
    import inspect

    from mmpretrain.registry import MODELS
    backbone_type = cfg.model.backbone.type
    cls = MODELS.get(backbone_type) if isinstance(backbone_type, str) else backbone_type
    if cls is None:
        raise ValueError(f'backbone type {backbone_type!r} is not registered in mmpretrain '
                         "(custom_imports=dict(imports=['mpvg_mm']) registers ours).")
    return 'with_cls_token' in inspect.signature(cls).parameters


def applicable_presets(cfg) -> List[str]:
    """The names of :data:`PRESETS` that the config's backbone can build: all of them
    for a backbone with a ``with_cls_token`` argument (``MPVGViT``), the four PE
    structures otherwise (``MPVGSwin`` has no class token to switch off)."""
    if _takes_cls_token_switch(cfg):
        return list(PRESETS)
    return [name for name, overrides in PRESETS.items() if 'with_cls_token' not in overrides]


def build_classifier(cfg, backbone_overrides: dict):
    """``cfg.model`` with ``model.backbone`` updated (``pe_cfg`` and ``with_cls_token``
    replaced, not merged), built by :func:`mpvg_mm.registry.build_model` on a copy of
    ``cfg`` and initialised (``init_weights``)."""
    cfg = copy.deepcopy(cfg)
    backbone = cfg.model.backbone
    backbone.pop('pe_cfg', None)
    backbone.pop('with_cls_token', None)
    backbone.update(copy.deepcopy(backbone_overrides))
    model = build_model(cfg)
    with _quiet_logger():  # init_weights logs every parameter's initialiser
        model.init_weights()
    return model


@torch.no_grad()
def load_split(cfg, split: str, max_images: Optional[int] = None
               ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Read a split through the config's dataset/pipeline and ``data_preprocessor``.

    Returns ``(images (M, 3, H, W) float32, labels (M,) int64)``.
    """
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    dataset = DATASETS.build(copy.deepcopy(cfg[f'{split}_dataloader'].dataset))
    indices = list(range(len(dataset)))
    if max_images is not None and max_images < len(dataset):
        # evenly spaced, so that a subset of a class-sorted split still has every class
        indices = np.linspace(0, len(dataset) - 1, max_images).round().astype(int).tolist()
    items = [dataset[i] for i in indices]
    preprocessor = build_model(cfg).data_preprocessor
    data = preprocessor(dict(inputs=[it['inputs'] for it in items],
                             data_samples=[it['data_samples'] for it in items]), False)
    labels = torch.cat([s.gt_label for s in data['data_samples']]).long()
    return data['inputs'].float(), labels


@contextlib.contextmanager
def _quiet_logger():
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _build_schedulers(cfg, optim_wrapper, epochs: int, epoch_length: int) -> list:
    """The config's ``param_scheduler`` as the Runner builds it, for ``epochs`` epochs."""
    from mmengine.registry import PARAM_SCHEDULERS
    schedulers = []
    for item in cfg.get('param_scheduler', []) or []:
        item = copy.deepcopy(dict(item))
        by_epoch = item.get('by_epoch', True)
        item.setdefault('end', epochs if by_epoch else epochs * epoch_length)
        if item.get('begin', 0) >= item['end']:
            continue  # a phase the shortened budget never reaches
        schedulers.append(PARAM_SCHEDULERS.build(
            item, default_args=dict(optimizer=optim_wrapper, epoch_length=epoch_length)))
    return schedulers


def train_one(cfg, backbone_overrides: dict, seed: int, epochs: int,
              train: Tuple[torch.Tensor, torch.Tensor], val: Tuple[torch.Tensor, torch.Tensor],
              batch_size: Optional[int] = None, diag_images: int = 64) -> dict:
    """Train one preset with one seed; returns accuracy, losses and diagnostics."""
    from mmengine.optim import build_optim_wrapper
    _seed_everything(seed)
    model = build_classifier(cfg, backbone_overrides)
    with _quiet_logger():  # the constructor logs every parameter's decay multiplier
        optim_wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    images, labels = train
    batch_size = batch_size or cfg.train_dataloader.batch_size
    epoch_length = max(1, -(-images.shape[0] // batch_size))
    schedulers = _build_schedulers(cfg, optim_wrapper, epochs, epoch_length)
    gen = torch.Generator().manual_seed(seed)
    start, epoch_losses = time.perf_counter(), []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(images.shape[0], generator=gen)
        total, seen = 0.0, 0
        for i in range(0, images.shape[0], batch_size):
            idx = order[i:i + batch_size]
            logits = model(images[idx], mode='tensor')
            loss = F.cross_entropy(logits, labels[idx])
            optim_wrapper.update_params(loss)
            total += float(loss.detach()) * idx.numel()
            seen += idx.numel()
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
        for s in schedulers:
            if s.by_epoch:
                s.step()
        epoch_losses.append(total / max(seen, 1))
    train_time = time.perf_counter() - start
    accuracy = evaluate(model, *val)
    stats = collect_layer_stats(model.backbone, val[0][:diag_images])
    diag = summarize(stats, model.backbone)
    return dict(seed=seed, val_acc=accuracy, train_loss=epoch_losses,
                train_time_s=train_time,
                diagnostics=dict({k: diag[k] for k in RUN_DIAGNOSTICS},
                                 last_ln_beta_var=diag['last_ln']['beta_var'],
                                 last_ln_gamma_var=diag['last_ln']['gamma_var']))


@torch.no_grad()
def evaluate(model, images: torch.Tensor, labels: torch.Tensor, batch: int = 256) -> float:
    """Top-1 accuracy (%)."""
    model.eval()
    correct = 0
    for i in range(0, images.shape[0], batch):
        logits = model(images[i:i + batch], mode='tensor')
        correct += int((logits.argmax(-1) == labels[i:i + batch]).sum())
    model.train()
    return 100.0 * correct / max(images.shape[0], 1)


def _layer_means(runs: List[dict], key: str) -> List[Optional[float]]:
    per_layer = zip(*[r['diagnostics'][key] for r in runs])
    out = []
    for values in per_layer:
        values = [v for v in values if v is not None]
        out.append(statistics.fmean(values) if values else None)
    return out


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    """``{'mean', 'std'}``: the mean and the population std (0 for one value)."""
    values = list(values)
    return dict(mean=statistics.fmean(values),
                std=statistics.pstdev(values) if len(values) > 1 else 0.0)


def aggregate(runs: List[dict]) -> dict:
    """Mean and population std over seeds of the accuracy; per-layer mean correlation."""
    acc = mean_std(r['val_acc'] for r in runs)
    return dict(
        val_acc_mean=acc['mean'],
        val_acc_std=acc['std'],
        correlation_mean=_layer_means(runs, 'correlation'),
        correlation_vs_pos0_mean=_layer_means(runs, 'correlation_vs_pos0'),
        last_ln_beta_var_mean=statistics.fmean(
            r['diagnostics']['last_ln_beta_var'] for r in runs),
    )


def run_study(config: Union[str, os.PathLike, object],
              presets: Optional[Sequence[str]] = None, seeds: Sequence[int] = (0, 1, 2),
              epochs: Optional[int] = None, data_root: Optional[str] = None,
              batch_size: Optional[int] = None, max_train: Optional[int] = None,
              max_val: Optional[int] = None, diag_images: int = 64, log=print) -> dict:
    """Train every preset with every seed; returns ``{'settings', 'presets'}`` with
    ``presets[name] = {'backbone', 'runs': [...], 'val_acc_mean', 'val_acc_std',
    'correlation_mean', 'correlation_vs_pos0_mean', 'last_ln_beta_var_mean'}``.

    ``config``: a classification config (path or ``Config``) supplying the model, the
    optimizer, the schedule and the data; ``settings['config']`` records the path (a
    ``Config``'s ``filename``). ``presets``: names of :data:`PRESETS`; None: every one
    that applies to the config's backbone (:func:`applicable_presets`).

    Raises:
        ValueError: an unknown preset, or one the config's backbone cannot build (a GAP
            ablation of a backbone without a class token).
    """
    unknown = [p for p in presets or () if p not in PRESETS]
    if unknown:
        raise ValueError(f'unknown presets {unknown}; choose from {list(PRESETS)}')
    cfg = load_config(config, data_root)
    applicable = applicable_presets(cfg)
    if presets is None:
        presets = applicable
    refused = [p for p in presets if p not in applicable]
    if refused:
        raise ValueError(
            f'presets {refused} switch the class token off (with_cls_token=False), which '
            f'the config\'s backbone {cfg.model.backbone.type} does not take (it has no '
            f'class token: every preset is GAP); choose from {applicable}.')
    epochs = epochs or cfg.train_cfg.max_epochs
    train = load_split(cfg, 'train', max_train)
    val = load_split(cfg, 'val', max_val)
    config_name = (os.fspath(config) if isinstance(config, (str, os.PathLike)) else
                   cfg.filename)
    out = dict(settings=dict(config=config_name, data_root=cfg.train_dataloader.dataset.data_root,
                             seeds=list(seeds), epochs=epochs,
                             batch_size=batch_size or cfg.train_dataloader.batch_size,
                             num_train=int(train[0].shape[0]), num_val=int(val[0].shape[0]),
                             threads=torch.get_num_threads(), optimizer=str(
                                 cfg.optim_wrapper.optimizer)),
               presets={})
    for name in presets:
        runs = []
        for seed in seeds:
            run = train_one(cfg, PRESETS[name], seed, epochs, train, val, batch_size,
                            diag_images)
            corr = ' '.join('n/a' if c is None else f'{c:+.3f}'
                            for c in run['diagnostics']['correlation'])
            log(f'{name:22s} seed {seed}: val acc {run["val_acc"]:6.2f}%  '
                f'r per layer [{corr}]  ({run["train_time_s"]:.1f} s)')
            runs.append(run)
        out['presets'][name] = dict(backbone=PRESETS[name], runs=runs, **aggregate(runs))
    return out
