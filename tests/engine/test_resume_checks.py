"""tools/train.py --resume refuses a weights-only checkpoint before building anything."""
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
