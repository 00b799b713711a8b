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


def _mmseg_runner_checkpoint(path, with_cls_token, img_size):
    """An mmseg ViT segmentor saved as mmengine's Runner does: the config's pretty_text in
    ``meta['cfg']``. Returns the segmentor (eval)."""
    from mmengine.config import Config
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    model_cfg = dict(
        type='EncoderDecoder', data_preprocessor=None,
        backbone=dict(type='VisionTransformer', img_size=img_size, patch_size=16,
                      embed_dims=48, num_layers=4, num_heads=3, mlp_ratio=2, out_indices=(3,),
                      final_norm=True, with_cls_token=with_cls_token,
                      norm_cfg=dict(type='LN', eps=1e-6)),
        decode_head=dict(type='FCNHead', in_channels=48, in_index=0, channels=8, num_convs=1,
                         num_classes=4))
    seg = MODELS.build(model_cfg).eval()
    with torch.no_grad():
        for p in seg.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    torch.save(dict(state_dict=seg.state_dict(),
                    meta=dict(cfg=Config(dict(model=model_cfg)).pretty_text)), path)
    return seg


def test_mmseg_runner_checkpoint_settles_class_token_and_size_from_its_config(
        tool, tmp_path, capsys):
    from mpvg_mm.models import MPVGViT
    seg = _mmseg_runner_checkpoint(tmp_path / 'seg.pth', False, (48, 80))
    convert = tool('model_converters/convert')
    convert.main([str(tmp_path / 'seg.pth'), str(tmp_path / 'o.pth'), '--arch', ARCH])
    out = capsys.readouterr().out
    assert "with_cls_token=False from the checkpoint's training config" in out
    assert 'recorded pos_embed grid: 3x5' in out
    ckpt = torch.load(tmp_path / 'o.pth', weights_only=True)
    ours = MPVGViT(**ckpt['meta']['mpvg_backbone'], out_type='featmap').eval()
    ours.load_state_dict({k[len('backbone.'):]: v for k, v in ckpt['state_dict'].items()
                          if k.startswith('backbone.')})
    x = torch.randn(1, 3, 48, 80)
    with torch.no_grad():
        assert (ours(x)[0] - seg.backbone(x)[0]).abs().max() < 1e-5
    # flags that contradict the recorded config (transposed size, class token) are refused
    for extra, name in [(['--img-size', '80', '48'], 'img_size'),
                        (['--with-cls-token', '1'], 'with_cls_token')]:
        message = _convert_exit(convert, tmp_path, extra)
        assert "training config (meta['cfg'])" in message and name in message, message


def _convert_exit(convert, tmp_path, extra):
    try:
        convert.main([str(tmp_path / 'seg.pth'), str(tmp_path / 'o.pth'), '--arch', ARCH,
                      *extra])
    except SystemExit as done:
        return done.code
    return 0
