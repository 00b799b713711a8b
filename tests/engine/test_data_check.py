"""Datasets with problems fail where the data is loaded, naming the file: a COCO file with
an empty annotation list (training: tools/train.py before the first iteration; testing:
DataCheckHook) and segmentation labels beyond the classes (DataCheckHook at training and
testing), on generated files in the real formats (mmdet's CocoDataset, mmseg's datasets).
"""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.structures import PixelData
from PIL import Image

from mpvg_mm.engine.data_check import DataCheckHook

ROOT = __file__.rsplit('/tests/', 1)[0]
DEMO_DET = f'{ROOT}/configs/demo/mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco.py'
DEMO_SEG = f'{ROOT}/configs/demo/upernet_mpvg-vit-demo_mpvg_1xb8_demo-ade.py'
pytestmark = pytest.mark.usefixtures('single_thread')


@pytest.fixture(scope='module')
def demo(tmp_path_factory, tool):
    out = tmp_path_factory.mktemp('demo')
    tool('make_demo_data').main([str(out), '--formats', 'coco,ade20k', '--num-train', '2',
                                 '--num-val', '2', '--img-size', '32'])
    return out


@pytest.fixture(scope='module')
def coco(demo):
    return demo / 'coco'


def _coco_dataset(root, ann_file, test_mode):
    from mmdet.datasets import CocoDataset
    return CocoDataset(data_root=str(root), ann_file=ann_file, test_mode=test_mode,
                       data_prefix=dict(img='train2017/'), pipeline=[],
                       metainfo=dict(classes=('circle', 'square', 'triangle', 'cross')))


def _write_empty_coco(coco):
    data = json.loads((coco / 'annotations/instances_train2017.json').read_text())
    assert data['annotations']
    data['annotations'] = []
    (coco / 'empty.json').write_text(json.dumps(data))


def test_training_on_empty_coco_is_refused_naming_the_file(coco, tmp_path):
    """The demo detector's training set (mmdet's filter_empty_gt drops every image of an
    empty annotation list) is refused by tools/train.py with the file and the problem,
    not mmengine's bare 'need at least one array to concatenate'."""
    from mpvg_mm.cli import train_main
    _write_empty_coco(coco)
    with pytest.raises(ValueError, match=r'dataset .*/empty\.json holds no annotation on any '
                       r'of its 2 images \(an empty annotation list\)'):
        train_main([DEMO_DET, '--work-dir', str(tmp_path), '--cfg-options',
                    f'train_dataloader.dataset.data_root={coco}/',
                    'train_dataloader.dataset.ann_file=empty.json',
                    f'val_dataloader.dataset.data_root={coco}/',
                    'model.backbone.init_cfg=None'])


def test_empty_coco_annotations_are_named(coco):
    _write_empty_coco(coco)
    hook = DataCheckHook()
    runner = SimpleNamespace(
        test_dataloader=SimpleNamespace(dataset=_coco_dataset(coco, 'empty.json', True)))
    with pytest.raises(ValueError, match=r'test set .*empty\.json holds no annotation on any '
                       r'of its 2 images'):
        hook.before_test(runner)
    # a training set kept whole (no filter_empty_gt), as mmdet's own tools/train.py runs it
    runner = SimpleNamespace(
        train_dataloader=SimpleNamespace(dataset=_coco_dataset(coco, 'empty.json', False)))
    with pytest.raises(ValueError, match=r'training set .*empty\.json holds no annotation'):
        hook.before_train(runner)
    # the generated file passes
    good = _coco_dataset(coco, 'annotations/instances_train2017.json', True)
    hook.before_test(SimpleNamespace(test_dataloader=SimpleNamespace(dataset=good)))


@pytest.fixture(scope='module')
def seg_cfg():
    return Config.fromfile(DEMO_SEG)


@pytest.mark.parametrize('split', ['train', 'test'])
def test_segmentation_label_maps_beyond_the_classes_are_named(demo, seg_cfg, split):
    """A generated ADE20K-layout label map holding shape index 7 (6 after the demo
    dataset's reduce_zero_label; the decode head has 4 classes) is named when its batch is
    loaded for training or testing; the generated maps pass."""
    from mmseg.registry import DATASETS
    head = SimpleNamespace(num_classes=seg_cfg.model.decode_head.num_classes,
                           ignore_index=255)
    runner = SimpleNamespace(model=SimpleNamespace(decode_head=head))
    dataset_cfg = seg_cfg[f'{split}_dataloader'].dataset.copy()
    dataset_cfg.data_root = str(demo / 'ade20k')
    dataset = DATASETS.build(dataset_cfg)
    hook = getattr(DataCheckHook(), f'before_{split}_iter')
    hook(runner, 0, pseudo_collate([dataset[0]]))
    path = dataset.get_data_info(0)['seg_map_path']
    labels = np.array(Image.open(path))
    labels[:2, :2] = 7
    Image.fromarray(labels).save(path)
    with pytest.raises(ValueError, match=rf'{path} holds labels \[6\] outside the 4 classes'):
        hook(runner, 0, pseudo_collate([dataset[0]]))


def test_segmentation_labels_beyond_the_classes_are_named():
    from mmseg.structures import SegDataSample
    head = SimpleNamespace(num_classes=4, ignore_index=255)
    runner = SimpleNamespace(model=SimpleNamespace(decode_head=head))
    sample = SegDataSample(metainfo=dict(seg_map_path='ann/b.png'))
    sample.gt_sem_seg = PixelData(data=torch.tensor([[[0, 3, 255]]]))
    DataCheckHook().before_train_iter(runner, 0, dict(data_samples=[sample]))
    sample.gt_sem_seg = PixelData(data=torch.tensor([[[0, 3, 4, 7, 255]]]))
    with pytest.raises(ValueError, match=r'ann/b\.png holds labels \[4, 7\] outside the 4 '
                       r'classes'):
        DataCheckHook().before_test_iter(runner, 0, dict(data_samples=[sample]))


DEMO_CLS = f'{ROOT}/configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'


@pytest.fixture(scope='module')
def imagenet(tmp_path_factory, tool):
    out = tmp_path_factory.mktemp('cls')
    tool('make_demo_data').main([str(out), '--formats', 'imagenet', '--num-train', '1',
                                 '--num-val', '1'])
    return out / 'imagenet'


def test_classification_labels_beyond_the_classes_are_named(imagenet, tmp_path):
    """A label beyond the 8 demo classes (training: a bare IndexError in the cross-entropy
    without the check), and labels the 8 classes allow but a 4-class head does not."""
    from mpvg_mm.cli import train_main
    lines = (imagenet / 'meta/train.txt').read_text().splitlines()
    first = lines[0].split()[0]
    (imagenet / 'meta/bad.txt').write_text('\n'.join(lines + [f'{first} 9']) + '\n')
    data = [f'train_dataloader.dataset.data_root={imagenet}',
            f'val_dataloader.dataset.data_root={imagenet}',
            f'test_dataloader.dataset.data_root={imagenet}']
    with pytest.raises(ValueError, match=r'meta/bad\.txt holds class labels \[9\] outside the '
                       r'8 classes of the dataset \(0\.\.7\)'):
        train_main([DEMO_CLS, '--work-dir', str(tmp_path), '--cfg-options', *data,
                    'train_dataloader.dataset.ann_file=meta/bad.txt'])
    # labels of the generated file that the 8 classes allow and a 4-class head does not
    with pytest.raises(ValueError, match=r'meta/train\.txt holds class labels \[4, 5, 6, 7\] '
                       r'outside the num_classes=4 of the head'):
        train_main([DEMO_CLS, '--work-dir', str(tmp_path), '--cfg-options', *data,
                    'model.head.num_classes=4'])


def test_coco_categories_that_do_not_match_the_classes_are_named(coco):
    """An annotated category renamed in the file: the config's class is no category
    (CocoMetric would fail with an IndexError after the whole evaluation) and the file's
    'disk' annotations would be dropped silently by mmdet."""
    from mmengine.dataset import DefaultSampler
    from torch.utils.data import DataLoader

    from mpvg_mm.engine.data_check import build_checked_dataloader
    data = json.loads((coco / 'annotations/instances_train2017.json').read_text())
    renamed = next(c for c in data['categories']
                   if c['id'] == data['annotations'][0]['category_id'])
    name, renamed['name'] = renamed['name'], 'disk'
    (coco / 'renamed.json').write_text(json.dumps(data))

    def build(ann_file):
        def loader(cfg, seed=None, diff_rank_seed=False):
            dataset = _coco_dataset(coco, ann_file, True)
            return DataLoader(dataset, sampler=DefaultSampler(dataset, shuffle=False))
        return build_checked_dataloader({}, build=loader)

    with pytest.raises(ValueError, match=rf"renamed\.json: the classes \['{name}'\] of the "
                       r"config are no category of the file .*annotated categories \['disk'\] "
                       r'are no class of the config'):
        build('renamed.json')
    build('annotations/instances_train2017.json')  # the generated file passes
