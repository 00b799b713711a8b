"""Test-only hooks: each rank writes its training losses to WORK_DIR/losses_rank{r}.json;
scripted validation scores; a checkpoint write that stalls half-way (for SIGKILL tests)."""
import json
import os
import os.path as osp
import time

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RecordLossHook(Hook):

    def before_run(self, runner):
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses.append(float(outputs['loss']))
        with open(osp.join(runner.work_dir, f'losses_rank{get_rank()}.json'), 'w') as f:
            json.dump(self.losses, f)


@HOOKS.register_module()
class ScriptedMetricHook(Hook):
    """Replaces the validation metric ``key`` of epoch ``e`` (1-based) by ``scores[e - 1]``
    before the checkpoint hook reads it, so that the best checkpoint is decided by the test."""
    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW)

    def __init__(self, key, scores):
        self.key, self.scores = key, list(scores)

    def after_val_epoch(self, runner, metrics=None):
        metrics[self.key] = self.scores[runner.epoch - 1]


def _install_write_stall():
    """``MPVG_TEST_STALL_WRITE=NAME[#N]``: the N-th (default first) checkpoint write whose file
    name is NAME (ignoring a hidden temporary prefix '.' and suffix '.partial') writes half of
    its bytes, creates the file ``$MPVG_TEST_STALL_MARKER`` and sleeps, so that the test can
    SIGKILL the process in the middle of the write."""
    target = os.environ.get('MPVG_TEST_STALL_WRITE')
    if not target:
        return
    name, _, nth = target.partition('#')
    nth = int(nth or 1)
    from mmengine.fileio.backends import LocalBackend
    put = LocalBackend.put
    seen = [0]

    def stalling_put(self, obj, filepath):
        base = osp.basename(str(filepath))
        if base.startswith('.'):
            base = base[1:]
        if base.endswith('.partial'):
            base = base[:-len('.partial')]
        if base == name:
            seen[0] += 1
            if seen[0] == nth:
                with open(filepath, 'wb') as f:
                    f.write(obj[:len(obj) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                open(os.environ['MPVG_TEST_STALL_MARKER'], 'w').close()
                time.sleep(3600)
        return put(self, obj, filepath)

    LocalBackend.put = stalling_put


_install_write_stall()
