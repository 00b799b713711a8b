"""Classification end to end with the real tools: train, test, resume, 2-process DDP."""
import json
import os
import pickle
import subprocess
import sys

import pytest
import torch

ROOT = __file__.rsplit('/tests/', 1)[0]
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def demo_data(demo_cls_config):
    return demo_cls_config


def _options(*extra):
    return ['--cfg-options', *extra] if extra else []


def _run(args, env_extra=None, script='train.py'):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=f'{ROOT}:{ROOT}/tests/e2e')
    env.update(env_extra or {})
    cmd = args if script is None else [sys.executable, f'{ROOT}/tools/{script}', *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _losses(work_dir, rank=0):
    with open(f'{work_dir}/losses_rank{rank}.json') as f:
        return json.load(f)


def test_train_then_test(demo_data, tmp_path):
    CONFIG = demo_data
    wd = tmp_path / 'wd'
    _run([CONFIG, '--work-dir', str(wd), *_options('train_cfg.max_epochs=6',
                                                  'train_cfg.val_interval=6')])
    losses = _losses(wd)
    assert len(losses) == 6 * 4
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 0.1, losses
    ckpt = f'{wd}/epoch_6.pth'
    out = _run([CONFIG, ckpt, '--work-dir', str(tmp_path / 'test'), '--out',
                str(tmp_path / 'preds.pkl'), *_options()], script='test.py')
    assert 'accuracy/top1' in out
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 8 * 4


def test_resume_continues_exactly(demo_data, tmp_path):
    CONFIG = demo_data
    full, part = tmp_path / 'full', tmp_path / 'part'
    common = ['train_cfg.val_interval=100', 'default_hooks.checkpoint.interval=1',
              'default_hooks.checkpoint.max_keep_ckpts=5']
    _run([CONFIG, '--work-dir', str(full), *_options('train_cfg.max_epochs=2',
                                                    *common)])
    # an interruption after epoch 1 leaves epoch_1.pth behind; a new run resumes from it
    os.makedirs(part)
    _run([CONFIG, '--work-dir', str(part), '--resume', f'{full}/epoch_1.pth',
          *_options('train_cfg.max_epochs=2', *common)])
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


def test_two_process_ddp_matches_one_process(demo_data, tmp_path, exit_probe):
    CONFIG = demo_data
    one, two = tmp_path / 'one', tmp_path / 'two'
    opts = ['train_cfg.max_epochs=2', 'train_cfg.val_interval=100',
            'default_hooks.checkpoint.interval=100']
    _run([CONFIG, '--work-dir', str(one), *_options(*opts)])
    _run(['bash', f'{ROOT}/tools/dist_train.sh', CONFIG, '2', '--work-dir', str(two),
          *_options(*opts, 'train_dataloader.batch_size=16',
                    'env_cfg.dist_cfg.backend=gloo')],
         env_extra=dict(PYTHON=sys.executable, PORT='29517',
                        **exit_probe.env(tmp_path / 'exit', f'{ROOT}:{ROOT}/tests/e2e')),
         script=None)
    # no gloo thread outlives the process group into interpreter finalization
    assert exit_probe.threads(tmp_path / 'exit') == {'rank0': 1, 'rank1': 1}
    single = _losses(one)[0]
    per_rank = [_losses(two, r)[0] for r in (0, 1)]
    assert sum(per_rank) / 2 == pytest.approx(single, rel=1e-5, abs=1e-5)
    assert per_rank[0] != pytest.approx(per_rank[1])
