"""tools/train.py refuses at start what would fail or go wrong later: --resume of a
weights-only checkpoint, a schedule shorter than its warm-up, --amp without an accelerator."""
import pytest
import torch

from mpvg_mm.cli import train_main

ROOT = __file__.rsplit('/tests/', 1)[0]
DEMO_CONFIG = f'{ROOT}/configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'


def _save(path, **parts):
    torch.save(dict(meta=dict(epoch=3, iter=12), state_dict={'w': torch.ones(2)}, **parts),
               path)
    return str(path)


def test_resume_of_a_best_checkpoint_is_refused(tmp_path):
    # what mmengine's CheckpointHook writes as best_*.pth: weights, meta and message hub
    best = _save(tmp_path / 'best_accuracy_top1_epoch_3.pth', message_hub={})
    with pytest.raises(ValueError, match=r'(?s)holds weights only, without optimizer, '
                       r'param_schedulers.*load_from=.*best_accuracy_top1_epoch_3\.pth'):
        train_main([DEMO_CONFIG, '--work-dir', str(tmp_path), '--resume', best])


def test_auto_resume_checks_the_checkpoint_last_checkpoint_names(tmp_path):
    weights = _save(tmp_path / 'epoch_3.pth')
    (tmp_path / 'last_checkpoint').write_text(weights)
    with pytest.raises(ValueError, match="without optimizer, message_hub"):
        train_main([DEMO_CONFIG, '--work-dir', str(tmp_path), '--resume'])


def test_a_complete_checkpoint_passes_the_check(tmp_path):
    from mpvg_mm.engine.checkpoint_hook import check_resumable
    full = _save(tmp_path / 'epoch_3.pth', message_hub={}, optimizer={'state': {}},
                 param_schedulers=[])
    check_resumable(full)
    check_resumable(_save(tmp_path / 'no_sched.pth', message_hub={}, optimizer={}),
                    needs_param_schedulers=False)


# the suggested fixes are feasible: at least warm-up + 1 epochs, or a warm-up of
# 1..max_epochs-1 epochs; a 1-epoch run (no room for an epoch warm-up) warms up by iterations
@pytest.mark.parametrize('config, epochs, fix', [
    (DEMO_CONFIG, 1,  # 1 warm-up epoch
     r'at least 2 epochs \(--cfg-options train_cfg.max_epochs=2\), or warm up within the '
     r'epoch by iterations: --cfg-options param_scheduler.0.by_epoch=False '
     r'param_scheduler.0.convert_to_iter_based=False param_scheduler.0.end=<iterations> param_scheduler.1.begin=0'),
    (f'{ROOT}/configs/vit_lite/vit-lite-7-4_mpvg_1xb128_cifar100.py', 10,  # 10
     r'at least 11 epochs .*to N epochs with 1 <= N <= 9: --cfg-options '
     r'param_scheduler.0.end=N param_scheduler.1.begin=N'),
    (f'{ROOT}/configs/mpvg/deit-tiny_mpvg_8xb128_in1k.py', 3,  # 5
     r'at least 6 epochs .*to N epochs with 1 <= N <= 2: --cfg-options '
     r'param_scheduler.0.end=N param_scheduler.1.begin=N'),
])
def test_a_schedule_shorter_than_the_warm_up_is_refused_at_start(tmp_path, config, epochs,
                                                                  fix):
    with pytest.raises(ValueError, match=rf'train_cfg.max_epochs={epochs} is too short .*'
                       r'param_scheduler\[1\] \(CosineAnnealingLR\) begins at epoch '
                       rf'.*{fix}'):
        train_main([config, '--work-dir', str(tmp_path), '--cfg-options',
                    f'train_cfg.max_epochs={epochs}'])


def test_amp_without_an_accelerator_is_refused_at_start(tmp_path, monkeypatch):
    from mmengine import device
    for name in ('cuda', 'npu', 'mlu', 'musa'):
        monkeypatch.setattr(device, f'is_{name}_available', lambda: False)
    with pytest.raises(ValueError, match='--amp needs an accelerator.*drop --amp'):
        train_main([DEMO_CONFIG, '--work-dir', str(tmp_path), '--amp'])


def test_an_amp_optim_wrapper_of_the_config_without_an_accelerator_is_refused(tmp_path,
                                                                              monkeypatch):
    from mmengine import device
    for name in ('cuda', 'npu', 'mlu', 'musa'):
        monkeypatch.setattr(device, f'is_{name}_available', lambda: False)
    with pytest.raises(ValueError, match=r'optim_wrapper.type=AmpOptimWrapper in the config '
                       r'needs an accelerator.*optim_wrapper.type=OptimWrapper'):
        train_main([DEMO_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
                    'optim_wrapper.type=AmpOptimWrapper'])


def test_a_shortened_run_warns_that_the_cosine_is_cut_short(monkeypatch):
    """train_cfg.max_epochs=100 on the 300-epoch DeiT config: a warning (not an error)
    naming the cosine, its end, the run's length, the lr it stops at (the cosine from
    1e-3 to 1e-5 over epochs 5-300, at epoch 100) and the --cfg-options that fit it."""
    import math

    from mmengine.config import Config

    from mpvg_mm import cli
    logged = []
    monkeypatch.setattr(cli, 'print_log', lambda msg, **kw: logged.append((msg, kw['level'])))
    cfg = Config.fromfile(f'{ROOT}/configs/mpvg/deit-tiny_mpvg_8xb128_in1k.py')
    assert cli.warn_truncated_schedule(cfg) == []
    cfg.merge_from_dict({'train_cfg.max_epochs': 100})
    (message, ) = cli.warn_truncated_schedule(cfg)
    assert logged == [(message, 30)]  # logging.WARNING
    stop = 1e-5 + (1e-3 - 1e-5) * (1 + math.cos(math.pi * 95 / 295)) / 2  # ~7.7e-4
    assert stop == pytest.approx(7.7e-4, rel=1e-2)
    for part in ('param_scheduler[1] (CosineAnnealingLR) runs to epoch 300',
                 'the run ends at epoch 100 (train_cfg.max_epochs=100)', f'stops at {stop:.2e}',
                 '--cfg-options param_scheduler.1.end=100 param_scheduler.1.T_max=95'):
        assert part in message, (part, message)
    # the fix it names fits the schedule to the run
    cfg.merge_from_dict({'param_scheduler.1.end': 100, 'param_scheduler.1.T_max': 95})
    assert cli.warn_truncated_schedule(cfg) == []
    # iteration-based: the segmentors' poly to 0 at 160k, stopped at 40k
    cfg = Config.fromfile(
        f'{ROOT}/configs/upernet/upernet_mpvg-vit-deit-tiny_mpvg_8xb2-160k_ade20k-512x512.py')
    assert cli.warn_truncated_schedule(cfg) == []
    cfg.merge_from_dict({'train_cfg.max_iters': 40000})
    (message, ) = cli.warn_truncated_schedule(cfg)
    stop = 6e-5 * (1 - (40000 - 1500) / (160000 - 1500))
    assert 'runs to iteration 160000' in message and f'stops at {stop:.2e}' in message
    assert '--cfg-options param_scheduler.1.end=40000' in message
