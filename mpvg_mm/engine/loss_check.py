"""Stop training at the first non-finite loss, with the iteration, the loss terms and fixes.

mmdet's ``CheckInvalidLossHook`` (``mmdet/engine/hooks/checkloss_hook.py``) is the
toolboxes' mechanism for this; its check runs every ``interval`` iterations (50) and fails
with a bare ``AssertionError``. :class:`NonFiniteLossHook` is that hook checking every
iteration by default and raising an error that says where, which terms, and what to change.
It is registered in mmpretrain, mmdet and mmseg (:mod:`mpvg_mm.registry`), and the
project's runtimes set it as ``default_hooks.check_loss`` (``default_hooks.check_loss=None``
switches it off).
"""
import math

import torch

try:
    from mmdet.engine.hooks import CheckInvalidLossHook
except ImportError:  # mmdet not installed: the same contract on mmengine's Hook
    from mmengine.hooks import Hook

    class CheckInvalidLossHook(Hook):

        def __init__(self, interval: int = 50) -> None:
            self.interval = interval


def _value(x) -> float:
    return float(x.detach().float().mean()) if isinstance(x, torch.Tensor) else float(x)


class NonFiniteLossHook(CheckInvalidLossHook):
    """mmdet's ``CheckInvalidLossHook`` with ``interval=1`` and a message that helps.

    Args:
        interval (int): check every ``interval`` training iterations. Defaults to 1 (the
            values are already computed; the check reads one scalar).

    Raises (from ``after_train_iter``):
        FloatingPointError: the total loss is NaN or infinite; the message gives the
            iteration (1-based, as logged), the epoch (epoch-based runs), every loss term
            and the usual fixes.
            It is raised before the checkpoint hook of that iteration or epoch saves.
    """
    priority = 'ABOVE_NORMAL'  # before the logger and the checkpoint hooks

    def __init__(self, interval: int = 1) -> None:
        super().__init__(interval=interval)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not outputs or 'loss' not in outputs or not self.every_n_train_iters(
                runner, self.interval):
            return
        if math.isfinite(_value(outputs['loss'])):
            return
        terms = ', '.join(f'{k}={_value(v):.4g}' for k, v in outputs.items())
        from mmengine.runner import IterBasedTrainLoop
        by_iter = isinstance(getattr(runner, 'train_loop', None), IterBasedTrainLoop)
        epoch = '' if by_iter else f' (epoch {runner.epoch + 1})'  # no epochs to name
        raise FloatingPointError(
            f'non-finite loss at iteration {runner.iter + 1}{epoch}: '
            f'{terms}. Training stopped before saving this state. Usual fixes: a lower '
            'learning rate or a longer warm-up (optim_wrapper.optimizer.lr, the LinearLR of '
            'param_scheduler); gradient clipping (optim_wrapper.clip_grad=dict(max_norm=1.0)); '
            'with --amp, the dynamic loss scale (optim_wrapper.loss_scale=\'dynamic\'); a NaN '
            'from the first iteration usually means bad inputs or targets (check the data '
            'and the loss weights of the config).')
