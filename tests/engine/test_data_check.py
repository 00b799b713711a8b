"""DataCheckHook: a COCO test set with an empty annotation list and segmentation labels
beyond the classes fail where the data is loaded, naming the file (mmdet's CocoDataset on
generated files)."""
import json
from types import SimpleNamespace

import pytest
import torch
from mmengine.structures import PixelData

from mpvg_mm.engine.data_check import DataCheckHook


@pytest.fixture(scope='module')
def coco(tmp_path_factory, tool):
    out = tmp_path_factory.mktemp('demo')
    tool('make_demo_data').main([str(out), '--formats', 'coco', '--num-train', '2',
                                 '--num-val', '2', '--img-size', '32'])
    return out / 'coco'


def _coco_dataset(root, ann_file, test_mode):
    from mmdet.datasets import CocoDataset
    return CocoDataset(data_root=str(root), ann_file=ann_file, test_mode=test_mode,
                       data_prefix=dict(img='train2017/'), pipeline=[],
                       metainfo=dict(classes=('circle', 'square', 'triangle', 'cross')))


def test_empty_coco_annotations_are_named(coco):
    data = json.loads((coco / 'annotations/instances_train2017.json').read_text())
    assert data['annotations']
    data['annotations'] = []
    (coco / 'empty.json').write_text(json.dumps(data))
    hook = DataCheckHook()
    runner = SimpleNamespace(
        test_dataloader=SimpleNamespace(dataset=_coco_dataset(coco, 'empty.json', True)))
    with pytest.raises(ValueError, match=r'test set .*empty\.json holds no annotation on any '
                       r'of its 2 images'):
        hook.before_test(runner)
    # the generated file passes
    good = _coco_dataset(coco, 'annotations/instances_train2017.json', True)
    hook.before_test(SimpleNamespace(test_dataloader=SimpleNamespace(dataset=good)))


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
