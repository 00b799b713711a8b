"""mmpretrain / mmseg ``VisionTransformer`` checkpoints -> MPVGViT, against the toolboxes'
own models on the same random weights (fp32)."""
import pytest
import torch
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from mmseg.models.backbones import VisionTransformer as MMSegViT

from mpvg_mm.models.backbones.mpvg_vit import MPVGViT
from mpvg_mm.models.checkpoint_layout import convert_checkpoint, detect_layout

pytestmark = pytest.mark.usefixtures('single_thread')
ARCH = dict(embed_dims=48, num_layers=3, num_heads=3, mlp_ratio=2.0, patch_size=16,
            img_size=64)


def _randomize(model, seed=0):
    """Every parameter random (LN affine and layer scale away from 1/0), in place."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            base = 1.0 if ('ln' in name or 'gamma' in name) and name.endswith(('weight', )) \
                and p.dim() == 1 else 0.0
            p.copy_(base + 0.2 * torch.randn(p.shape, generator=gen))
    model.eval()  # mmseg's ViT.train() returns None
    return model


def _mmpretrain_classifier(**backbone):
    return PRETRAIN_MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='mmpretrain.VisionTransformer', img_size=64, patch_size=16,
                      arch=dict(embed_dims=48, num_layers=3, num_heads=3,
                                feedforward_channels=96), **backbone),
        head=dict(type='VisionTransformerClsHead', num_classes=5, in_channels=48)))


@pytest.mark.parametrize('layer_scale', [0.0, 0.1])
def test_mmpretrain_classifier_logits(layer_scale):
    ref = _randomize(_mmpretrain_classifier(layer_scale_init_value=layer_scale))
    ckpt = dict(state_dict=ref.state_dict(), meta=dict())
    assert detect_layout(ckpt['state_dict']) == 'mmpretrain'
    converted, cfg, notes = convert_checkpoint(ckpt, overrides=dict(arch=ARCH))
    assert cfg['pe_mode'] == 'default' and cfg['with_cls_token'] is True
    assert any('layer-scale' in n for n in notes) == bool(layer_scale)
    ours = PRETRAIN_MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='MPVGViT', **cfg),
        head=dict(type='LinearClsHead', num_classes=5, in_channels=48))).eval()
    ours.load_state_dict(converted['state_dict'], strict=True)
    for size in [(64, 64), (48, 80)]:  # the second resamples pos_embed (bicubic) in both
        img = torch.randn(2, 3, *size)
        with torch.no_grad():
            want, got = ref(img, mode='tensor'), ours(img, mode='tensor')
        assert want.abs().max() > 0.1  # not a trivial output
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_mmpretrain_keys_with_no_place_are_refused_by_name():
    gap = _mmpretrain_classifier(out_type='avg_featmap', with_cls_token=False)
    with pytest.raises(ValueError, match=r"backbone\.ln2\.weight.*after the average"):
        convert_checkpoint(dict(state_dict=gap.state_dict()), overrides=dict(arch=ARCH))
    sd = dict(_mmpretrain_classifier().state_dict(), **{'backbone.pre_norm.weight':
                                                        torch.ones(48)})
    with pytest.raises(ValueError, match='pre_norm'):
        convert_checkpoint(dict(state_dict=sd), overrides=dict(arch=ARCH))


@pytest.mark.parametrize('with_cls_token', [True, False])
def test_mmseg_segmentor_feature_maps(with_cls_token):
    ref = _randomize(MMSegViT(img_size=64, patch_size=16, embed_dims=48, num_layers=3,
                              num_heads=3, mlp_ratio=2, out_indices=(0, 1, 2),
                              final_norm=True, with_cls_token=with_cls_token,
                              norm_cfg=dict(type='LN', eps=1e-6)), seed=1)
    head = {'decode_head.conv_seg.weight': torch.randn(4, 48, 1, 1)}
    sd = dict({'backbone.' + k: v for k, v in ref.state_dict().items()}, **head)
    assert detect_layout(sd) == 'mmseg'
    overrides = dict(arch=ARCH) if with_cls_token else dict(arch=ARCH, with_cls_token=False)
    converted, cfg, notes = convert_checkpoint(dict(state_dict=sd), overrides=overrides)
    assert any('filled with zeros' in n for n in notes)  # mmseg's patch_bias=False
    assert converted['state_dict']['decode_head.conv_seg.weight'] is head[
        'decode_head.conv_seg.weight']
    ours = MPVGViT(**cfg, out_type='featmap', out_indices=(0, 1, 2), pad_to_patch=True).eval()
    ours.load_state_dict({k[len('backbone.'):]: v for k, v in converted['state_dict'].items()
                          if k.startswith('backbone.')}, strict=True)
    for size in [(64, 64), (70, 90)]:  # the second: padded to 80x96, pos_embed resampled
        img = torch.randn(1, 3, *size)
        with torch.no_grad():
            want, got = ref(img), ours(img)
        assert len(got) == 3
        for w, g in zip(want, got):
            torch.testing.assert_close(g, w, rtol=0, atol=1e-5)


def test_layout_detection_refuses_what_it_cannot_tell():
    with pytest.raises(ValueError, match='already in the MPVGViT layout'):
        detect_layout({'backbone.blocks.0.attn.qkv.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='give --layout'):
        detect_layout({'encoder.layer.0.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match="unknown layout 'caffe'"):
        convert_checkpoint({'w': torch.zeros(1)}, layout='caffe')


def test_convert_tool_reports_and_refuses(tool, tmp_path, capsys):
    convert = tool('model_converters/convert')
    src, dst = tmp_path / 'vit.pth', tmp_path / 'out.pth'
    torch.save(dict(state_dict=_mmpretrain_classifier(layer_scale_init_value=0.1).state_dict(),
                    meta=dict(epoch=3)), src)
    convert.main([str(src), str(dst), '--arch', str(ARCH).replace("'", '"')])
    out = capsys.readouterr().out
    assert 'layout: mmpretrain' in out and 'folded 6 layer-scale vectors' in out
    assert torch.load(dst, weights_only=True)['meta']['converted_from'] == 'mmpretrain'
    # a forced layout the keys contradict: refused, naming the detected one and the fix
    with pytest.raises(SystemExit, match=r"refused: --layout mmseg, but the keys are the "
                       r"mmpretrain layout .*backbone\.layers\.0.*use --layout mmpretrain"):
        convert.main([str(src), str(dst), '--layout', 'mmseg', '--arch',
                      str(ARCH).replace("'", '"')])
