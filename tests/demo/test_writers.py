"""mpvg_mm.demo.writers (through tools/make_demo_data.py): the three layouts on disk,
deterministic, with their class-name files, read by each toolbox's own dataset class."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mpvg_mm import demo

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEED = 3
N_INET_TRAIN, N_INET_VAL = 4, 2  # per class
N_TRAIN, N_VAL = 6, 4  # coco / ade20k images per split
SIZE = 96


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory, tool):
    """A small copy of all three formats, written through the CLI."""
    out = tmp_path_factory.mktemp('demo')
    tool('make_demo_data').main([str(out), '--seed', str(SEED), '--num-train', '0', '--num-val', '0',
                     '--formats', 'imagenet'])  # exercises the zero-sample path
    demo.write_imagenet(str(out / 'imagenet'), SEED, N_INET_TRAIN, N_INET_VAL)
    demo.write_coco(str(out / 'coco'), SEED, N_TRAIN, N_VAL, img_size=SIZE)
    demo.write_ade20k(str(out / 'ade20k'), SEED, N_TRAIN, N_VAL, img_size=SIZE)
    return out


def test_coco_categories():
    assert [c['id'] for c in demo.coco_categories()] == [1, 2, 3, 4]


def test_class_files(demo_root):
    """Each format lists its class names, one a line in label order, in CLASSES_FILE."""
    assert set(demo.CLASSES_FILE) == set(demo.FORMATS)
    want = {'imagenet': demo.imagenet_classes(), 'coco': demo.SHAPES, 'ade20k': demo.SHAPES}
    for fmt, names in want.items():
        text = (demo_root / fmt / demo.CLASSES_FILE[fmt]).read_text()
        assert text == ''.join(f'{name}\n' for name in names), fmt
    with open(demo_root / 'coco' / 'annotations' / 'instances_val2017.json') as f:
        categories = json.load(f)['categories']
    assert [c['name'] for c in sorted(categories, key=lambda c: c['id'])] == list(demo.SHAPES)


def _iou(a, b):
    return np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1)


def test_cli_is_deterministic(tmp_path, tool):
    cli = tool('make_demo_data')
    args = ['--seed', '1', '--num-train', '2', '--num-val', '1', '--img-size',
            'imagenet=24,coco=48,ade20k=40']
    cli.main([str(tmp_path / 'a')] + args)
    cli.main([str(tmp_path / 'b')] + args)
    cli.main([str(tmp_path / 'c'), '--seed', '2'] + args[2:])
    files = sorted(
        osp.relpath(osp.join(d, f), tmp_path / 'a') for d, _, fs in os.walk(tmp_path / 'a')
        for f in fs)
    # imagenet: 8 classes x 3 images + 3 meta files; coco: 3 + 2 + classes.txt;
    # ade20k: 3 + 3 + classes.txt
    assert len(files) == 8 * 3 + 3 + 6 + 7
    for rel in files:
        a, b = tmp_path / 'a' / rel, tmp_path / 'b' / rel
        assert osp.exists(b), rel
        if rel.endswith(('.json', '.txt', '.png')):
            assert a.read_bytes() == b.read_bytes(), rel
        else:
            assert np.array_equal(cv2.imread(str(a)), cv2.imread(str(b))), rel
    ann = 'coco/annotations/instances_train2017.json'
    assert (tmp_path / 'a' / ann).read_bytes() != (tmp_path / 'c' / ann).read_bytes()
    assert cv2.imread(str(tmp_path / 'a/imagenet/val/circle_left/circle_left_00000.JPEG')
                      ).shape == (24, 24, 3)
    assert cv2.imread(str(tmp_path / 'a/coco/val2017/000000.jpg')).shape == (48, 48, 3)
    assert cv2.imread(str(tmp_path / 'a/ade20k/annotations/validation/000000.png'),
                      cv2.IMREAD_UNCHANGED).shape == (40, 40)
    # --flat: the same scenes in flat colours; the annotations do not change
    cli.main([str(tmp_path / 'flat'), '--flat'] + args)
    for rel in files:
        a, flat = tmp_path / 'a' / rel, tmp_path / 'flat' / rel
        if rel.endswith(('.json', '.txt', '.png')):
            assert a.read_bytes() == flat.read_bytes(), rel
    image = 'ade20k/images/training/000000.jpg'
    assert not np.array_equal(cv2.imread(str(tmp_path / 'a' / image)),
                              cv2.imread(str(tmp_path / 'flat' / image)))


def test_rewrite_removes_stale_files(tmp_path):
    demo.write_ade20k(str(tmp_path), 0, num_train=3, num_val=2, img_size=32)
    demo.write_ade20k(str(tmp_path), 0, num_train=1, num_val=2, img_size=32)
    assert sorted(os.listdir(tmp_path / 'images' / 'training')) == ['000000.jpg']
    assert sorted(os.listdir(tmp_path / 'annotations' / 'training')) == ['000000.png']


def test_imagenet_layout(demo_root):
    root = demo_root / 'imagenet'
    classes = (root / 'meta' / 'classes.txt').read_text().split('\n')
    assert classes == list(demo.imagenet_classes()) + ['']
    lines = (root / 'meta' / 'train.txt').read_text().splitlines()
    assert len(lines) == 8 * N_INET_TRAIN
    for line in lines:
        rel, label = line.split(' ')
        assert rel.split('/')[0] == demo.imagenet_classes()[int(label)]
        assert (root / 'train' / rel).is_file()
    assert len((root / 'meta' / 'val.txt').read_text().splitlines()) == 8 * N_INET_VAL


@pytest.mark.parametrize('dataset_type', ['ImageNet', 'CustomDataset'])
def test_mmpretrain_reads_imagenet(demo_root, dataset_type, toolbox_scope):
    DATASETS = toolbox_scope('mmpretrain')
    root = str(demo_root / 'imagenet')
    cfg = dict(type=dataset_type, data_root=root, ann_file='meta/val.txt',
               data_prefix='val',
               pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
    if dataset_type == 'ImageNet':
        cfg['metainfo'] = dict(classes=demo.imagenet_classes())
    else:  # classes straight from the file the writer put there
        cfg['metainfo'] = dict(classes=osp.join(root, 'meta', 'classes.txt'))
    dataset = DATASETS.build(cfg)
    assert len(dataset) == 8 * N_INET_VAL
    assert tuple(dataset.CLASSES) == demo.imagenet_classes()
    for index in (0, len(dataset) - 1):
        sample = dataset[index]
        label = int(sample['data_samples'].gt_label.item())
        folder = osp.basename(osp.dirname(sample['data_samples'].img_path))
        assert folder == demo.imagenet_classes()[label]
        assert tuple(sample['inputs'].shape) == (3, 32, 32)
    assert int(dataset[len(dataset) - 1]['data_samples'].gt_label.item()) == 7


def _coco_ann(demo_root, split='train'):
    return str(demo_root / 'coco' / 'annotations' / f'instances_{split}2017.json')


def test_pycocotools_reads_coco(demo_root):
    from pycocotools.coco import COCO
    coco = COCO(_coco_ann(demo_root))
    assert sorted(coco.getImgIds()) == list(range(1, N_TRAIN + 1))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(demo.SHAPES)
    ann_ids = coco.getAnnIds()
    assert len(set(ann_ids)) == len(ann_ids) >= N_TRAIN
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        assert (info['height'], info['width']) == (SIZE, SIZE)
        scene = demo.instance_scene(SEED, 'coco', 'train', img_id - 1, SIZE)
        _, masks = demo.render_scene(scene, SIZE)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        assert len(anns) == len(scene.objects)
        for ann, obj, mask in zip(anns, scene.objects, masks):
            assert ann['category_id'] == obj.shape + 1 and ann['iscrowd'] == 0
            assert ann['area'] == mask.sum()
            assert ann['bbox'] == demo.mask_to_bbox(mask)
            # the polygons run just inside the pixel edges: exact round trip
            assert _iou(coco.annToMask(ann).astype(bool), mask) > 0.99


def test_mmdet_reads_coco(demo_root, toolbox_scope):
    DATASETS = toolbox_scope('mmdet')
    dataset = DATASETS.build(
        dict(type='CocoDataset', data_root=str(demo_root / 'coco'),
             ann_file='annotations/instances_val2017.json',
             data_prefix=dict(img='val2017/'), metainfo=dict(classes=demo.SHAPES),
             test_mode=False, filter_cfg=dict(filter_empty_gt=True, min_size=4),
             pipeline=[dict(type='LoadImageFromFile'),
                       dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]))
    assert len(dataset) == N_VAL
    with open(_coco_ann(demo_root, 'val')) as f:
        raw = json.load(f)
    for index in range(N_VAL):
        results = dataset[index]
        img_id = results['img_id']
        scene = demo.instance_scene(SEED, 'coco', 'val', img_id - 1, SIZE)
        image, masks = demo.render_scene(scene, SIZE)
        assert results['img'].shape == (SIZE, SIZE, 3)
        # JPEG only perturbs the pixels slightly (BGR on disk)
        assert np.abs(results['img'][..., ::-1].astype(int) - image).mean() < 6
        anns = [a for a in raw['annotations'] if a['image_id'] == img_id]
        boxes = results['gt_bboxes'].numpy()
        assert boxes.shape == (len(scene.objects), 4)
        expected = np.array([[x, y, x + w, y + h] for x, y, w, h in
                             (a['bbox'] for a in anns)])
        np.testing.assert_allclose(boxes, expected)
        assert results['gt_bboxes_labels'].tolist() == [o.shape for o in scene.objects]
        gt_masks = results['gt_masks'].to_ndarray().astype(bool)
        assert gt_masks.shape == (len(scene.objects), SIZE, SIZE)
        for got, want in zip(gt_masks, masks):
            assert _iou(got, want) > 0.9


def _seg_pipeline():
    return [dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', reduce_zero_label=True)]


@pytest.mark.filterwarnings('ignore:`reduce_zero_label` will be deprecated')
@pytest.mark.parametrize('split', ['train', 'val'])
def test_mmseg_reads_ade20k(demo_root, split, toolbox_scope):
    DATASETS = toolbox_scope('mmseg')
    name = demo.SPLIT_DIRS['ade20k'][split]
    common = dict(data_root=str(demo_root / 'ade20k'),
                  data_prefix=dict(img_path=f'images/{name}',
                                   seg_map_path=f'annotations/{name}'),
                  pipeline=_seg_pipeline())
    # Our own class names are not a subset of ADE20K's 150, which ADE20KDataset
    # requires of a metainfo override; BaseSegDataset (no METAINFO) takes them.
    with pytest.raises(ValueError, match='is not a subset'):
        DATASETS.build(dict(type='ADE20KDataset', metainfo=dict(classes=demo.SHAPES),
                            **common))
    ade = DATASETS.build(dict(type='ADE20KDataset', **common))
    base = DATASETS.build(
        dict(type='BaseSegDataset', img_suffix='.jpg', seg_map_suffix='.png',
             reduce_zero_label=True,
             metainfo=dict(classes=demo.SHAPES), **common))
    num = N_TRAIN if split == 'train' else N_VAL
    assert len(ade) == len(base) == num
    assert base.metainfo['classes'] == demo.SHAPES and base.metainfo['label_map'] is None
    for index in range(num):
        scene = demo.instance_scene(SEED, 'ade20k', split, index, SIZE)
        _, masks = demo.render_scene(scene, SIZE)
        want = demo.semantic_map(scene, masks).astype(np.int64) - 1
        want[want < 0] = 255
        for dataset in (ade, base):
            results = dataset[index]
            assert osp.basename(results['img_path']) == f'{index:06d}.jpg'
            got = results['gt_seg_map']
            assert got.shape == (SIZE, SIZE)
            assert set(np.unique(got)) <= {0, 1, 2, 3, 255}
            assert np.array_equal(got, want)
        assert set(np.unique(want)) - {255} == {o.shape for o in scene.objects}
