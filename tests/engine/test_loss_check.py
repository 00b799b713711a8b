"""NonFiniteLossHook: mmdet's CheckInvalidLossHook, registered in all three toolboxes."""
import math
from types import SimpleNamespace

import pytest
import torch

from mpvg_mm.engine.loss_check import NonFiniteLossHook

ROOT = __file__.rsplit('/tests/', 1)[0]
pytestmark = pytest.mark.usefixtures('single_thread')


def _runner(iteration):
    return SimpleNamespace(iter=iteration, epoch=0)


def test_registered_in_every_toolbox_as_mmdet_hook_subclass():
    from mmdet.engine.hooks import CheckInvalidLossHook
    assert issubclass(NonFiniteLossHook, CheckInvalidLossHook)
    for scope in ('mmpretrain', 'mmdet', 'mmseg'):
        registry = __import__(f'{scope}.registry', fromlist=['HOOKS']).HOOKS
        assert registry.get('NonFiniteLossHook') is NonFiniteLossHook


@pytest.mark.parametrize('bad', [math.nan, math.inf, -math.inf])
def test_first_non_finite_loss_stops_with_the_iteration_and_terms(bad):
    hook = NonFiniteLossHook()
    outputs = dict(loss=torch.tensor(bad), loss_cls=torch.tensor(bad), loss_bbox=torch.tensor(.5))
    hook.after_train_iter(_runner(6), 6, outputs=dict(loss=torch.tensor(1.0)))
    with pytest.raises(FloatingPointError, match=r'iteration 8 \(epoch 1\): loss=-?(nan|inf), '
                       r'loss_cls=-?(nan|inf), loss_bbox=0\.5\. .*learning rate'):
        hook.after_train_iter(_runner(7), 7, outputs=outputs)


def test_an_iteration_based_run_names_no_epoch():
    from mmengine.runner import IterBasedTrainLoop
    runner = SimpleNamespace(iter=0, epoch=0,
                             train_loop=IterBasedTrainLoop.__new__(IterBasedTrainLoop))
    with pytest.raises(FloatingPointError, match=r'non-finite loss at iteration 1: loss=nan'):
        NonFiniteLossHook().after_train_iter(runner, 0, outputs=dict(loss=torch.tensor(math.nan)))


def test_training_stops_at_the_first_iteration_of_nan_losses(tmp_path, tool):
    from mpvg_mm import cli
    tool('make_demo_data').main([str(tmp_path), '--formats', 'imagenet', '--num-train', '1',
                                 '--num-val', '1'])
    config = f'{ROOT}/configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'
    with pytest.raises(FloatingPointError,
                       match=r'non-finite loss at iteration 1 \(epoch 1\): loss=nan'):
        cli.train_main([config, '--work-dir', str(tmp_path / 'wd'), '--cfg-options',
                        f'train_dataloader.dataset.data_root={tmp_path}/imagenet',
                        f'val_dataloader.dataset.data_root={tmp_path}/imagenet',
                        'model.head.loss.loss_weight=nan', 'experiment_name=nan'])
    assert not list((tmp_path / 'wd').glob('*.pth'))
