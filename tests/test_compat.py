"""The torch.load shim: mmengine checkpoints load with weights_only, others are refused."""
import os

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from mpvg_mm.compat import CorruptCheckpointError, UnsafeCheckpointError


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
    with pytest.raises(UnsafeCheckpointError,
                       match=r'refused to load .*bad\.pth.*allow-list.*global posix\.getcwd'):
        _load_checkpoint(str(path), map_location='cpu')


def _corrupt_files(tmp_path):
    torch.save({'state_dict': {'w': torch.ones(64)}}, tmp_path / 'good.pth')
    good = (tmp_path / 'good.pth').read_bytes()
    (tmp_path / 'empty.pth').write_bytes(b'')
    (tmp_path / 'truncated.pth').write_bytes(good[:len(good) // 2])
    (tmp_path / 'random.pth').write_bytes(np.random.default_rng(0).bytes(4096))
    (tmp_path / 'text.pth').write_text('version https://git-lfs.github.com/spec/v1\n')
    return ['empty', 'truncated', 'random', 'text']


def test_corrupt_files_are_named_and_not_called_unsafe(tmp_path):
    for name in _corrupt_files(tmp_path):
        with pytest.raises(CorruptCheckpointError) as info:
            _load_checkpoint(str(tmp_path / f'{name}.pth'), map_location='cpu')
        message = str(info.value)
        assert f'{tmp_path}/{name}.pth' in message
        assert 'weights_only=False' not in message and 'allow-list' not in message
        assert ('is empty (0 bytes)' if name == 'empty' else 'truncated or damaged') in message


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.pth'):
        _load_checkpoint(str(tmp_path / 'nothere.pth'))
