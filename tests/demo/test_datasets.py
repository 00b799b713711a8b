"""mpvg_mm.demo.datasets and the demo dataset configs: each toolbox's reader takes the
class names from the file the generator wrote under data_root, and without that file
fails with an error that names it."""
import glob
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from mpvg_mm import demo
from mpvg_mm.demo.datasets import load_classes_file

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: format -> (dataset config, scope, upstream dataset class name)
CONFIGS = {
    'imagenet': ('demo_cls.py', 'mmpretrain', 'CustomDataset'),
    'coco': ('demo_coco.py', 'mmdet', 'CocoDataset'),
    'ade20k': ('demo_ade.py', 'mmseg', 'BaseSegDataset'),
}
CLASSES = {'imagenet': demo.imagenet_classes(), 'coco': demo.SHAPES, 'ade20k': demo.SHAPES}
SEED, SIZE = 1, 64


@pytest.fixture(scope='module')
def tiny_demo(tmp_path_factory):
    """Two images per class (imagenet) or per split (coco, ade20k)."""
    out = str(tmp_path_factory.mktemp('demo'))
    for fmt in demo.FORMATS:
        demo.write_dataset(fmt, out, seed=SEED, num_train=2, num_val=2,
                           img_size=32 if fmt == 'imagenet' else SIZE)
    return out


def _dataset_cfg(fmt, split, data_root):
    """The real config's ``<split>_dataloader.dataset`` with ``data_root`` moved."""
    cfg = Config.fromfile(f'{ROOT}/configs/_base_/datasets/{CONFIGS[fmt][0]}')
    dataset = cfg[f'{split}_dataloader'].dataset.to_dict()
    dataset['data_root'] = data_root
    return dataset


@pytest.mark.filterwarnings('ignore:`reduce_zero_label` will be deprecated')
@pytest.mark.parametrize('split', ['train', 'val'])
@pytest.mark.parametrize('fmt', demo.FORMATS)
def test_config_reads_the_class_names_of_the_data(tiny_demo, fmt, split, toolbox_scope):
    _, scope, upstream = CONFIGS[fmt]
    DATASETS = toolbox_scope(scope)
    cfg = _dataset_cfg(fmt, split, osp.join(tiny_demo, fmt))
    assert isinstance(cfg['metainfo']['classes'], str)  # a file name, not the names
    dataset = DATASETS.build(cfg)
    assert isinstance(dataset, DATASETS.get(upstream))
    assert dataset.metainfo['classes'] == CLASSES[fmt]
    assert len(dataset) == (len(CLASSES[fmt]) * 2 if fmt == 'imagenet' else 2)
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        if fmt == 'imagenet':  # the label names the folder the image is in
            folder = osp.basename(osp.dirname(info['img_path']))
            assert dataset.metainfo['classes'][info['gt_label']] == folder
        elif fmt == 'coco':  # category ids map to the shapes' labels
            scene = demo.instance_scene(SEED, 'coco', split, info['img_id'] - 1, SIZE)
            assert [i['bbox_label'] for i in info['instances']] == [
                o.shape for o in scene.objects]
        else:
            assert info['reduce_zero_label'] and info['label_map'] is None
            if split == 'val':  # the test pipeline does not flip: compare pixels
                scene = demo.instance_scene(SEED, 'ade20k', split, index, SIZE)
                _, masks = demo.render_scene(scene, SIZE)
                want = demo.semantic_map(scene, masks).astype(np.int64) - 1
                want[want < 0] = 255
                got = dataset[index]['data_samples'].gt_sem_seg.data[0].numpy()
                assert np.array_equal(got, want)


@pytest.mark.parametrize('fmt', demo.FORMATS)
def test_missing_class_file_is_a_clear_error(tmp_path, fmt, toolbox_scope):
    demo.write_dataset(fmt, str(tmp_path), num_train=1, num_val=1, img_size=32)
    path = osp.join(tmp_path, fmt, demo.CLASSES_FILE[fmt])
    os.remove(path)  # as in data written before the generator wrote class files
    DATASETS = toolbox_scope(CONFIGS[fmt][1])
    with pytest.raises(FileNotFoundError, match='tools/make_demo_data.py') as err:
        DATASETS.build(_dataset_cfg(fmt, 'val', osp.join(tmp_path, fmt)))
    assert path in str(err.value)


@pytest.mark.parametrize('fmt', demo.FORMATS)
def test_lazy_dataset_without_class_file_warns(tmp_path, fmt, toolbox_scope):
    """What mmdet's DetInferencer builds for the palette alone (``lazy_init=True``), far
    from any data: the upstream reader's metainfo, with a warning naming the file."""
    DATASETS = toolbox_scope(CONFIGS[fmt][1])
    cfg = dict(_dataset_cfg(fmt, 'val', str(tmp_path)), lazy_init=True)
    with pytest.warns(UserWarning, match=str(tmp_path)):
        dataset = DATASETS.build(cfg)
    upstream = DATASETS.get(CONFIGS[fmt][2])
    assert dataset.metainfo.get('classes') == upstream.METAINFO.get('classes')


def test_upstream_reader_would_take_the_path_as_the_class_names(tmp_path, toolbox_scope):
    """Why the demo configs use the Demo* readers: mmengine keeps a metainfo string that
    names no file as the value itself (a warning only)."""
    demo.write_dataset('coco', str(tmp_path), num_train=1, num_val=1, img_size=32)
    cfg = _dataset_cfg('coco', 'val', osp.join(tmp_path, 'coco'))
    cfg.update(type='CocoDataset', metainfo=dict(classes=str(tmp_path / 'missing.txt')))
    assert toolbox_scope('mmdet').build(cfg).metainfo['classes'] == str(
        tmp_path / 'missing.txt')


def test_load_classes_file(tmp_path):
    (tmp_path / 'names.txt').write_text('a\nb\n')
    assert load_classes_file(dict(classes='names.txt', x=1), str(tmp_path)) == dict(
        classes=('a', 'b'), x=1)
    absolute = str(tmp_path / 'names.txt')
    assert load_classes_file(dict(classes=absolute), '/elsewhere')['classes'] == ('a', 'b')
    assert load_classes_file(None, str(tmp_path)) is None
    assert load_classes_file(dict(classes=('c', )), None) == dict(classes=('c', ))


def test_demo_configs_agree_on_the_number_of_classes():
    """num_classes cannot be read from the class files: each config states it."""
    for path in glob.glob(f'{ROOT}/configs/demo/*.py'):
        cfg = Config.fromfile(path)
        if cfg.default_scope == 'mmpretrain':
            want = len(demo.imagenet_classes())
            got = [cfg.data_preprocessor.num_classes, cfg.model.head.num_classes]
        elif cfg.default_scope == 'mmdet':
            want = len(demo.SHAPES)
            roi = cfg.model.roi_head
            got = [roi.bbox_head.num_classes, roi.mask_head.num_classes]
        else:
            want = len(demo.SHAPES)
            got = [cfg.model.decode_head.num_classes, cfg.model.auxiliary_head.num_classes]
        assert got == [want] * len(got), path
