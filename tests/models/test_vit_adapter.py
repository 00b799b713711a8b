"""MPVGViTAdapter: shapes for any input size, checkpoint loading, the Last-LN PE port,
gradients, the ViT path against the classifier, and building through mmdet / mmseg."""
import math

import pytest
import torch
import torch.nn.functional as F

from mpvg_mm.models import MPVGViT, MPVGViTAdapter
from mpvg_mm.models.backbones.vit_adapter import LAST_LN_PE_PORTS, default_interaction_indexes

PRESETS = ['default', 'lape', 'pvg', 'mpvg']
ARCH = dict(embed_dims=64, num_layers=4, num_heads=2, mlp_ratio=2.0, patch_size=16,
            img_size=64)
ADAPTER_ONLY = ('spatial_prior.', 'level_embed', 'interactions.', 'stride4_up.',
                'output_norms.')


pytestmark = pytest.mark.usefixtures('single_thread')


def tiny_adapter(**kwargs):
    cfg = dict(arch=ARCH, interaction_indexes=[[0, 0], [1, 1], [2, 2], [3, 3]],
               spatial_prior_channels=16, deform_num_heads=4, norm_cfg=dict(type='BN'))
    cfg.update(kwargs)
    return MPVGViTAdapter(**cfg)


def randomize_(model, seed=0):
    """Non-trivial values for every parameter (LN/BN scales around 1, gates non-zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ('norm' in name or 'output_norms' in name) and name.endswith('weight') \
                    and p.dim() == 1:
                p.copy_(1 + 0.3 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model


def expected_shapes(batch, dims, size):
    return [(batch, dims, math.ceil(size[0] / s), math.ceil(size[1] / s))
            for s in (4, 8, 16, 32)]


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize('pe_mode', PRESETS)
def test_output_shapes_for_any_input_size(pe_mode):
    model = tiny_adapter(pe_mode=pe_mode).eval()
    assert model.with_cls_token is False and model.cls_token is None
    with torch.no_grad():
        for size in [(64, 64), (96, 128), (100, 130)]:  # 100x130: padded by pad_to_patch
            outs = model(torch.randn(2, 3, *size))
            assert isinstance(outs, tuple)
            assert [tuple(o.shape) for o in outs] == expected_shapes(2, 64, size)
            assert all(torch.isfinite(o).all() for o in outs)


def test_sides_not_multiple_of_16_need_pad_to_patch():
    model = tiny_adapter(pad_to_patch=False).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 48, 80))[0].shape == (1, 64, 12, 20)
        with pytest.raises(ValueError, match='pad_to_patch'):
            model(torch.randn(1, 3, 100, 130))


def test_config_checks():
    assert default_interaction_indexes(12) == [[0, 2], [3, 5], [6, 8], [9, 11]]
    assert tiny_adapter(interaction_indexes=None).interaction_indexes == \
        [[0, 0], [1, 1], [2, 2], [3, 3]]
    assert tiny_adapter(interaction_indexes=[[0, 1], [2, 3]]).interaction_indexes == \
        [[0, 1], [2, 3]]
    for bad in ([[0, 1], [3, 3]], [[1, 3]], [[0, 2]], [[0, 1], [1, 3]]):
        with pytest.raises(ValueError, match='interaction_indexes'):
            tiny_adapter(interaction_indexes=bad)
    with pytest.raises(ValueError, match='with_cls_token'):
        tiny_adapter(with_cls_token=True)
    with pytest.raises(ValueError, match='last_ln_pe_port'):
        tiny_adapter(last_ln_pe_port='stride4')
    with pytest.raises(ValueError, match='16x16'):
        tiny_adapter(arch=dict(ARCH, patch_size=8))


def test_only_the_last_interaction_has_extra_extractors():
    model = tiny_adapter()
    assert [len(i.extra_extractors) for i in model.interactions] == [0, 0, 0, 2]
    assert torch.all(model.interactions[0].injector.gamma == 0)  # ViT untouched at init


# --------------------------------------------------------------------------- checkpoint
def classifier_checkpoint(tmp_path, pe_mode):
    """An mmpretrain ImageClassifier checkpoint (``backbone.*`` and ``head.*`` keys)."""
    from mmpretrain.registry import MODELS
    classifier = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='MPVGViT', arch=ARCH, pe_mode=pe_mode),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=64)))
    state = randomize_(classifier, seed=1).state_dict()
    path = tmp_path / f'{pe_mode}.pth'
    torch.save(dict(state_dict=state, meta=dict()), path)
    backbone = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    return str(path), backbone


@pytest.mark.parametrize('pe_mode', PRESETS)
def test_classification_checkpoint_loads_into_the_vit(tmp_path, pe_mode):
    path, ckpt = classifier_checkpoint(tmp_path, pe_mode)
    has_cls = 'cls_token' in ckpt
    assert has_cls == (pe_mode in ('default', 'lape'))

    # 1) plain load_state_dict: nothing of the ViT is missing
    model = tiny_adapter(pe_mode=pe_mode)
    result = model.load_state_dict(dict(ckpt), strict=False)
    assert result.missing_keys and all(k.startswith(ADAPTER_ONLY) for k in result.missing_keys)
    assert result.unexpected_keys == (['cls_token'] if has_cls else [])

    # 2) the config route: init_cfg=Pretrained with prefix='backbone.'
    model = tiny_adapter(pe_mode=pe_mode, init_cfg=dict(
        type='Pretrained', checkpoint=path, prefix='backbone.'))
    adapter_before = {k: v.clone() for k, v in model.state_dict().items()
                      if k.startswith(ADAPTER_ONLY)}
    model.init_weights()
    state = model.state_dict()
    for key, value in ckpt.items():
        if key == 'cls_token':
            continue
        if key == 'pos_embed' and has_cls:
            value = value[:, 1:]  # the class row is dropped, the patch rows kept
        torch.testing.assert_close(state[key], value, rtol=0, atol=0, msg=key)
    for key, value in adapter_before.items():  # the adapter keeps its own init
        torch.testing.assert_close(state[key], value, rtol=0, atol=0, msg=key)


@pytest.mark.parametrize('pe_mode', PRESETS)
def test_vit_path_matches_the_classifier_backbone(tmp_path, pe_mode):
    """With gamma = 0 the injectors are no-ops, so the stride-16 ViT map the adapter adds
    is exactly the classifier backbone's feature map (``LN(x_L) [+ LN''(pos_0)]``) on the
    input's patch grid: every block ran once with its layer-wise PE."""
    _, ckpt = classifier_checkpoint(tmp_path, pe_mode)
    adapter = tiny_adapter(pe_mode=pe_mode).eval()
    adapter.load_state_dict(dict(ckpt), strict=False)
    vit = MPVGViT(arch=ARCH, pe_mode=pe_mode, with_cls_token=False, out_type='featmap').eval()
    vit.load_state_dict(dict(ckpt), strict=False)  # same class-row handling
    captured = {}
    original = adapter._vit_maps
    adapter._vit_maps = lambda *a: captured.setdefault('maps', original(*a))
    img = torch.randn(2, 3, 80, 112)
    with torch.no_grad():
        adapter(img)
        want = vit(img)[0]
    torch.testing.assert_close(captured['maps'][2], want, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- Last-LN PE
@pytest.mark.parametrize('vit_output_norm', [True, False])
def test_last_ln_pe_port_adds_the_pe_term_where_it_says(vit_output_norm):
    """Each port adds Eq. 11's PE term ``LN''(pos_0) = LayerNorm(pos_0; pe.last_norm)`` to
    the ViT map of its levels before the output BN (eval mode: an affine map per channel),
    to ``LN(x_L)`` or, in the official form (``vit_output_norm=False``), to the raw
    ``x_L``. So per level, ``(out_port - out_none) * sqrt(running_var + eps) / weight`` is
    that term as a ``(D, 4, 4)`` map rescaled by 4, 2, 1, 0.5 (bilinear, the official
    adapter's ``F.interpolate`` scale factors for strides 4/8/16/32) where the port adds
    it, and 0 elsewhere."""
    base = randomize_(tiny_adapter(pe_mode='mpvg', vit_output_norm=vit_output_norm))
    g = torch.Generator().manual_seed(1)
    for norm in base.output_norms:  # non-trivial BN statistics
        norm.running_mean.copy_(torch.randn(norm.running_mean.shape, generator=g))
        norm.running_var.copy_(0.5 + torch.rand(norm.running_var.shape, generator=g))
    img = torch.randn(2, 3, 64, 64)  # the 4x4 grid pos_0 is stored at: no resampling
    outs = {}
    for port in LAST_LN_PE_PORTS:
        model = tiny_adapter(pe_mode='mpvg', vit_output_norm=vit_output_norm,
                             last_ln_pe_port=port).eval()
        result = model.load_state_dict(base.state_dict(), strict=False)
        assert not result.missing_keys, port
        with torch.no_grad():
            outs[port] = model(img)
    D = ARCH['embed_dims']
    last_norm = base.pe.last_norm
    with torch.no_grad():
        pe = F.layer_norm(base.pos_embed, (D, ), last_norm.weight, last_norm.bias, 1e-6)
        pe_map = pe.transpose(1, 2).reshape(1, D, 4, 4)
        pe_levels = [pe_map if s == 1 else F.interpolate(
            pe_map, scale_factor=s, mode='bilinear', align_corners=False)
                     for s in (4, 2, 1, 0.5)]
    ports = {'stride16': {2}, 'all_levels': {0, 1, 2, 3}}
    for level, norm in enumerate(base.output_norms):
        unscale = ((norm.running_var + norm.eps).sqrt() / norm.weight.detach())[:, None, None]
        for port, levels in ports.items():
            diff = (outs[port][level] - outs['none'][level]) * unscale
            want = pe_levels[level] if level in levels else torch.zeros_like(pe_levels[level])
            torch.testing.assert_close(diff, want.expand_as(diff), rtol=1e-4, atol=1e-4,
                                       msg=f'{port}, level {level}')
    assert pe_levels[2].abs().max() > 0.5  # the term is not negligible


def test_last_ln_pe_port_none_is_pvg():
    """``'none'`` builds no ``LN''`` (no unused parameter) and is the PVG network."""
    assert tiny_adapter(last_ln_pe_port='none').pe.last_norm is None
    base = randomize_(tiny_adapter(pe_mode='mpvg'))
    img = torch.randn(2, 3, 96, 64)
    outs = []
    for kwargs in (dict(pe_mode='mpvg', last_ln_pe_port='none'), dict(pe_mode='pvg')):
        model = tiny_adapter(**kwargs).eval()
        assert not model.load_state_dict(base.state_dict(), strict=False).missing_keys
        with torch.no_grad():
            outs.append(model(img))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize('pe_mode', ['lape', 'mpvg'])
def test_gradients_reach_every_parameter(pe_mode):
    model = randomize_(tiny_adapter(pe_mode=pe_mode)).train()
    outs = model(torch.randn(2, 3, 64, 96))
    g = torch.Generator().manual_seed(0)
    # a random projection (the squared norm of a BN output is constant in train mode)
    loss = sum((o * torch.randn(o.shape, generator=g)).sum() for o in outs)
    loss.backward()
    names = [n for n, _ in model.named_parameters()]
    assert 'pe.layer_norms.3.weight' in names
    assert ('pe.last_norm.weight' in names) == (pe_mode == 'mpvg')
    assert ('pe.layer_norms.0.weight' in names) == (pe_mode == 'lape')
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_activation_checkpointing_gives_the_same_result():
    base = randomize_(tiny_adapter())
    img = torch.randn(2, 3, 64, 64)
    outs, grads = [], []
    for with_cp in (False, True):
        model = tiny_adapter(with_cp=with_cp).train()
        model.load_state_dict(base.state_dict())
        out = model(img)
        sum(o.sum() for o in out).backward()
        outs.append(out)
        grads.append(model.interactions[0].injector.attn.value_proj.weight.grad)
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- lr decay
def test_layer_depth_of_adapter_modules():
    model = tiny_adapter()
    top = (ARCH['num_layers'] + 1, ARCH['num_layers'] + 2)
    assert model.get_layer_depth('backbone.patch_embed.proj.weight', 'backbone.') == (0, 6)
    assert model.get_layer_depth('backbone.pos_embed', 'backbone.') == (0, 6)
    assert model.get_layer_depth('backbone.blocks.2.attn.qkv.weight', 'backbone.') == (3, 6)
    assert model.get_layer_depth('backbone.pe.layer_norms.2.weight', 'backbone.') == (3, 6)
    for name, _ in model.named_parameters():
        if name.startswith(ADAPTER_ONLY):
            assert model.get_layer_depth('backbone.' + name, 'backbone.') == top, name


# --------------------------------------------------------------------------- registries
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_build_from_each_registry(scope):
    import importlib
    registry = importlib.import_module(f'{scope}.registry')
    model = registry.MODELS.build(dict(
        type='MPVGViTAdapter', arch=ARCH, pe_mode='mpvg', spatial_prior_channels=16,
        deform_num_heads=4, norm_cfg=dict(type='BN')))
    assert isinstance(model, MPVGViTAdapter)
    with torch.no_grad():
        outs = model.eval()(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == expected_shapes(1, 64, (64, 64))


def test_deit_tiny_adapter_in_mask_rcnn_and_upernet_has_vit_adapter_ti_size():
    """ViT-Adapter-Ti's published size with Mask R-CNN is 28M (ViT-Adapter's detection
    README). Ours, with mmdet's Mask R-CNN R50-FPN heads: 28.07 M; with mmseg's UPerNet
    (channels 512, auxiliary 256, 150 classes): 36.06 M."""
    import mmdet
    import mmseg
    from mmdet.registry import MODELS as DET
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS as SEG

    backbone = dict(type='MPVGViTAdapter', arch='deit-tiny', pe_mode='mpvg')
    with torch.device('meta'):
        adapter = DET.build(backbone)
    assert sum(p.numel() for p in adapter.parameters()) == 7_966_832
    assert adapter.interaction_indexes == [[0, 2], [3, 5], [6, 8], [9, 11]]
    assert isinstance(adapter.output_norms[0], torch.nn.SyncBatchNorm)

    def millions(registry, scope, base, edit):
        cfg = Config.fromfile(base).model
        cfg.backbone = backbone
        edit(cfg)
        with DefaultScope.overwrite_default_scope(scope), torch.device('meta'):
            model = registry.build(cfg)
        return round(sum(p.numel() for p in model.parameters()) / 1e6, 2)

    def det_edit(cfg):
        cfg.neck.in_channels = [192] * 4

    def seg_edit(cfg):
        cfg.pretrained = None
        cfg.decode_head.update(in_channels=[192] * 4, num_classes=150)
        cfg.auxiliary_head.update(in_channels=192, num_classes=150)

    det_base = mmdet.__path__[0] + '/.mim/configs/_base_/models/mask-rcnn_r50_fpn.py'
    seg_base = mmseg.__path__[0] + '/.mim/configs/_base_/models/upernet_r50.py'
    assert millions(DET, 'mmdet', det_base, det_edit) == 28.07
    assert millions(SEG, 'mmseg', seg_base, seg_edit) == 36.06


# --------------------------------------------------------------------------- end to end
TINY_BACKBONE = dict(type='MPVGViTAdapter', arch=ARCH, spatial_prior_channels=16,
                     deform_num_heads=4, norm_cfg=dict(type='BN'))


def test_tiny_mask_rcnn_trains_and_predicts():
    import mmdet
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.structures import InstanceData

    cfg = Config.fromfile(mmdet.__path__[0] +
                          '/.mim/configs/_base_/models/mask-rcnn_r50_fpn.py').model
    cfg.backbone = TINY_BACKBONE
    cfg.neck.update(in_channels=[64] * 4, out_channels=32)
    cfg.rpn_head.update(in_channels=32, feat_channels=32)
    roi = cfg.roi_head
    roi.bbox_roi_extractor.out_channels = roi.mask_roi_extractor.out_channels = 32
    roi.bbox_head.update(in_channels=32, fc_out_channels=64, num_classes=3)
    roi.mask_head.update(in_channels=32, conv_out_channels=32, num_classes=3)
    H, W = 96, 128
    samples = []
    for _ in range(2):
        sample = DetDataSample(metainfo=dict(img_shape=(H, W), pad_shape=(H, W),
                                             ori_shape=(H, W), scale_factor=(1., 1.),
                                             batch_input_shape=(H, W)))
        masks = torch.zeros(2, H, W, dtype=torch.uint8)
        masks[0, 10:50, 10:60] = 1
        masks[1, 20:80, 30:90] = 1
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 10., 60., 50.], [30., 20., 90., 80.]]),
            labels=torch.tensor([0, 2]), masks=BitmapMasks(masks.numpy(), H, W))
        samples.append(sample)
    imgs = torch.randn(2, 3, H, W)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg)
        model.init_weights()
        losses = model.loss(imgs, samples)
        total = sum(sum(v) if isinstance(v, list) else v
                    for k, v in losses.items() if k.startswith('loss'))
        total.backward()
        assert torch.isfinite(total)
        assert model.backbone.spatial_prior.projections[0].weight.grad is not None
        with torch.no_grad():
            results = model.eval().predict(imgs, samples)
    assert len(results) == 2


def test_tiny_upernet_trains_and_predicts():
    import mmseg
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    cfg = Config.fromfile(mmseg.__path__[0] + '/.mim/configs/_base_/models/upernet_r50.py').model
    cfg.update(pretrained=None, data_preprocessor=None)
    cfg.backbone = TINY_BACKBONE  # (update() would merge into the ResNet's keys)
    cfg.decode_head.update(in_channels=[64] * 4, channels=32, num_classes=5,
                           norm_cfg=dict(type='BN'))
    cfg.auxiliary_head.update(in_channels=64, channels=16, num_classes=5,
                              norm_cfg=dict(type='BN'))
    H, W = 64, 96
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(H, W), pad_shape=(H, W),
                                             ori_shape=(H, W)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, H, W)))
        samples.append(sample)
    imgs = torch.randn(2, 3, H, W)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg)
        losses = model.loss(imgs, samples)
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        with torch.no_grad():
            results = model.eval().predict(imgs, samples)
    assert results[0].pred_sem_seg.data.shape == (1, H, W)
