"""Checkpoints that survive a kill at any moment: mmengine's ``CheckpointHook``, made durable.

mmengine 0.10's ``CheckpointHook`` removes the outdated (and the previous best) checkpoint
*before* writing the new one, writes in place, and deletes whatever absolute path the
resumed message hub names. :class:`DurableCheckpointHook` keeps its options and file names
and changes the order of the file operations (local work dirs; other storage backends
keep mmengine's behaviour):

1. every checkpoint is written to a hidden temporary file in the same directory
   (``.epoch_3.pth.partial``), flushed to disk (``fsync``) and renamed onto its name
   (``os.replace``, atomic on POSIX); ``last_checkpoint`` is written the same way and only
   after the checkpoint it names is complete;
2. the outdated checkpoint and the previous best are removed only after that;
3. only files inside the run's own checkpoint directory are ever removed; a best
   checkpoint of another run (``--resume OTHER_DIR/epoch_N.pth``) is kept and named in
   the log;
4. each best checkpoint records its score (``meta['best_score']``, ``meta['best_key']``);
   on resume the best checkpoints found in the directory are reconciled with the resumed
   record, so that a kill between writing a best checkpoint and the next epoch checkpoint
   loses neither the score nor the file, and superseded best files are removed;
5. a checkpoint is saved after its training epoch (iteration) and *before* its
   validation: when a resumed checkpoint's validation was due and is not recorded as
   done, it is run again first, so that its score competes for the best checkpoint as in
   the run without the kill (and the random streams advance as they did);
6. the random states (Python, numpy, torch CPU and CUDA) of every rank are saved in the
   epoch (iteration) checkpoints (``checkpoint['rng_states']``, one entry per rank) and
   restored on ``--resume``, so that random augmentation, Mixup/CutMix and drop path
   continue as in the run without the kill.

Reference: ``mmengine/hooks/checkpoint_hook.py`` (v0.10.7), ``_save_checkpoint_with_step``
and ``_save_best_checkpoint``, whose semantics (``max_keep_ckpts``, ``save_best``, rules,
file names, message-hub keys) are kept.
"""
import glob
import os
import os.path as osp
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size, is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.runner import BaseLoop

#: the message-hub key recording the last epoch (by_epoch) or iteration that was validated
LAST_VAL_KEY = 'mpvg_last_val'
PARTIAL_SUFFIX = '.partial'


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def rng_state() -> dict:
    """The random states of this process: Python, numpy, torch CPU and the current CUDA
    device (when one is in use)."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(_as_python_state(state['python']))
    np.random.set_state(state['numpy'])
    torch.set_rng_state(torch.as_tensor(state['torch'], dtype=torch.uint8))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(torch.as_tensor(state['cuda'], dtype=torch.uint8))


def _as_python_state(state):
    # random.getstate() is (version, tuple of ints, gauss); a checkpoint may give lists
    version, internal, gauss = state
    return version, tuple(internal), gauss


class DurableCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments) whose checkpoints survive a kill.

    See the module docstring for what is guaranteed. Registered in the hook registries of
    mmpretrain, mmdet and mmseg (:mod:`mpvg_mm.registry`); the project's runtimes
    (``configs/_base_/default_runtime_{cls,det,seg}.py``) use it as ``default_hooks.checkpoint``.

    Args:
        save_rng_state (bool): save the random states of every rank in the epoch/iteration
            checkpoints and restore them on resume. Defaults to True.
        revalidate_on_resume (bool): run the validation of the resumed epoch/iteration again
            when it was due and is not recorded as done. Defaults to True.
        **kwargs: mmengine's ``CheckpointHook`` arguments.
    """

    def __init__(self, *args, save_rng_state: bool = True, revalidate_on_resume: bool = True,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.save_rng_state = save_rng_state
        self.revalidate_on_resume = revalidate_on_resume
        self._rng_states: Optional[List[dict]] = None
        self._resumed_rng_states: Optional[List[dict]] = None

    # ------------------------------------------------------------------ file operations
    @property
    def _durable(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def _inside_out_dir(self, path: str) -> bool:
        root = osp.realpath(self.out_dir)
        return osp.commonpath([root, osp.realpath(path)]) == root

    def _remove(self, runner, path: Optional[str], what: str) -> None:
        """Remove a checkpoint (main process), never outside the run's own directory."""
        if not path or not is_main_process():
            return
        if not self._inside_out_dir(path):
            runner.logger.warning(f'Kept the {what} {path}: it is outside this run\'s '
                                  f'checkpoint directory {self.out_dir}.')
            return
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # checkpoints saved by deepspeed are directories
            self.file_backend.rmtree(path)
        else:
            return
        runner.logger.info(f'Removed the {what} {path}.')

    def _write_checkpoint(self, runner, filename: str, **kwargs) -> None:
        """``runner.save_checkpoint`` into ``out_dir/filename``: atomically on local disks."""
        if not self._durable:
            runner.save_checkpoint(self.out_dir, filename, self.file_client_args,
                                   backend_args=self.backend_args, **kwargs)
            return
        partial = f'.{filename}{PARTIAL_SUFFIX}'
        runner.save_checkpoint(self.out_dir, partial, self.file_client_args,
                               backend_args=self.backend_args, **kwargs)
        if not is_main_process():
            return
        tmp, final = osp.join(self.out_dir, partial), osp.join(self.out_dir, filename)
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.out_dir)

    def _write_last_checkpoint(self, runner) -> None:
        save_file = osp.join(runner.work_dir, 'last_checkpoint')
        tmp = osp.join(runner.work_dir, '.last_checkpoint' + PARTIAL_SUFFIX)
        with open(tmp, 'w') as f:
            f.write(self.last_ckpt)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, save_file)

    # ------------------------------------------------------------------ training flow
    def before_train(self, runner) -> None:
        super().before_train(runner)  # mmengine's: removes only out_dir/<filename_tmpl> files
        if not self._durable:
            return
        if is_main_process():
            for stale in glob.glob(osp.join(glob.escape(self.out_dir), '.*' + PARTIAL_SUFFIX)):
                os.remove(stale)  # a write interrupted by a kill
        if self.save_best is not None:
            self._reconcile_best(runner)
        hub = runner.message_hub
        resumed = hub.get_info('last_ckpt') if 'last_ckpt' in hub.runtime_info else None
        if (self.last_ckpt is None and resumed and getattr(runner, '_resume', False)
                and self._inside_out_dir(resumed) and osp.isfile(resumed)):
            self.last_ckpt = resumed  # saved again when the revalidation finds a new best
        if self._resumed_rng_states is not None:
            states, self._resumed_rng_states = self._resumed_rng_states, None
            if len(states) == get_world_size():
                set_rng_state(states[get_rank()])
                runner.logger.info('Restored the random states of the resumed checkpoint.')
            else:
                runner.logger.warning(
                    f'The resumed checkpoint holds the random states of {len(states)} ranks, '
                    f'this run has {get_world_size()}: they are not restored, so random '
                    'augmentation does not continue exactly.')
        if self.revalidate_on_resume and self._resumed_validation_due(runner):
            step = runner.epoch if self.by_epoch else runner.iter
            runner.logger.info(f'Validating {"epoch" if self.by_epoch else "iteration"} '
                               f'{step} again: its checkpoint was saved before its '
                               'validation, which is not recorded as done.')
            runner.val_loop.run()

    def _resumed_validation_due(self, runner) -> bool:
        loop = runner.train_loop
        step = loop.epoch if self.by_epoch else loop.iter
        if step == 0 or runner.val_loop is None:
            return False
        hub = runner.message_hub
        done = hub.get_info(LAST_VAL_KEY) if LAST_VAL_KEY in hub.runtime_info else None
        if done is not None and done >= step:
            return False
        if not getattr(runner, '_resume', False):
            return False
        max_step = loop.max_epochs if self.by_epoch else loop.max_iters
        interval = getattr(loop, 'val_interval', 1)
        return (step >= getattr(loop, 'val_begin', 1)
                and (step % interval == 0 or step == max_step))

    def after_val_epoch(self, runner, metrics):
        if isinstance(getattr(runner, '_train_loop', None), BaseLoop):  # not runner.val()
            step = runner.epoch if self.by_epoch else runner.iter
            runner.message_hub.update_info(LAST_VAL_KEY, step)
        super().after_val_epoch(runner, metrics)

    def after_load_checkpoint(self, runner, checkpoint) -> None:
        self._resumed_rng_states = None
        if self.save_rng_state and getattr(runner, '_resume', False):
            self._resumed_rng_states = checkpoint.get('rng_states')

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if self._rng_states is not None:
            checkpoint['rng_states'] = self._rng_states

    # ------------------------------------------------------------------ saving
    def _save_checkpoint_with_step(self, runner, step, meta):
        """mmengine's, with the outdated checkpoint removed after the new one is complete."""
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        # the random states of every rank, gathered on all ranks (a collective)
        self._rng_states = all_gather_object(rng_state()) if self.save_rng_state else None
        try:
            self._write_checkpoint(runner, ckpt_filename, save_optimizer=self.save_optimizer,
                                   save_param_scheduler=self.save_param_scheduler, meta=meta,
                                   by_epoch=self.by_epoch, **self.args)
        finally:
            self._rng_states = None
        if not is_main_process():
            return
        self._write_last_checkpoint(runner)
        if outdated is not None:
            self._remove(runner, self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(outdated)), 'outdated checkpoint')

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """mmengine's, with the new best written (with its score) before the old is removed."""
        if not self.save_best:
            return
        if self.by_epoch:
            ckpt_filename = self.filename_tmpl.format(runner.epoch)
            cur_type, cur_time = 'epoch', runner.epoch
        else:
            ckpt_filename = self.filename_tmpl.format(runner.iter)
            cur_type, cur_time = 'iter', runner.iter
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [list(metrics.keys())[0]])

        best_ckpt_updated = False
        for key_indicator, rule in zip(self.key_indicators, self.rules):
            key_score = metrics[key_indicator]
            score_key, path_key = self._best_hub_keys(key_indicator)
            hub = runner.message_hub
            best_score = (hub.get_info(score_key) if score_key in hub.runtime_info
                          else self.init_value_map[rule])
            if key_score is None or not self.is_better_than[key_indicator](key_score,
                                                                          best_score):
                continue
            best_ckpt_updated = True
            previous = self._best_path(key_indicator)
            hub.update_info(score_key, key_score)
            best_ckpt_name = f'best_{key_indicator}_{ckpt_filename}'.replace('/', '_')
            new_path = self.file_backend.join_path(self.out_dir, best_ckpt_name)
            self._set_best_path(key_indicator, new_path)
            hub.update_info(path_key, new_path)
            self._write_checkpoint(
                runner, best_ckpt_name, save_optimizer=False, save_param_scheduler=False,
                meta=dict(epoch=runner.epoch, iter=runner.iter, best_key=key_indicator,
                          best_score=_plain(key_score)), by_epoch=False)
            runner.logger.info(f'The best checkpoint with {key_score:0.4f} {key_indicator} '
                               f'at {cur_time} {cur_type} is saved to {best_ckpt_name}.')
            if previous != new_path:
                self._remove(runner, previous, 'previous best checkpoint')

        # as mmengine: save the last checkpoint again so that its message hub names the
        # current best checkpoint and score
        if best_ckpt_updated and self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, cur_time, dict(epoch=runner.epoch,
                                                                   iter=runner.iter))

    # ------------------------------------------------------------------ best bookkeeping
    def _best_hub_keys(self, key_indicator: str):
        if len(self.key_indicators) == 1:
            return 'best_score', 'best_ckpt'
        return f'best_score_{key_indicator}', f'best_ckpt_{key_indicator}'

    def _best_path(self, key_indicator: str) -> Optional[str]:
        if len(self.key_indicators) == 1:
            return self.best_ckpt_path
        return self.best_ckpt_path_dict.get(key_indicator)

    def _set_best_path(self, key_indicator: str, path: Optional[str]) -> None:
        if len(self.key_indicators) == 1:
            self.best_ckpt_path = path
        else:
            self.best_ckpt_path_dict[key_indicator] = path

    def _reconcile_best(self, runner) -> None:
        """Adopt the best checkpoint files of ``out_dir`` that beat the resumed record (a kill
        after a best file was complete but before the epoch checkpoint naming it), remove
        the superseded ones of this directory, and note a best file of another run."""
        found = {}
        for path in sorted(glob.glob(osp.join(glob.escape(self.out_dir), 'best_*.pth'))):
            record = _best_record(path)
            if record is not None:
                found.setdefault(record[0], []).append((record[1], path))
        if 'auto' in self.key_indicators and len(found) == 1:
            self._init_rule(self.rules, list(found))  # the key the files record
        hub = runner.message_hub
        for key_indicator in self.key_indicators:
            score_key, path_key = self._best_hub_keys(key_indicator)
            current = self._best_path(key_indicator)
            if current is not None and not self._inside_out_dir(current):
                runner.logger.warning(
                    f'The best checkpoint so far ({current}) belongs to another run '
                    'directory; it is kept there, and this run writes its best checkpoints '
                    f'to {self.out_dir}.')
            candidates = found.get(key_indicator, [])
            better = self.is_better_than.get(key_indicator)
            if not candidates or better is None:
                continue
            best_score, best_path = candidates[0]
            for score, path in candidates[1:]:
                if better(score, best_score):
                    best_score, best_path = score, path
            recorded = hub.get_info(score_key) if score_key in hub.runtime_info else None
            if recorded is None or better(best_score, recorded) or (
                    best_score == recorded and not (current and osp.exists(current))):
                if best_path != current:
                    runner.logger.info(f'Adopted the best checkpoint {best_path} '
                                       f'({best_score:0.4f}) found in the work dir.')
                hub.update_info(score_key, best_score)
                hub.update_info(path_key, best_path)
                self._set_best_path(key_indicator, best_path)
            keep = self._best_path(key_indicator)
            for _, path in candidates:
                if path != keep:
                    self._remove(runner, path, 'superseded best checkpoint')


def _plain(score):
    """A metric value as a Python number (numpy scalars pickle as numpy objects)."""
    return score.item() if hasattr(score, 'item') else score


def _best_record(path: str):
    """``(key, score)`` recorded in a best checkpoint by :class:`DurableCheckpointHook`, or
    None (no record, or an unreadable file)."""
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001  (a truncated file of an older run: not ours to judge)
        return None
    meta = checkpoint.get('meta', {}) if isinstance(checkpoint, dict) else {}
    if 'best_key' not in meta or 'best_score' not in meta:
        return None
    return meta['best_key'], meta['best_score']


def check_resumable(filename: str, needs_param_schedulers: bool = True) -> dict:
    """Refuse to ``--resume`` from a checkpoint that holds weights only; return its
    ``meta`` (e.g. ``meta['seed']``, the run's random seed).

    mmengine's ``Runner.resume`` restores what the file holds and silently restarts the
    rest (a best checkpoint, a converted or published file: the optimizer state and the
    lr schedule start again while the log says "resumed").

    Args:
        filename: a local checkpoint file.
        needs_param_schedulers: the run has lr/momentum schedulers (``param_scheduler``),
            whose state the checkpoint must then hold.

    Raises:
        ValueError: something a resumed run needs is missing; the message names it and
            points to ``load_from`` for starting a new run from the weights.
        CorruptCheckpointError, UnsafeCheckpointError: see
            :func:`mpvg_mm.compat.load_checkpoint_file`.
    """
    from ..compat import load_checkpoint_file
    checkpoint = load_checkpoint_file(filename, map_location='cpu', mmap=True)
    if not isinstance(checkpoint, dict):
        checkpoint = {}
    missing = [key for key in ('optimizer', 'message_hub') if key not in checkpoint]
    meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'), dict) else {}
    missing += [f"meta['{key}']" for key in ('epoch', 'iter') if key not in meta]
    if needs_param_schedulers and 'param_schedulers' not in checkpoint:
        missing.append('param_schedulers (the lr schedule)')
    if missing:
        raise ValueError(
            f'--resume {filename}: this checkpoint holds weights only, without '
            f'{", ".join(missing)}; resuming continues a run from its whole training state '
            '(optimizer, lr schedule, epoch/iteration, message hub), so it would silently '
            'restart them. Resume from an epoch_*.pth/iter_*.pth checkpoint of the run (the '
            "work dir's last_checkpoint names the latest), or start a new run from these "
            f'weights with --cfg-options load_from={filename} (without --resume).')
    return meta
