"""Classification end to end with the real tools: train, test, resume, 2-process DDP."""
import json
import os
import pickle
import sys

import pytest
import torch

ROOT = __file__.rsplit('/tests/', 1)[0]
pytestmark = pytest.mark.slow


def _options(*extra):
    return ['--cfg-options', *extra] if extra else []


@pytest.fixture(scope='module')
def two_epochs(demo_cls_config, run_in_process, tmp_path_factory):
    """Two epochs of the demo classifier with a checkpoint after each (no validation):
    the uninterrupted run of the resume test and the one-process run of the DDP test."""
    wd = tmp_path_factory.mktemp('cls') / 'two_epochs'
    run_in_process('train.py', [demo_cls_config, '--work-dir', str(wd), *_options(
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=5')])
    return wd


def _losses(work_dir, rank=0):
    with open(f'{work_dir}/losses_rank{rank}.json') as f:
        return json.load(f)


def test_train_then_test(demo_cls_config, run_in_process, tmp_path):
    wd = tmp_path / 'wd'
    run_in_process('train.py', [demo_cls_config, '--work-dir', str(wd), *_options(
        'train_cfg.max_epochs=6', 'train_cfg.val_interval=6')])
    losses = _losses(wd)
    assert len(losses) == 6 * 4
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 0.1, losses
    ckpt = f'{wd}/epoch_6.pth'
    out = run_in_process('test.py', [demo_cls_config, ckpt, '--work-dir',
                                     str(tmp_path / 'test'), '--out', str(tmp_path / 'preds.pkl')])
    assert 'accuracy/top1' in out
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 8 * 4


def test_resume_continues_exactly(demo_cls_config, two_epochs, run_in_process, tmp_path):
    full, part = two_epochs, tmp_path / 'part'
    # an interruption after epoch 1 leaves epoch_1.pth behind; a new run resumes from it
    os.makedirs(part)
    run_in_process('train.py', [demo_cls_config, '--work-dir', str(part), '--resume',
                                f'{full}/epoch_1.pth', *_options(
                                    'train_cfg.max_epochs=2', 'train_cfg.val_interval=100',
                                    'default_hooks.checkpoint.interval=1')])
    resumed = _losses(full)[:4] + _losses(part)
    assert len(_losses(part)) == 4
    torch.testing.assert_close(torch.tensor(resumed), torch.tensor(_losses(full)))
    a = torch.load(f'{full}/epoch_2.pth', weights_only=True)
    b = torch.load(f'{part}/epoch_2.pth', weights_only=True)
    assert a['meta']['iter'] == b['meta']['iter'] == 8
    for k, v in a['state_dict'].items():
        torch.testing.assert_close(b['state_dict'][k], v, msg=k)
    assert a['optimizer']['param_groups'][0]['lr'] == pytest.approx(
        b['optimizer']['param_groups'][0]['lr'])
    assert [s['last_step'] for s in a['param_schedulers']] == [
        s['last_step'] for s in b['param_schedulers']]


def test_two_process_ddp_matches_one_process(demo_cls_config, two_epochs, run_tool, tmp_path,
                                             exit_probe):
    """The first iteration's loss of two processes of 16 images each averages to the
    one-process loss on the 32 images; no gloo thread outlives the process group into
    interpreter finalization (the exit probe counts each rank's threads at exit)."""
    two = tmp_path / 'two'
    run_tool('dist_train.sh', [demo_cls_config, '2', '--work-dir', str(two), *_options(
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=100',
        'default_hooks.checkpoint.interval=100', 'train_dataloader.batch_size=16',
        'env_cfg.dist_cfg.backend=gloo')],
        env=dict(PYTHON=sys.executable, PORT='29517',
                 **exit_probe.env(tmp_path / 'exit', f'{ROOT}:{ROOT}/tests/e2e')))
    assert exit_probe.threads(tmp_path / 'exit') == {'rank0': 1, 'rank1': 1}
    single = _losses(two_epochs)[0]
    per_rank = [_losses(two, r)[0] for r in (0, 1)]
    assert sum(per_rank) / 2 == pytest.approx(single, rel=1e-5, abs=1e-5)
    assert per_rank[0] != pytest.approx(per_rank[1])
