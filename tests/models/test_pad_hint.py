"""The patch-size error names the padding key that the toolbox's own data preprocessor takes:
building that preprocessor with the suggested keys pads a 30x30 image to the patch multiple."""
import re

import pytest
import torch
from mmengine.registry import init_default_scope

from mpvg_mm.models.backbones.mpvg_vit import MPVGViT



@pytest.fixture(autouse=True)
def config_with_the_preprocessor_in_the_model():
    """tools/train.py/test.py record the key of the config they load (another test's)"""
    from mmengine.config import Config

    from mpvg_mm.models.backbones.mpvg_vit import record_data_preprocessor_key
    record_data_preprocessor_key(Config(dict(model=dict(data_preprocessor={}))))
    yield
    record_data_preprocessor_key(Config(dict(model=dict(data_preprocessor={}))))


PREPROCESSORS = {'mmpretrain': 'ClsDataPreprocessor', 'mmdet': 'DetDataPreprocessor',
                 'mmseg': 'SegDataPreProcessor'}


@pytest.mark.parametrize('scope', list(PREPROCESSORS))
def test_patch_size_error_suggests_the_toolbox_key(scope, tiny_arch):
    init_default_scope(scope)
    with pytest.raises(ValueError, match=f'not a multiple of the patch size 8.*{scope}') as info:
        MPVGViT(arch=tiny_arch)(torch.randn(1, 3, 30, 30))
    suggested = dict(re.findall(r'model\.data_preprocessor\.(\w+)=(dict\(size_divisor=8\)|8)',
                                str(info.value)))
    assert suggested, str(info.value)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    preprocessor = registry.build(dict(type=PREPROCESSORS[scope],
                                       **{k: eval(v) for k, v in suggested.items()}))
    sample = __import__(f'{scope}.structures', fromlist=['x'])
    sample = getattr(sample, {'mmpretrain': 'DataSample', 'mmdet': 'DetDataSample',
                              'mmseg': 'SegDataSample'}[scope])()
    data = dict(inputs=[torch.randint(0, 255, (3, 30, 30), dtype=torch.uint8)],
                data_samples=[sample])
    for training in (True, False):
        if training and scope == 'mmseg':
            from mmengine.structures import PixelData
            sample.gt_sem_seg = PixelData(data=torch.zeros(1, 30, 30, dtype=torch.long))
        out = preprocessor(data, training=training)
        assert tuple(out['inputs'].shape[-2:]) == (32, 32), (scope, training)


def test_without_a_toolbox_scope_every_key_is_named(tiny_arch):
    with pytest.raises(ValueError, match=r'mmpretrain: model\.data_preprocessor\.pad_size_'
                       r'divisor=8; mmdet: .*pad_size_divisor=8; mmseg: .*size_divisor=8'):
        MPVGViT(arch=tiny_arch)(torch.randn(1, 3, 30, 30))


def test_the_hint_names_the_key_of_the_config_in_use(tiny_arch):
    """mmpretrain's dataset configs set a top-level data_preprocessor, which the runner gives
    the model: the hint's key (top-level) keeps mean/std; model.data_preprocessor.* would
    create an entry replacing the whole preprocessor."""
    from mmengine.config import Config

    from mpvg_mm.models.backbones.mpvg_vit import record_data_preprocessor_key
    root = __file__.rsplit('/tests/', 1)[0]
    cfg = Config.fromfile(f'{root}/configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py')
    init_default_scope('mmpretrain')
    assert record_data_preprocessor_key(cfg) == 'data_preprocessor'
    with pytest.raises(ValueError) as info:
        MPVGViT(arch=tiny_arch)(torch.randn(1, 3, 30, 30))
    (key, value), = re.findall(r'--cfg-options ([\w.]+)=(\d+)', str(info.value))
    assert key == 'data_preprocessor.pad_size_divisor', str(info.value)
    cfg.merge_from_dict({key: int(value)})
    built = cfg.model.get('data_preprocessor') or cfg.data_preprocessor  # as mmengine's Runner
    assert built['pad_size_divisor'] == 8 and built['mean'] == [123.675, 116.28, 103.53]
