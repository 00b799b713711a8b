"""``MPVGPretrained``: the trained or the EMA weights of a checkpoint written the way
mmengine's ``EMAHook`` writes it (``before_save_checkpoint``: ``state_dict`` = EMA,
``ema_state_dict`` = ``module.<key>`` trained + ``steps``), loaded through the
backbone's ``load_state_dict`` (its PE-resampling hook runs)."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import EMAHook
from mmengine.registry import DefaultScope, init_default_scope

from mpvg_mm.engine import pretrained_init  # (importing mpvg_mm registers MPVGPretrained)
from mpvg_mm.models import MPVGViT

pytestmark = pytest.mark.usefixtures('single_thread')
ARCH = dict(embed_dims=48, num_layers=2, num_heads=3, mlp_ratio=2.0, patch_size=16)


def _classifier(img_size):
    from mmpretrain.registry import MODELS
    return MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='MPVGViT', arch=dict(ARCH, img_size=img_size),
                                              pe_mode='mpvg'),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=48)))


def _ema_checkpoint(tmp_path):
    """A classifier trained (by hand) under mmengine's EMAHook, saved as the Runner saves
    it. Returns (path, trained backbone state, EMA backbone state)."""
    torch.manual_seed(0)
    model = _classifier(32)
    hook = EMAHook(momentum=0.5)
    runner = SimpleNamespace(model=model)
    hook.before_run(runner)
    for _ in range(3):  # "training": the weights move, the EMA follows at 0.5
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        hook.ema_model.update_parameters(model)
    checkpoint = dict(meta=dict(), state_dict={k: v.clone() for k, v in model.state_dict().items()})
    hook.before_save_checkpoint(runner, checkpoint)  # mmengine's layout
    assert 'module.backbone.pos_embed' in checkpoint['ema_state_dict']
    assert 'steps' in checkpoint['ema_state_dict']
    path = tmp_path / 'ema.pth'
    torch.save(checkpoint, path)
    sub = lambda state: {k[9:]: v for k, v in state.items() if k.startswith('backbone.')}  # noqa
    trained = sub(model.state_dict())
    ema = sub(hook.ema_model.module.state_dict())
    assert not torch.equal(trained['blocks.0.attn.qkv.weight'], ema['blocks.0.attn.qkv.weight'])
    return str(path), trained, ema


def _load(path, img_size=32, **kwargs):
    DefaultScope._instance_dict.clear()
    init_default_scope('mmdet')  # as a dense config builds it
    model = MPVGViT(arch=dict(ARCH, img_size=img_size), pe_mode='mpvg', init_cfg=dict(
        type='MPVGPretrained', checkpoint=path, prefix='backbone.', **kwargs))
    model.init_weights()
    return model.state_dict()


def _assert_loaded(state, expected):
    for key, value in expected.items():
        if key != 'pos_embed_grid':
            torch.testing.assert_close(state[key], value, rtol=0, atol=0, msg=key)


@pytest.mark.parametrize('use_ema', [False, True])
def test_trained_or_ema_weights_of_an_ema_hook_checkpoint(tmp_path, use_ema, monkeypatch):
    path, trained, ema = _ema_checkpoint(tmp_path)
    logged = []
    monkeypatch.setattr(pretrained_init, 'print_log', lambda msg, **kw: logged.append(msg))
    state = _load(path, use_ema=use_ema)
    _assert_loaded(state, ema if use_ema else trained)
    assert ('the EMA weights' if use_ema else 'the trained (non-EMA) weights') in logged[0]
    # the backbone's load hook runs: the PE resampled to a 48-pixel model's 3x3 grid
    from mpvg_mm.models import resample_pos_embed
    source = ema if use_ema else trained
    big = _load(path, img_size=48, use_ema=use_ema)
    torch.testing.assert_close(big['pos_embed'],
                               resample_pos_embed(source['pos_embed'], (2, 2), (3, 3), 0))


def test_a_file_without_ema(tmp_path):
    torch.manual_seed(1)
    model = _classifier(32)
    path = tmp_path / 'plain.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    plain = {k[9:]: v for k, v in model.state_dict().items() if k.startswith('backbone.')}
    _assert_loaded(_load(str(path), use_ema=False), plain)
    with pytest.raises(ValueError, match=r"use_ema=True, but .* has no 'ema_state_dict'.*"
                                         r'use_ema=False'):
        _load(str(path), use_ema=True)
    with pytest.raises(ValueError, match=r"begins with 'neck\.'"):
        DefaultScope._instance_dict.clear()
        init_default_scope('mmdet')
        MPVGViT(arch=dict(ARCH, img_size=32), pe_mode='mpvg', init_cfg=dict(
            type='MPVGPretrained', checkpoint=str(path), prefix='neck.')).init_weights()
