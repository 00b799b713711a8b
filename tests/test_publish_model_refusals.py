"""tools/model_converters/publish_model.py refuses bad inputs in one line `refused: ...`
(mpvg_mm.compat.load_checkpoint_file's errors and path checks), writing nothing."""
import re

import pytest
import torch


@pytest.fixture(scope='module')
def publish_model(tool):
    return tool('model_converters/publish_model')


@pytest.mark.parametrize('case, match', [
    ('not a checkpoint', 'refused: .*notes.txt'),
    ('empty', r'refused: .*empty.pth is empty \(0 bytes\)'),
    ('missing', 'refused: .*missing.pth not found'),
    ('directory', 'refused: .* is a directory: give the checkpoint file'),
    ('no output directory', 'refused: the output directory .*nodir does not exist'),
    ('a tensor', 'refused: .*tensor.pth holds a Tensor, not a checkpoint'),
])
def test_bad_input_is_refused_in_one_line(publish_model, tmp_path, case, match):
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': {'w': torch.zeros(2)}}, good)
    src, dst = str(good), str(tmp_path / 'out.pth')
    if case == 'not a checkpoint':
        src = str(tmp_path / 'notes.txt')
        (tmp_path / 'notes.txt').write_text('hello')
    elif case == 'empty':
        src = str(tmp_path / 'empty.pth')
        (tmp_path / 'empty.pth').write_bytes(b'')
    elif case == 'missing':
        src = str(tmp_path / 'missing.pth')
    elif case == 'directory':
        src = str(tmp_path)
    elif case == 'no output directory':
        dst = str(tmp_path / 'nodir' / 'out.pth')
    elif case == 'a tensor':
        src = str(tmp_path / 'tensor.pth')
        torch.save(torch.zeros(2), src)
    with pytest.raises(SystemExit) as exit_info:
        publish_model.main([src, dst])
    message = str(exit_info.value.code)
    assert len(message.splitlines()) == 1
    assert re.search(match, message), message
    assert not list(tmp_path.glob('out*'))
