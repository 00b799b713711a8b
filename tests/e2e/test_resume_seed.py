"""--resume of a run whose config leaves the seed to chance (``randomness=dict(seed=None)``)
continues exactly: the resumed run shuffles with the run's recorded seed (``meta['seed']``),
not with a newly drawn one."""
import json
import sys

import pytest

from mpvg_mm import cli

ROOT = __file__.rsplit('/tests/', 1)[0]
if f'{ROOT}/tests/e2e' not in sys.path:  # the test hooks, for the runs in this process
    sys.path.insert(0, f'{ROOT}/tests/e2e')
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('single_thread')]


def _losses(work_dir):
    with open(f'{work_dir}/losses_rank0.json') as f:
        return json.load(f)


def test_resume_without_a_seed_continues_with_the_runs_seed(demo_cls_config, tmp_path):
    options = ['randomness.seed=None', 'train_cfg.max_epochs=2', 'train_cfg.val_interval=100',
               'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=2']
    full, resumed = tmp_path / 'full', tmp_path / 'resumed'
    cli.train_main([demo_cls_config, '--work-dir', str(full), '--cfg-options', *options])
    want = _losses(full)[4:]  # epoch 2 (4 iterations an epoch)
    assert len(want) == 4
    cli.train_main([demo_cls_config, '--work-dir', str(resumed), '--resume',
                    f'{full}/epoch_1.pth', '--cfg-options', *options])
    assert _losses(resumed) == want
