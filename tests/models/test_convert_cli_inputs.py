"""``tools/model_converters/convert.py`` on the files users really hold (issue 12 review
4, 5, 7, 8): every bad file is one ``refused: ...`` line (exit status != 0), a DeiT
training file (``argparse.Namespace`` under ``'args'``) converts, wrappers are unwrapped
deterministically and the one used is printed, a wrong ``--layout`` names the detected
layout."""
import argparse
import pickle

import numpy as np
import pytest
import torch

from mpvg_mm.compat import load_checkpoint_file

ARCH = '{"embed_dims":48,"num_layers":4,"num_heads":3,"mlp_ratio":2.0,"patch_size":16}'


class _Evil:
    def __reduce__(self):
        return (print, ('EVIL RAN',))


@pytest.fixture(scope='module')
def timm_sd():
    from timm.models.vision_transformer import VisionTransformer
    torch.manual_seed(0)
    return VisionTransformer(img_size=64, patch_size=16, embed_dim=48, depth=4, num_heads=3,
                             mlp_ratio=2.0, num_classes=10).state_dict()


def _run(tool, tmp_path, src, *extra):
    """``(exit code or message, stdout)`` of convert.py SRC DST --arch ... --img-size 64."""
    convert = tool('model_converters/convert')
    argv = [str(src), str(tmp_path / 'out.pth'), '--arch', ARCH, '--img-size', '64', *extra]
    try:
        convert.main(argv)
    except SystemExit as done:
        return done.code
    return 0


def test_every_bad_file_is_one_refused_line(tool, tmp_path, timm_sd, capsys):
    good = tmp_path / 'good.pth'
    torch.save({'model': timm_sd}, good)
    data = good.read_bytes()
    files = {'truncated': data[:len(data) // 2], 'empty': b'', 'text': b'hello',
             'random': np.random.default_rng(0).bytes(1000)}
    for name, content in files.items():
        (tmp_path / f'{name}.pth').write_bytes(content)
    torch.save([1, 2, 3], tmp_path / 'list.pth')
    torch.save(torch.randn(3), tmp_path / 'tensor.pth')
    torch.save({'state_dict': {}}, tmp_path / 'emptysd.pth')
    torch.save({'model': timm_sd, 'x': _Evil()}, tmp_path / 'evil.pth')
    for name in [*files, 'list', 'tensor', 'emptysd', 'evil']:
        message = _run(tool, tmp_path, tmp_path / f'{name}.pth')
        assert isinstance(message, str) and message.startswith('refused: '), (name, message)
        assert '\n' not in message, name
        if name == 'evil':
            assert 'builtins.print' in message or 'global print' in message
        else:  # damaged or non-dict files are not called unsafe
            assert 'weights_only=False' not in message, name
    assert 'EVIL RAN' not in capsys.readouterr().out


def test_random_bytes_that_parse_as_a_pickle_global_are_corrupt_not_unsafe(tmp_path):
    # a pickle that names a global, without torch.save's magic number
    (tmp_path / 'p.pth').write_bytes(pickle.dumps(_Evil(), protocol=2))
    with pytest.raises(ValueError, match='truncated or damaged') as info:
        load_checkpoint_file(str(tmp_path / 'p.pth'))
    assert 'weights_only=False' not in str(info.value)


def test_deit_training_checkpoint_with_namespace_args_converts(tool, tmp_path, timm_sd,
                                                              capsys):
    # as facebookresearch/deit main.py saves it (utils.save_on_master(dict(...)))
    args = argparse.Namespace(model='deit_tiny_patch16_224', lr=5e-4, input_size=64,
                              mixup=0.8, smoothing=0.1, data_path='/data', model_ema=True,
                              repeated_aug=True, drop_path=0.1, output_dir='')
    torch.save({'model': timm_sd, 'optimizer': {'state': {}, 'param_groups': [
                    {'lr': 1e-3, 'params': [0, 1]}]},
                'lr_scheduler': {'decay_t': 300}, 'epoch': 3,
                'model_ema': {k: v * 0 for k, v in timm_sd.items()},
                'scaler': {'scale': 65536.0}, 'args': args}, tmp_path / 'deit.pth')
    assert load_checkpoint_file(str(tmp_path / 'deit.pth'))['args'].lr == 5e-4
    assert _run(tool, tmp_path, tmp_path / 'deit.pth') == 0
    out = capsys.readouterr().out
    assert "weights from checkpoint['model'] (also present, not used: ['model_ema'])" in out
    converted = torch.load(tmp_path / 'out.pth', weights_only=True)['state_dict']
    assert torch.equal(converted['backbone.blocks.1.attn.qkv.weight'],
                       timm_sd['blocks.1.attn.qkv.weight'])


@pytest.mark.parametrize('wrapped, used', [
    (lambda sd: {'model_ema': sd, 'model': {}}, "['model_ema']"),
    (lambda sd: {'state_dict': {'model': sd}}, "['state_dict']['model']"),
    (lambda sd: {'model': {'module.' + k: v for k, v in sd.items()}}, "['model']"),
])
def test_wrappers_are_resolved_and_reported(tool, tmp_path, timm_sd, capsys, wrapped, used):
    torch.save(wrapped(timm_sd), tmp_path / 'w.pth')
    assert _run(tool, tmp_path, tmp_path / 'w.pth') == 0
    assert f'weights from checkpoint{used}' in capsys.readouterr().out
    converted = torch.load(tmp_path / 'out.pth', weights_only=True)['state_dict']
    assert torch.equal(converted['backbone.norm.weight'], timm_sd['norm.weight'])


def test_wrong_layout_names_the_detected_one_and_the_fix(tool, tmp_path, timm_sd):
    torch.save(timm_sd, tmp_path / 't.pth')
    message = _run(tool, tmp_path, tmp_path / 't.pth', '--layout', 'mmpretrain')
    assert message.startswith('refused: --layout mmpretrain, but the keys are the timm')
    assert 'drop --layout (detected: timm) or use --layout timm' in message
