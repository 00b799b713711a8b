"""A preempted run loses no checkpoint and crowns no wrong best: real SIGKILLs of
tools/train.py in the middle of a checkpoint write, then --resume (DurableCheckpointHook).

The demo classifier on 16 images (one iteration an epoch), validated every epoch with
scripted scores (ScriptedMetricHook) so that the best epoch is known: 30.0, 35.16, 33.59
(epoch 2 is the best; epoch 3, worse, must not be crowned)."""
import contextlib
import glob
import json
import os
import shutil
import signal
import time

import pytest
import torch

ROOT = __file__.rsplit('/tests/', 1)[0]
SCORES = [30.0, 35.16, 33.59]
BEST = 'best_accuracy_top1_epoch_2.pth'
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('single_thread')]


@pytest.fixture(scope='module')
def demo_config(demo_cls_config, tmp_path_factory):
    config = tmp_path_factory.mktemp('durability') / 'scripted.py'
    config.write_text(
        f"_base_ = ['{demo_cls_config}']\n"
        f"custom_hooks = [dict(type='ScriptedMetricHook', key='accuracy/top1', "
        f"scores={SCORES})]\n"
        "default_hooks = dict(checkpoint=dict(interval=1))\n"
        "train_cfg = dict(max_epochs=3, val_interval=1)\n")
    return str(config)


@pytest.fixture(scope='module')
def train_killed_while_writing(fork_server):
    """``train_killed_while_writing(args, name, marker)``: run tools/train.py until it is
    half-way through writing the checkpoint ``name`` (``NAME#N``: the N-th write of that
    name), then SIGKILL it. Each run is a process forked from one interpreter that imported
    torch, the toolboxes and mpvg_mm once (not ~15 s of imports per run); the stalling write
    is installed by the run's own import of mpvg_test_hooks (its config's custom_imports)."""
    server = fork_server('from mmpretrain.utils import register_all_modules\n'
                         'import mpvg_mm.cli\n'
                         'register_all_modules(init_default_scope=False)')

    def run(args, name, marker):
        pid, output = server.start(f'{ROOT}/tools/train.py', args, env=dict(
            MPVG_TEST_STALL_WRITE=name, MPVG_TEST_STALL_MARKER=marker))
        try:
            deadline = time.monotonic() + 600
            while not os.path.exists(marker):
                assert not server.ended(pid), f'ended before writing {name}: {output()[-4000:]}'
                assert time.monotonic() < deadline, f'never reached the write of {name}'
                time.sleep(0.2)
        finally:  # killed half-way through the write (or, when the test fails, anyway)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            status = server.wait(60)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status

    return run


def _load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def _best_files(work_dir):
    return sorted(os.path.basename(p) for p in glob.glob(f'{work_dir}/best_*.pth'))


def _check_resumable_state(wd, epoch, best_files):
    """What a requeued job finds: last_checkpoint names a complete, resumable checkpoint of
    ``epoch``, the best checkpoints are ``best_files`` and complete."""
    with open(wd / 'last_checkpoint') as f:
        checkpoint = _load(f.read().strip())
    assert {'optimizer', 'param_schedulers', 'message_hub'} <= set(checkpoint)
    assert checkpoint['meta']['epoch'] == epoch
    assert _best_files(wd) == best_files
    for name in best_files:
        _load(wd / name)


def test_kills_during_checkpoint_writes_then_resume(demo_config, run_in_process,
                                                    train_killed_while_writing, tmp_path):
    """Three kills, each half-way through a checkpoint write, in one run (max_keep_ckpts=1,
    so that the checkpoint being replaced is the only one)."""
    wd = tmp_path / 'wd'
    args = [demo_config, '--work-dir', str(wd), '--cfg-options',
            'default_hooks.checkpoint.max_keep_ckpts=1']
    resume = [*args[:3], '--resume', *args[3:]]
    # 1. the epoch checkpoint: epoch_1.pth survives and last_checkpoint names it
    train_killed_while_writing(args, 'epoch_2.pth', str(tmp_path / 'stall1'))
    _check_resumable_state(wd, 1, ['best_accuracy_top1_epoch_1.pth'])
    # 2. the new best checkpoint (epoch 2): the old best survives
    train_killed_while_writing(resume, BEST, str(tmp_path / 'stall2'))
    _check_resumable_state(wd, 2, ['best_accuracy_top1_epoch_1.pth'])
    # 3. resumed, epoch 2's lost validation runs again, its best is written, the old one
    # removed; killed while epoch_2.pth is saved again to name the new best
    train_killed_while_writing(resume, 'epoch_2.pth', str(tmp_path / 'stall3'))
    _check_resumable_state(wd, 2, [BEST])
    # the run ends with epoch 2 as the best: epoch 3 (33.59) is not crowned
    out = run_in_process('train.py', [*resume, 'experiment_name=resumed'])
    assert 'Validating epoch 2 again' in out
    assert f'Adopted the best checkpoint {wd}/{BEST} (35.1600)' in out
    assert sorted(p for p in os.listdir(wd) if p.endswith('.pth') or p.startswith('.')) == [
        BEST, 'epoch_3.pth']  # no temporary file left, one best, max_keep_ckpts=1
    info = _load(wd / 'epoch_3.pth')['message_hub']['runtime_info']
    assert info['best_score'] == pytest.approx(SCORES[1])
    assert info['best_ckpt'] == str(wd / BEST)
    best = _load(wd / BEST)
    assert best['meta']['best_score'] == pytest.approx(SCORES[1])
    assert best['meta']['epoch'] == 2


def test_resume_from_another_run_never_deletes_its_files(demo_config, run_in_process,
                                                         tmp_path):
    run_a, run_b = tmp_path / 'a', tmp_path / 'b'
    run_in_process('train.py', [demo_config, '--work-dir', str(run_a), '--cfg-options',
                                'default_hooks.checkpoint.max_keep_ckpts=3', 'experiment_name=a'])
    files_a = {p: os.path.getsize(p) for p in glob.glob(f'{run_a}/*.pth')}
    assert os.path.basename(next(p for p in files_a if 'best' in p)) == BEST
    # run B continues A's epoch 2 in its own directory; its better epoch 3 replaces only
    # its own best checkpoints, not A's best (epoch 2), which B's resumed record names
    out = run_in_process('train.py', [
        demo_config, '--work-dir', str(run_b), '--resume', f'{run_a}/epoch_2.pth',
        '--cfg-options', 'default_hooks.checkpoint.max_keep_ckpts=1', 'experiment_name=b',
        'custom_hooks.0.scores=[30.0,35.16,40.0]'])
    assert {p: os.path.getsize(p) for p in glob.glob(f'{run_a}/*.pth')} == files_a
    assert 'belongs to another run directory' in out
    assert f'Kept the previous best checkpoint {run_a}/{BEST}' in out
    assert _best_files(run_b) == ['best_accuracy_top1_epoch_3.pth']


def test_random_augmentation_continues_exactly_after_a_kill(demo_config, run_in_process,
                                                             train_killed_while_writing,
                                                             tmp_path):
    """Random crops (numpy), Mixup (numpy + torch) and drop path (torch): the epoch after a
    kill and --resume sees the same random draws, hence the same losses, as without the kill;
    without the saved random states it does not."""
    config = tmp_path / 'random_aug.py'
    config.write_text(
        f"_base_ = ['{demo_config}']\n"
        "custom_imports = dict(imports=['mpvg_mm', 'mpvg_test_hooks'])\n"
        "custom_hooks = [dict(type='RecordLossHook')]\n"
        "train_cfg = dict(max_epochs=2, val_interval=100)\n"
        "model = dict(backbone=dict(drop_path_rate=0.1),\n"
        "             train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8)]))\n"
        "train_dataloader = dict(dataset=dict(pipeline=[\n"
        "    dict(type='LoadImageFromFile'),\n"
        "    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.0)),\n"
        "    dict(type='PackInputs')]))\n")
    config = str(config)
    full, part = tmp_path / 'full', tmp_path / 'part'
    run_in_process('train.py', [config, '--work-dir', str(full), '--cfg-options',
                                'experiment_name=f'])
    train_killed_while_writing([config, '--work-dir', str(part)], 'epoch_2.pth',
                                str(tmp_path / 'stalled'))

    def epoch_2_losses(work_dir, *options):
        shutil.copytree(part, work_dir)
        run_in_process('train.py', [config, '--work-dir', str(work_dir), '--resume',
                                    '--cfg-options', f'experiment_name={work_dir.name}',
                                    *options])
        with open(work_dir / 'losses_rank0.json') as f:
            return json.load(f)

    with open(full / 'losses_rank0.json') as f:
        want = json.load(f)[4:]
    assert len(want) == 4
    assert epoch_2_losses(tmp_path / 'resumed') == want
    unseeded = epoch_2_losses(tmp_path / 'without_rng', 'default_hooks.checkpoint.'
                              'save_rng_state=False')
    assert unseeded != want
