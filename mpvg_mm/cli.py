"""``tools/train.py`` and ``tools/test.py``: one pair for mmpretrain, mmdet and mmseg.

The config's ``default_scope`` picks the toolbox (its registries and, for ``--show-dir``,
its visualization hook); flags and behaviour follow OpenMMLab's own scripts.
"""
import argparse
import logging
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner

# default_scope -> (visualization hook type, its switch, its output-dir key)
_VIS_HOOKS = {
    'mmpretrain': ('VisualizationHook', 'enable', 'out_dir'),
    'mmdet': ('DetVisualizationHook', 'draw', 'test_out_dir'),
    'mmseg': ('SegVisualizationHook', 'draw', None),
}

# default_scope -> the predictions dumper of tools/test.py --out: what the toolbox keeps
# (mmdet: RLE masks, no ground truth; mmseg: label maps without logits, DumpSegResults)
_DUMPERS = {'mmpretrain': 'DumpResults', 'mmdet': 'DumpDetResults', 'mmseg': 'DumpSegResults'}


def _common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='the directory for logs and checkpoints')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value (e.g. '
                        'env_cfg.dist_cfg.backend=gloo)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def _load_cfg(args) -> Config:
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    from .models.backbones.mpvg_vit import record_data_preprocessor_key
    record_data_preprocessor_key(cfg)  # for the padding hint of the patch-size error
    if cfg.get('default_scope') not in _VIS_HOOKS:
        raise ValueError(f"config {args.config} sets default_scope={cfg.get('default_scope')!r}; "
                         f'these tools serve {sorted(_VIS_HOOKS)}.')
    return cfg


def _build_runner(cfg: Config) -> Runner:
    """The runner, its datasets checked as they are built (``build_checked_dataloader``: an
    empty or unannotated dataset is named instead of failing deep in mmengine)."""
    from functools import partial

    from .engine.data_check import build_checked_dataloader
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    # the loops call runner.build_dataloader(...) (a static method): this instance's checks
    runner.build_dataloader = partial(build_checked_dataloader, build=runner.build_dataloader,
                                      num_classes=partial(_head_num_classes, runner))
    return runner


def _head_num_classes(runner):
    """The classifier head's ``num_classes`` (mmpretrain's ``ImageClassifier.head``), or
    None."""
    model = getattr(runner.model, 'module', runner.model)
    return getattr(getattr(model, 'head', None), 'num_classes', None)


def _close_distributed() -> None:
    """Shut the process group down before the interpreter finalizes (call it once the
    runner is dropped).

    The model wrapper (DDP and its reducer) holds the process group, so
    ``destroy_process_group`` alone leaves gloo's worker and transport threads running
    until the runner's reference cycles are collected, which happens during interpreter
    finalization, or not at all. A gloo thread that then drops the last reference to a
    tensor of the last collective takes the GIL of a finalizing interpreter, which ends
    the thread (``pthread_exit``) by a forced unwind that C++ ``noexcept`` code turns into
    ``terminate called without an active exception``: SIGABRT after correct results (about 1 run in 13 of
    ``tools/dist_test.sh`` on CPU). Collecting the runner here destroys the group, whose
    destructor joins those threads while the interpreter is alive.
    """
    import gc

    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        gc.collect()


def _check_resume(cfg: Config) -> None:
    """Refuse a weights-only checkpoint before anything is built (local files; the
    checkpoint ``--resume`` names, or the one the work dir's ``last_checkpoint`` names),
    and continue with the run's seed when the config leaves it to chance
    (``randomness=dict(seed=None)``).

    mmengine builds the training dataloader (the sampler's shuffling seed) before it
    resumes, and only then takes ``meta['seed']`` of the checkpoint: a resumed run of an
    unseeded config would shuffle with a new seed although its random states are restored.
    """
    from mmengine.runner import find_latest_checkpoint

    from .engine.checkpoint_hook import check_resumable
    path = cfg.load_from if cfg.load_from else (
        find_latest_checkpoint(cfg.work_dir) if osp.isdir(cfg.work_dir) else None)
    if path and '://' not in path:
        meta = check_resumable(path, needs_param_schedulers=bool(cfg.get('param_scheduler')))
        randomness = cfg.get('randomness') or {}
        if randomness.get('seed') is None and meta.get('seed') is not None:
            cfg.randomness = {**randomness, 'seed': meta['seed']}
            print_log(f"--resume {path}: continuing with the run's random seed "
                      f"{meta['seed']} (meta['seed']; the config sets none).",
                      logger='current')


def _check_amp_device(by: str = '--amp') -> None:
    """mmengine's ``AmpOptimWrapper`` (``--amp``, or ``optim_wrapper.type`` in the config)
    runs on CUDA, NPU, MLU or MUSA devices only; decide before the data and the model are
    built."""
    from mmengine import device
    if not any(getattr(device, f'is_{name}_available', lambda: False)()
               for name in ('cuda', 'npu', 'mlu', 'musa')):
        fix = ('drop --amp' if by == '--amp' else
               'set optim_wrapper.type=OptimWrapper (--cfg-options optim_wrapper.type='
               'OptimWrapper; without AmpOptimWrapper\'s loss_scale/dtype keys)')
        raise ValueError(f'{by} needs an accelerator (mmengine\'s AmpOptimWrapper runs on '
                         'CUDA, NPU, MLU or MUSA devices) and none is visible here: '
                         f'{fix} to train in fp32 on the CPU.')


def check_schedule_fits(cfg: Config) -> None:
    """Every parameter scheduler must begin before the run ends (mmengine fails inside the
    scheduler otherwise: "end should be larger than begin"), e.g. a cosine that starts
    after a 5-epoch warm-up in a 5-epoch run.

    Raises:
        ValueError: naming the scheduler, the run's length and the keys to change.
    """
    train_cfg = cfg.get('train_cfg') or {}
    by_epoch = 'max_epochs' in train_cfg
    length = train_cfg.get('max_epochs', train_cfg.get('max_iters'))
    schedulers = cfg.get('param_scheduler') or []
    if length is None or isinstance(schedulers, dict) and 'type' not in schedulers:
        return  # no length to compare with, or one scheduler list per optimizer
    schedulers = [schedulers] if isinstance(schedulers, dict) else list(schedulers)
    unit = 'epoch' if by_epoch else 'iteration'
    key = 'max_epochs' if by_epoch else 'max_iters'
    for i, scheduler in enumerate(schedulers):
        if not isinstance(scheduler, dict) or scheduler.get('by_epoch', True) != by_epoch:
            continue  # another unit: mmengine converts it with the epoch length
        begin = scheduler.get('begin', 0)
        end = min(scheduler.get('end', length), length)
        if begin < end:
            continue
        before = [f'param_scheduler.{j}.end' for j, other in enumerate(schedulers[:i])
                  if isinstance(other, dict) and other.get('end', 0) > begin - 1]
        ends = ' '.join(f'{k}=N' for k in before)
        if length >= 2:  # a warm-up of N in 1..length-1 units leaves room for the rest
            shorten = (f'shorten what comes before it (the warm-up) to N {unit}s with '
                       f'1 <= N <= {length - 1}: --cfg-options {ends + " " if ends else ""}'
                       f'param_scheduler.{i}.begin=N')
        else:  # one epoch: no room for a whole-epoch warm-up; warm up within it
            iters = ' '.join(f'{k[:-4]}.by_epoch=False {k[:-4]}.convert_to_iter_based=False '
                             f'{k}=<iterations>' for k in before) or \
                '<the warm-up>.by_epoch=False'
            shorten = (f'warm up within the {unit} by iterations: --cfg-options {iters} '
                       f'param_scheduler.{i}.begin=0')
        raise ValueError(
            f'train_cfg.{key}={length} is too short for the lr schedule: '
            f'param_scheduler[{i}] ({scheduler.get("type")}) begins at {unit} {begin}, when '
            f'the run has ended. Train for at least {begin + 1} {unit}s '
            f'(--cfg-options train_cfg.{key}={begin + 1}), or {shorten}.')


def _schedule_end_lr(scheduler: dict, lr, t: float) -> 'float | None':
    """The lr of ``scheduler`` at ``t`` of its span (0..1), base lr ``lr``; None when not
    cheap to state (another type, or no number for the base lr)."""
    import math
    kind = scheduler.get('type', '')
    if not isinstance(lr, (int, float)):
        return None
    eta_min = scheduler.get('eta_min')
    if scheduler.get('eta_min_ratio') is not None:
        eta_min = lr * scheduler['eta_min_ratio']
    eta_min = eta_min or 0.0
    if kind == 'CosineAnnealingLR':
        return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t)) / 2
    if kind == 'PolyLR':
        return (lr - eta_min) * (1 - t) ** scheduler.get('power', 1.0) + eta_min
    return None


def warn_truncated_schedule(cfg: Config, logger='current') -> list:
    """Warn (log, not an error: runs are shortened on purpose) for every parameter
    scheduler whose span ends after the run (e.g. ``--cfg-options train_cfg.max_epochs=100``
    on a 300-epoch config: the cosine stops at ~7.7e-4 instead of decaying to 1e-5),
    naming the scheduler, its end, the run's length, the lr it stops at (cosine and
    poly) and the ``--cfg-options`` that fit it to the run. Schedulers in the other unit
    than the run's (iterations in an epoch-based run) are not compared.

    Returns:
        the warnings logged.
    """
    train_cfg = cfg.get('train_cfg') or {}
    by_epoch = 'max_epochs' in train_cfg
    length = train_cfg.get('max_epochs', train_cfg.get('max_iters'))
    schedulers = cfg.get('param_scheduler') or []
    if length is None or isinstance(schedulers, dict) and 'type' not in schedulers:
        return []
    schedulers = [schedulers] if isinstance(schedulers, dict) else list(schedulers)
    unit = 'epoch' if by_epoch else 'iteration'
    lr = ((cfg.get('optim_wrapper') or {}).get('optimizer') or {}).get('lr')
    messages = []
    for i, scheduler in enumerate(schedulers):
        if not isinstance(scheduler, dict) or scheduler.get('by_epoch', True) != by_epoch:
            continue
        begin, end = scheduler.get('begin', 0), scheduler.get('end')
        span = scheduler.get('T_max') or (end - begin if end is not None else None)
        if span is None or begin >= length or begin + span <= length:
            continue  # no end, begins after the run (check_schedule_fits), or fits
        fix = f'param_scheduler.{i}.end={length}'
        if 'T_max' in scheduler or 'Cosine' in scheduler.get('type', ''):
            fix += f' param_scheduler.{i}.T_max={length - begin}'
        stop = _schedule_end_lr(scheduler, lr, (length - begin) / span)
        at = f', so the lr stops at {stop:.2e} (base lr {lr:g})' if stop is not None else ''
        messages.append(
            f'param_scheduler[{i}] ({scheduler.get("type")}) runs to {unit} {begin + span}, '
            f'but the run ends at {unit} {length} (train_cfg.{"max_epochs" if by_epoch else "max_iters"}'
            f'={length}): the schedule is cut short{at}. To finish it within the run: '
            f'--cfg-options {fix}')
    for message in messages:
        print_log(message, logger=logger, level=logging.WARNING)
    return messages


def check_pretrained_files(cfg: Config) -> None:
    """Every local ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` (or
    ``'MPVGPretrained'``) in the model must exist before training starts (mmengine reads
    it only after the data and the model are built, and then fails with a bare "can not
    be found"), e.g. the demo detector's classifier checkpoint before the classifier is
    trained.

    Raises:
        FileNotFoundError: naming the config key, the file and the two fixes.
    """
    def walk(node, key):
        if isinstance(node, dict):
            init = node.get('init_cfg')
            inits = init if isinstance(init, (list, tuple)) else [init]
            for i, one in enumerate(inits):
                path = one.get('checkpoint') if isinstance(one, dict) else None
                if (isinstance(one, dict) and one.get('type') in ('Pretrained', 'MPVGPretrained')
                        and isinstance(path, str) and '://' not in path
                        and not osp.isfile(path)):
                    where = f'{key}.init_cfg' + (f'.{i}' if isinstance(init, (list, tuple))
                                                 else '')
                    raise FileNotFoundError(
                        f'{where}.checkpoint={path} does not exist: create it first (the '
                        "config's header names the command; for the demo configs `make "
                        'demo` trains the demo classifier first), or train from scratch '
                        f'with --cfg-options {where}=None.')
            for name, child in node.items():
                if name != 'init_cfg':
                    walk(child, f'{key}.{name}')
        elif isinstance(node, (list, tuple)):
            for i, child in enumerate(node):
                walk(child, f'{key}.{i}')

    walk(cfg.get('model'), 'model')


def train_main(argv=None) -> None:
    parser = argparse.ArgumentParser(description='Train a model (mmpretrain/mmdet/mmseg)')
    parser.add_argument('config', help='config file')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume from PATH, or from the latest checkpoint of the work '
                        'dir when no path is given')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the actual total batch size '
                        '(auto_scale_lr.base_batch_size)')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    _common_args(parser)
    args = parser.parse_args(argv)
    cfg = _load_cfg(args)
    if args.amp:
        _check_amp_device()
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    elif (cfg.get('optim_wrapper') or {}).get('type') in ('AmpOptimWrapper',
                                                         'mmengine.AmpOptimWrapper'):
        _check_amp_device(f"optim_wrapper.type={cfg.optim_wrapper['type']} in the config")
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.resume is not None:
        _check_resume(cfg)
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError('--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=...) '
                             'in the config.')
        cfg.auto_scale_lr.enable = True
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    check_schedule_fits(cfg)
    check_pretrained_files(cfg)  # mmengine initialises the weights even when resuming
    runner = _build_runner(cfg)
    warn_truncated_schedule(cfg, runner.logger)
    runner.train()
    del runner  # with the model wrapper that holds the process group
    _close_distributed()


def test_main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='Test a checkpoint (mmpretrain/mmdet/mmseg)')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump the raw predictions to this pickle file')
    parser.add_argument('--show-dir', help='draw predictions into this directory '
                        '(relative to the work dir)')
    parser.add_argument('--non-strict', action='store_true',
                        help='evaluate even when the checkpoint misses weights of the model '
                        'or holds others (by default an error)')
    _common_args(parser)
    args = parser.parse_args(argv)
    cfg = _load_cfg(args)
    checkpoint = _peek_checkpoint(args.checkpoint)
    if checkpoint is not None and 'backbone' in cfg.model:
        from .models.folding import configure_folded, fold_size_mismatch
        folded = configure_folded(cfg.model, checkpoint.get('meta') or {})
        if folded is not None:
            print_log(f'{args.checkpoint} is an MPVG checkpoint folded for inference (its '
                      "meta['folded_last_ln_pe']): testing the folded model, "
                      f'model.backbone.pe_cfg={folded}.', logger='current')
        mismatch = fold_size_mismatch(checkpoint.get('meta') or {}, cfg)
        if mismatch:
            print_log(f'{args.checkpoint}: {mismatch}', logger='current', level=logging.WARNING)
    if checkpoint is None:  # not a local file: mmengine's loaders, not checked here
        cfg.load_from = args.checkpoint
    if args.show_dir:
        hook_type, switch, dir_key = _VIS_HOOKS[cfg.default_scope]
        hook = cfg.default_hooks.setdefault('visualization', dict(type=hook_type))
        hook[switch] = True
        if dir_key:
            hook[dir_key] = args.show_dir
        else:  # mmseg's hook writes through the visualizer's save_dir
            cfg.visualizer.save_dir = osp.join(cfg.work_dir, args.show_dir)
            hook['interval'] = 1
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out {args.out}: the dump is a pickle, name it *.pkl.')
        evaluator = cfg.test_evaluator
        evaluators = list(evaluator) if isinstance(evaluator, (list, tuple)) else [evaluator]
        cfg.test_evaluator = evaluators + [dict(type=_DUMPERS[cfg.default_scope],
                                                out_file_path=args.out)]
    runner = _build_runner(cfg)
    if checkpoint is not None:
        _load_weights(runner, checkpoint, args)
    metrics = runner.test()
    del runner, checkpoint  # the runner with the model wrapper that holds the process group
    _close_distributed()
    return metrics


def _peek_checkpoint(path: str):
    """A local checkpoint memory-mapped (its tensors are read on use), or None for URLs."""
    if '://' in path:
        return None
    from .compat import load_checkpoint_file
    return load_checkpoint_file(path, map_location='cpu', mmap=True)


def _load_weights(runner, checkpoint: dict, args) -> None:
    """Load the checkpoint into the model under test; missing or unexpected weights (after
    the model's own load rules, e.g. the PE grid) are an error unless ``--non-strict``."""
    from mmengine.model import is_model_wrapper
    runner.call_hook('after_load_checkpoint', checkpoint=checkpoint)  # as Runner.load_checkpoint
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    runner.logger.info(f'Load checkpoint from {args.checkpoint}')
    load_fitting_weights(model, checkpoint, args.checkpoint, args.config,
                         non_strict=args.non_strict)


def load_fitting_weights(model, checkpoint: dict, checkpoint_name: str, config: str,
                         non_strict: bool = False,
                         override: str = 'pass --non-strict to evaluate the partly loaded '
                                         'model anyway') -> None:
    """Load ``checkpoint`` (its ``state_dict``, ``module.`` prefixes dropped) into ``model``;
    weights missing in the checkpoint or unknown to the model (another config's or another
    task's checkpoint) are refused, and so are non-finite weights (a run saved after its
    loss diverged: every prediction would be NaN).

    Raises:
        ValueError: naming the missing/unexpected keys, unless ``non_strict`` (then a
            warning); naming the first tensor with NaN/inf values (always).
    """
    from collections import OrderedDict

    import torch
    state = checkpoint.get('state_dict', checkpoint)
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and \
                not bool(torch.isfinite(value).all()):
            raise ValueError(
                f'{checkpoint_name}: the weight {key} holds NaN or infinite values (the run '
                'that saved it diverged): use a checkpoint saved before the loss became '
                'non-finite.')
    revised = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                          for k, v in state.items())
    if hasattr(state, '_metadata'):
        revised._metadata = state._metadata
    result = model.load_state_dict(revised, strict=False)
    missing, unexpected = sorted(result.missing_keys), sorted(result.unexpected_keys)
    if not missing and not unexpected:
        return

    def listed(keys):
        return ', '.join(keys[:8]) + (f' ... ({len(keys)} in all)' if len(keys) > 8 else '')

    problem = '; '.join(part for part in (
        f'missing in the checkpoint (left at their initial values): {listed(missing)}'
        if missing else '',
        f'in the checkpoint but not in the model (ignored): {listed(unexpected)}'
        if unexpected else '') if part)
    message = (f'{checkpoint_name} does not fit the model of {config}: {problem}. The '
               'checkpoint was probably trained with another config (PE preset pe_mode, '
               f'arch, head, task): use it with its own config, or {override}.')
    if not non_strict:
        raise ValueError(message)
    print_log(message, logger='current', level=logging.WARNING)
