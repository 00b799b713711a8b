"""Loading a checkpoint's ``pos_embed`` decides from facts, never from row counts.

The grid comes from the checkpoint's ``pos_embed_grid`` (recorded by every model of this
project) or from ``pretrained_img_size``; the extra rows from its ``cls_token`` /
``dist_token`` keys. Each case of issue 12 (section 1) gives the bicubic resample of the
true grid or a ValueError naming the fix. Checkpoints are mmpretrain ImageClassifiers
loaded with ``init_cfg=dict(type='Pretrained', prefix='backbone.')``, as the dense configs
do.
"""
import logging
import re

import pytest
import torch
import torch.nn.functional as F

from mpvg_mm.models import MPVGViT, resample_pos_embed

ARCH = dict(embed_dims=48, num_layers=4, num_heads=3, mlp_ratio=2.0, patch_size=16)
D = ARCH['embed_dims']

pytestmark = pytest.mark.usefixtures('single_thread')


def _arch(img_size):
    return dict(ARCH, img_size=img_size)


def _save(tmp_path, img_size, pe_mode, drop=(), extra=None, seed=0):
    """Save an ImageClassifier(MPVGViT at ``img_size``) checkpoint; ``drop`` removes
    ``backbone.*`` keys, ``extra`` replaces or adds some. Returns ``(path, backbone
    model, backbone state as saved without the prefix)``."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    classifier = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='MPVGViT', arch=_arch(img_size),
                                              pe_mode=pe_mode),
        head=dict(type='LinearClsHead', num_classes=3, in_channels=D)))
    state = dict(classifier.state_dict())
    for key in drop:
        del state['backbone.' + key]
    state.update({'backbone.' + k: v for k, v in (extra or {}).items()})
    path = tmp_path / f'{pe_mode}_{seed}.pth'
    torch.save(dict(state_dict=state, meta=dict()), path)
    saved = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    return str(path), classifier.backbone.eval(), saved


def _load(path, img_size, pe_mode, **kwargs):
    model = MPVGViT(arch=_arch(img_size), pe_mode=pe_mode, init_cfg=dict(
        type='Pretrained', checkpoint=path, prefix='backbone.'), **kwargs)
    model.init_weights()
    return model.eval()


def _bicubic(pos_embed, src, dst, extra):
    """The patch rows (after ``extra`` rows) of a row-major ``src`` grid, resampled to
    ``dst`` by F.interpolate: ``(1, dst_h * dst_w, D)``."""
    grid = pos_embed[:, extra:].reshape(1, src[0], src[1], D).permute(0, 3, 1, 2)
    out = F.interpolate(grid, size=dst, mode='bicubic', align_corners=False)
    return out.permute(0, 2, 3, 1).reshape(1, dst[0] * dst[1], D)


@pytest.fixture
def warnings_logged():
    """The warnings the MMLogger of the load gets."""
    from mmengine.logging import MMLogger
    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


# --------------------------------------------------------------------------- the grid is recorded
def test_class_token_checkpoint_with_a_square_row_count(tmp_path, warnings_logged):
    """48x80: 3x5 patches + 1 class row = 16 rows, a square number."""
    path, _, saved = _save(tmp_path, (48, 80), 'default')
    assert saved['pos_embed'].shape == (1, 16, D)
    assert saved['pos_embed_grid'].tolist() == [3, 5]
    want = _bicubic(saved['pos_embed'], (3, 5), (4, 4), extra=1)

    gap = _load(path, 64, 'pvg')  # the class row is dropped, not used as patch (0, 0)
    torch.testing.assert_close(gap.pos_embed.data, want, rtol=0, atol=1e-7)
    assert any("dropping the checkpoint's cls_token row" in m for m in warnings_logged)

    with_cls = _load(path, 64, 'default')  # no false "no class-token row"
    torch.testing.assert_close(with_cls.pos_embed.data[:, :1], saved['pos_embed'][:, :1],
                               rtol=0, atol=0)
    torch.testing.assert_close(with_cls.pos_embed.data[:, 1:], want, rtol=0, atol=1e-7)
    torch.testing.assert_close(with_cls.cls_token.data, saved['cls_token'], rtol=0, atol=0)
    assert with_cls.pos_embed_grid.tolist() == [4, 4]


def test_gap_checkpoint_with_the_same_row_count_is_resampled(tmp_path):
    """32x128 (2x8 = 16 rows) into 64x64 (4x4 = 16 rows): equal counts, other grid."""
    path, source, saved = _save(tmp_path, (32, 128), 'mpvg')
    model = _load(path, 64, 'mpvg')
    want = _bicubic(saved['pos_embed'], (2, 8), (4, 4), extra=0)
    torch.testing.assert_close(model.pos_embed.data, want, rtol=0, atol=1e-7)
    # the same image gives the source model's features (it resamples 2x8 -> 4x4 at run time)
    img = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(img)[0], source(img)[0], rtol=1e-5, atol=1e-5)


def test_gap_checkpoint_with_a_non_square_row_count(tmp_path, warnings_logged):
    """48x80 GAP: 15 rows, no class row to drop and no grid to ask for."""
    path, _, saved = _save(tmp_path, (48, 80), 'pvg')
    model = _load(path, 64, 'pvg')
    want = _bicubic(saved['pos_embed'], (3, 5), (4, 4), extra=0)
    torch.testing.assert_close(model.pos_embed.data, want, rtol=0, atol=1e-7)
    assert not warnings_logged


def test_the_record_wins_over_the_argument(tmp_path):
    path, _, saved = _save(tmp_path, (48, 80), 'pvg')
    model = _load(path, 64, 'pvg', pretrained_img_size=224)
    want = _bicubic(saved['pos_embed'], (3, 5), (4, 4), extra=0)
    torch.testing.assert_close(model.pos_embed.data, want, rtol=0, atol=1e-7)


def test_removed_extra_keys_and_bad_records_are_refused(tmp_path):
    _, source, _ = _save(tmp_path, (48, 80), 'default')
    model = MPVGViT(arch=_arch(64), pe_mode='pvg')
    sd = {k: v for k, v in source.state_dict().items() if k != 'cls_token'}
    with pytest.raises(ValueError, match=r'16 rows: 0 extra rows.*grid 3x5 \(recorded in '
                                         r'pos_embed_grid\) has 15.*keep them'):
        model.load_state_dict(sd, strict=False)
    sd = dict(source.state_dict(), pos_embed_grid=torch.tensor([3.0, 5.0]))
    with pytest.raises(ValueError, match='two positive ints'):
        model.load_state_dict(sd, strict=False)


# --------------------------------------------------------------------------- no recorded grid
def test_checkpoint_without_a_record_needs_pretrained_img_size(tmp_path):
    """A checkpoint saved before the grid was recorded (or a foreign one)."""
    path, _, saved = _save(tmp_path, (32, 128), 'pvg', drop=['pos_embed_grid'])
    with pytest.raises(ValueError, match=r'16 rows \(0 extra rows by its keys.*does not '
                                         r'record the grid.*pretrained_img_size=64 if it '
                                         r'was trained on 64x64 images'):
        _load(path, 64, 'pvg')
    model = _load(path, 64, 'pvg', pretrained_img_size=(32, 128))
    want = _bicubic(saved['pos_embed'], (2, 8), (4, 4), extra=0)
    torch.testing.assert_close(model.pos_embed.data, want, rtol=0, atol=1e-7)
    with pytest.raises(ValueError, match=r'grid 3x3 \(from pretrained_img_size=\(48, 48\)\) '
                                         r'has 9: set pretrained_img_size.*must be 16'):
        _load(path, 64, 'pvg', pretrained_img_size=48)
    # strict loading of such a state dict: the buffer is filled in, nothing is missing
    model = MPVGViT(arch=_arch(64), pe_mode='pvg', pretrained_img_size=(32, 128))
    model.load_state_dict(saved, strict=True)
    assert model.pos_embed_grid.tolist() == [4, 4]


def test_standard_224_deit_checkpoint_names_the_argument(tmp_path):
    """196 patch rows + the class row, no record: the message gives the exact fix."""
    path, _, saved = _save(tmp_path, 224, 'default', drop=['pos_embed_grid'])
    with pytest.raises(ValueError, match=r'197 rows \(1 extra row\(s\) by its keys '
                                         r'\(cls_token\), 196 patch rows\).*'
                                         r'pretrained_img_size=224 if it was trained on '
                                         r'224x224 images \(14x14 patches of 16\)'):
        _load(path, 64, 'pvg')
    model = _load(path, 64, 'default', pretrained_img_size=224)
    torch.testing.assert_close(model.pos_embed.data[:, 1:],
                               _bicubic(saved['pos_embed'], (14, 14), (4, 4), extra=1),
                               rtol=0, atol=1e-7)


def test_distilled_deit_pos_embed(tmp_path, warnings_logged):
    """Class, distillation, then 3x5 patch rows; a foreign file records no grid."""
    torch.manual_seed(1)
    rows = torch.randn(1, 17, D)
    path, _, _ = _save(tmp_path, (48, 80), 'default', drop=['pos_embed_grid'],
                       extra=dict(pos_embed=rows, dist_token=torch.randn(1, 1, D)))
    with pytest.raises(ValueError, match=r'2 extra row\(s\) by its keys \(cls_token, '
                                         r'dist_token\), 15 patch rows\).*pretrained_img_size'
                                         r'.*must be 15'):
        _load(path, 64, 'default')
    want = _bicubic(rows, (3, 5), (4, 4), extra=2)
    with_cls = _load(path, 64, 'default', pretrained_img_size=(48, 80))
    torch.testing.assert_close(with_cls.pos_embed.data,
                               torch.cat([rows[:, :1], want], 1), rtol=0, atol=1e-7)
    assert any("dropping the checkpoint's dist_token row" in m for m in warnings_logged)
    gap = _load(path, 64, 'pvg', pretrained_img_size=(48, 80))
    torch.testing.assert_close(gap.pos_embed.data, want, rtol=0, atol=1e-7)
    assert any("cls_token and dist_token row(s)" in m for m in warnings_logged)
    # without its cls_token key the order of the rows is unknown
    sd = {'pos_embed': rows, 'dist_token': torch.zeros(1, 1, D)}
    with pytest.raises(ValueError, match='dist_token but no cls_token'):
        MPVGViT(arch=_arch(64), pe_mode='pvg').load_state_dict(sd, strict=False)


def test_gap_checkpoint_into_a_class_token_model_is_refused(tmp_path):
    path, _, _ = _save(tmp_path, (48, 80), 'pvg')
    with pytest.raises(ValueError, match='no class-token row.*with_cls_token=False'):
        _load(path, 64, 'default')


# --------------------------------------------------------------------------- sizes and shapes
def test_pos_embed_grid_is_a_buffer_not_a_parameter():
    model = MPVGViT(arch=_arch((48, 80)), pe_mode='mpvg')
    assert 'pos_embed_grid' not in dict(model.named_parameters())
    assert model.state_dict()['pos_embed_grid'].tolist() == [3, 5]
    assert model.pos_embed_grid.dtype == torch.long


@pytest.mark.parametrize('name', ['img_size', 'pretrained_img_size'])
@pytest.mark.parametrize('value', [(64, ), (64, 64, 3), 64.0, (0, 64), True])
def test_sizes_are_one_int_or_a_pair(name, value):
    with pytest.raises(ValueError, match=re.escape(f'{name}={value!r}')):
        MPVGViT(arch=_arch(64), pe_mode='pvg', **{name: value})


def test_sizes_accept_ints_and_pairs():
    model = MPVGViT(arch=_arch(64), pe_mode='pvg', img_size=[48, 80],
                    pretrained_img_size=224)
    assert model.img_size == (48, 80) and model.pe_grid == (3, 5)
    assert model.pretrained_grid == (14, 14)
    with pytest.raises(ValueError, match=r'pretrained_img_size=\(50, 50\) is not a multiple '
                                         r'of the patch size 16'):
        MPVGViT(arch=_arch(64), pe_mode='pvg', pretrained_img_size=50)


def test_resample_pos_embed_needs_1_n_d():
    with pytest.raises(ValueError, match=r'needs a \(1, N, D\) tensor.*\(16, 48\)'):
        resample_pos_embed(torch.zeros(16, D), (4, 4), (2, 2))
    with pytest.raises(ValueError, match=r'needs a \(1, N, D\) tensor.*\(2, 16, 48\)'):
        resample_pos_embed(torch.zeros(2, 16, D), (4, 4), (2, 2))
    with pytest.raises(ValueError, match='two positive ints'):
        resample_pos_embed(torch.zeros(1, 16, D), (16, ), (2, 2))


# --------------------------------------------------------------------------- the converter
def test_timm_converter_records_the_grid():
    from mpvg_mm.models.checkpoint_layout import convert_timm_checkpoint
    torch.manual_seed(0)
    source = MPVGViT(arch=_arch((48, 80)), pe_mode='default')
    timm_sd = {k: v for k, v in source.state_dict().items() if k != 'pos_embed_grid'}
    with pytest.raises(ValueError, match=r'grid 14x14 \(the arch\'s img_size 224x224.*'
                                         r'--img-size'):
        convert_timm_checkpoint({'model': timm_sd}, dict(arch=ARCH))
    converted, cfg = convert_timm_checkpoint({'model': timm_sd},
                                             dict(arch=ARCH, img_size=[48, 80]))
    state = converted['state_dict']
    assert state['backbone.pos_embed_grid'].tolist() == [3, 5]
    assert converted['meta']['pos_embed_grid'] == [3, 5]
    model = MPVGViT(arch=_arch(64), pe_mode='default')
    model.load_state_dict({k[len('backbone.'):]: v for k, v in state.items()}, strict=True)
    torch.testing.assert_close(model.pos_embed.data[:, 1:],
                               _bicubic(source.pos_embed.data, (3, 5), (4, 4), extra=1),
                               rtol=0, atol=1e-7)
