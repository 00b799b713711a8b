"""The torch.load shim: mmengine checkpoints load with weights_only, others are refused."""
import os

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from mpvg_mm.compat import UnsafeCheckpointError


def test_mmengine_style_checkpoint_loads(tmp_path):
    buf = HistoryBuffer()
    buf.update(0.5)
    ckpt = dict(meta=dict(seed=np.int64(3), epoch=1, stats=np.arange(3.0)),
                state_dict={'w': torch.ones(2)},
                message_hub=dict(log_scalars={'train/loss': buf}))
    path = tmp_path / 'ok.pth'
    torch.save(ckpt, path)
    loaded = _load_checkpoint(str(path), map_location='cpu')
    assert loaded['meta']['seed'] == 3
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 0.5


class _Smuggler:
    def __reduce__(self):
        return (os.getcwd, ())


def test_smuggled_object_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / 'bad.pth'
    torch.save({'state_dict': {}, 'payload': _Smuggler()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r'refused to load .*bad\.pth.*allow-list'):
        _load_checkpoint(str(path), map_location='cpu')


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.pth'):
        _load_checkpoint(str(tmp_path / 'nothere.pth'))
