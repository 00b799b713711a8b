"""timm-layout checkpoints -> mmpretrain ImageClassifier(MPVGViT, LinearClsHead)."""
import runpy
import sys

import pytest
import torch
from mmpretrain.registry import MODELS

from mpvg_mm.models.checkpoint_layout import convert_timm_checkpoint, timm_to_mpvg

ROOT = __file__.rsplit('/tests/', 1)[0]


def _classifier(backbone_cfg, num_classes=10):
    dims = backbone_cfg['arch']['embed_dims'] if isinstance(backbone_cfg['arch'], dict) else {
        'deit-tiny': 192, 'deit-small': 384, 'deit-base': 768, 'vit-lite': 256}[
            backbone_cfg['arch']]
    return MODELS.build(dict(type='ImageClassifier', backbone=dict(type='MPVGViT', **backbone_cfg),
                             head=dict(type='LinearClsHead', num_classes=num_classes,
                                       in_channels=dims)))


def _timm_layout(model):
    """Write a classifier back in the timm layout (the inverse renaming, done by hand)."""
    out = {}
    for k, v in model.state_dict().items():
        k = k.replace('backbone.', '', 1).replace('head.fc.', 'head.')
        if k.startswith('pe.layer_norms.'):
            i, rest = k[len('pe.layer_norms.'):].split('.', 1)
            k = f'blocks.{i}.pe_norm.{rest}'
        k = k.replace('pe.last_norm.', 'last_pe_norm.')
        out[k] = v.clone()
    return out


@pytest.mark.parametrize('pe_mode', ['default', 'lape', 'pvg', 'mpvg'])
def test_inferred_preset_and_strict_load(pe_mode):
    src = _classifier(dict(arch='vit-lite', pe_mode=pe_mode))
    converted, cfg = convert_timm_checkpoint({'model': _timm_layout(src)})
    assert cfg['pe_mode'] == pe_mode and cfg['arch'] == 'vit-lite'
    dst = _classifier(cfg)
    dst.load_state_dict(converted['state_dict'], strict=True)
    img = torch.randn(2, 3, 32, 32)
    src.eval(), dst.eval()
    with torch.no_grad():
        torch.testing.assert_close(dst(img, mode='tensor'), src(img, mode='tensor'))


def test_unknown_keys_and_distilled_models_are_refused():
    with pytest.raises(ValueError, match='no place in MPVGViT'):
        timm_to_mpvg({'blocks.0.ls1.gamma': torch.zeros(3)})
    sd = _timm_layout(_classifier(dict(arch='vit-lite', pe_mode='default')))
    with pytest.raises(ValueError, match='distilled DeiT'):
        convert_timm_checkpoint(dict(sd, dist_token=torch.zeros(1, 1, 256)))
    small = {k: v for k, v in sd.items() if not k.startswith('blocks.6')}
    with pytest.raises(ValueError, match='number of heads cannot be read'):
        convert_timm_checkpoint(small)


def _timm2mpvg(capsys, *args):
    """``python tools/model_converters/timm2mpvg.py ARGS``, run as ``__main__`` in this
    process (its argv and ``sys.path`` change undone after; no interpreter start):
    ``(exit code, stdout, stderr)``."""
    path = f'{ROOT}/tools/model_converters/timm2mpvg.py'
    saved = sys.argv, list(sys.path)
    sys.modules.pop('convert', None)  # the script imports the converter next to it
    sys.argv, code = [path, *map(str, args)], 0
    capsys.readouterr()
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as exit:
        code = exit.code
    finally:
        sys.argv, sys.path[:] = saved[0], saved[1]
        sys.modules.pop('convert', None)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_default_matches_timm_vision_transformer(tmp_path, capsys):
    timm = pytest.importorskip('timm')
    ref = timm.create_model('deit_tiny_patch16_224', pretrained=False, num_classes=7).eval()
    with torch.no_grad():  # non-trivial LN affine parameters
        for name, p in ref.named_parameters():
            if 'norm' in name:
                p.add_(0.3 * torch.randn_like(p))
    src, dst = tmp_path / 'deit.pth', tmp_path / 'mpvg.pth'
    torch.save({'model': ref.state_dict()}, src)
    code, stdout, _ = _timm2mpvg(capsys, src, dst)
    assert code == 0
    assert "'pe_mode': 'default'" in stdout and "'with_cls_token': True" in stdout
    model = _classifier(dict(arch='deit-tiny', pe_mode='default'), num_classes=7).eval()
    model.load_state_dict(torch.load(dst, weights_only=True)['state_dict'], strict=True)
    img = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(img, mode='tensor'), ref(img), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('backbone, pe_mode, pe_cfg', [
    # Fig. 5: GAP + Last-LN PE without layer-wise PE = Default with one override
    (dict(pe_mode='default', with_cls_token=False, pe_cfg=dict(last_ln_pos=0)), 'default',
     dict(last_ln_pos=0)),
    # LaPE + a Last-LN PE
    (dict(pe_mode='lape', with_cls_token=False, pe_cfg=dict(last_ln_pos=0)), 'lape',
     dict(last_ln_pos=0)),
    # PVG whose layer-wise PE starts at block 2
    (dict(pe_mode='pvg', pe_cfg=dict(layerwise_from=2)), 'pvg', dict(layerwise_from=2)),
    (dict(pe_mode='mpvg', pe_cfg=dict(layerwise_from=3)), 'mpvg', dict(layerwise_from=3)),
])
def test_ablation_checkpoints_map_to_the_nearest_preset(backbone, pe_mode, pe_cfg):
    src = _classifier(dict(arch='vit-lite', **backbone))
    converted, cfg = convert_timm_checkpoint({'model': _timm_layout(src)})
    assert (cfg['pe_mode'], cfg.get('pe_cfg')) == (pe_mode, pe_cfg)
    assert cfg['with_cls_token'] == src.backbone.with_cls_token
    _classifier(cfg).load_state_dict(converted['state_dict'], strict=True)


def test_overrides_that_the_weights_do_not_fit_are_refused():
    sd = _timm_layout(_classifier(dict(arch='vit-lite', pe_mode='default')))
    with pytest.raises(ValueError, match='incompatible with a class token'):
        convert_timm_checkpoint({'model': sd}, dict(pe_mode='mpvg'))
    with pytest.raises(ValueError, match=r"missing \['pe.layer_norms.1.bias'"):
        convert_timm_checkpoint({'model': sd}, dict(pe_mode='pvg', with_cls_token=True))


def test_converter_takes_arch_names_and_names_a_missing_file(tmp_path, capsys):
    src = _classifier(dict(arch='vit-lite', pe_mode='pvg'))
    torch.save({'model': _timm_layout(src)}, tmp_path / 'in.pth')
    code, stdout, stderr = _timm2mpvg(capsys, tmp_path / 'in.pth', tmp_path / 'o.pth',
                                      '--arch', 'vit-lite-7/4')
    assert code == 0, stderr
    assert "'arch': 'vit-lite-7/4'" in stdout
    code, _, stderr = _timm2mpvg(capsys, tmp_path / 'nope.pth', 'o.pth')
    assert code == 2 and 'nope.pth: no such checkpoint file' in stderr


# the backbones of this project, tiny, as (type, kwargs): their classifier / model files
OWN_BACKBONES = [
    ('MPVGViT', dict(arch='vit-lite', pe_mode='default')),
    ('MPVGCeiT', dict(arch=dict(embed_dims=16, num_layers=2, num_heads=2, stem_channels=8,
                                patch_size=2, img_size=32))),
    ('MPVGT2TViT', dict(arch=dict(embed_dims=16, num_layers=2, num_heads=2, token_dims=8,
                                  img_size=48))),
    ('MPVGSwin', dict(arch=dict(embed_dims=8, depths=[1, 1], num_heads=[1, 1]), img_size=32,
                      window_size=2, out_indices=(1, ))),
    ('MPVGViTAdapter', dict(arch='deit-tiny', norm_cfg=dict(type='BN'))),
]


@pytest.mark.parametrize('name,kwargs', OWN_BACKBONES, ids=[n for n, _ in OWN_BACKBONES])
def test_own_layout_is_named_with_its_backbone(name, kwargs):
    """A file already in one of this project's layouts (``backbone.*`` of that backbone):
    the refusal names that backbone, from its keys, and says to load it directly."""
    from mpvg_mm.models.checkpoint_layout import convert_checkpoint
    from mpvg_mm.registry import register_all_modules
    register_all_modules(['mmpretrain'])
    with torch.device('meta'):
        backbone = MODELS.build(dict(type=name, **kwargs))
    sd = {'backbone.' + k: v for k, v in backbone.state_dict().items()}
    sd['head.fc.weight'] = torch.zeros(2, 16)
    with pytest.raises(ValueError, match=rf'already in the {name} layout .*load it directly '
                                         rf'into {name} '):
        convert_checkpoint({'state_dict': sd, 'meta': {}})


def test_class_token_without_pe_row_and_row_without_token_are_named():
    """rows = grid + 1 and no cls_token: a class row whose token is missing; rows = grid and
    cls_token: a class token without a PE row (timm's no_embed_class). Both are named, not
    sent to --img-size, and --with-cls-token 0 drops what is there."""
    from mpvg_mm.models.checkpoint_layout import convert_checkpoint
    sd = _timm_layout(_classifier(dict(arch='vit-lite', pe_mode='default')))
    no_token = {k: v for k, v in sd.items() if k != 'cls_token'}
    no_row = dict(sd, pos_embed=sd['pos_embed'][:, 1:])
    with pytest.raises(ValueError, match=r'65 rows and the grid 8x8 \(recorded in '
                                         r'pos_embed_grid, patch 4\) has 64: the one more '
                                         r'is a class row, but the file has no cls_token.*'
                                         r'--with-cls-token 0'):
        convert_timm_checkpoint(no_token)
    with pytest.raises(ValueError, match=r'64 rows and the grid 8x8 .* has 64: the file has '
                                         r'cls_token, but pos_embed has no row for it.*'
                                         r'--with-cls-token 0'):
        convert_timm_checkpoint(no_row)
    with pytest.raises(ValueError, match=r'63 rows .*1 class row by the cls_token key\): give '
                                         r'the size .*--img-size'):
        convert_timm_checkpoint(dict(sd, pos_embed=sd['pos_embed'][:, 2:]))
    for src, dropped in [(no_token, 'the class row of pos_embed'), (no_row, 'cls_token')]:
        converted, cfg, notes = convert_checkpoint(src, 'timm', dict(with_cls_token=False))
        assert f'with_cls_token=False: dropped {dropped}' in notes
        assert converted['state_dict']['backbone.pos_embed'].shape == (1, 64, 256)
        _classifier(cfg).load_state_dict(converted['state_dict'], strict=True)
