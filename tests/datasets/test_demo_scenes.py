"""The procedural demo data: scenes, the three on-disk formats and their readers."""
import importlib
import importlib.util
import json
import os
import os.path as osp
from dataclasses import replace

import cv2
import numpy as np
import pytest

from mpvg_mm.datasets import demo_scenes as ds

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEED = 3
N_INET_TRAIN, N_INET_VAL = 4, 2  # per class
N_TRAIN, N_VAL = 6, 4  # coco / ade20k images per split
SIZE = 96


def _load_cli():
    spec = importlib.util.spec_from_file_location(
        'make_demo_data', osp.join(ROOT, 'tools', 'make_demo_data.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    """A small copy of all three formats, written through the CLI."""
    out = tmp_path_factory.mktemp('demo')
    _load_cli().main([str(out), '--seed', str(SEED), '--num-train', '0', '--num-val', '0',
                      '--formats', 'imagenet'])  # exercises the zero-sample path
    ds.write_imagenet(str(out / 'imagenet'), SEED, N_INET_TRAIN, N_INET_VAL)
    ds.write_coco(str(out / 'coco'), SEED, N_TRAIN, N_VAL, img_size=SIZE)
    ds.write_ade20k(str(out / 'ade20k'), SEED, N_TRAIN, N_VAL, img_size=SIZE)
    return out


def _iou(a, b):
    return np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1)


@pytest.fixture
def toolbox_scope():
    """Yields a function ``scope -> DATASETS`` that registers the toolbox's modules
    and makes it the default scope (so pipelines resolve its transforms) until the
    test ends."""
    from mmengine.registry import DefaultScope
    entered = []

    def enter(scope):
        importlib.import_module(f'{scope}.utils').register_all_modules(
            init_default_scope=False)
        ctx = DefaultScope.overwrite_default_scope(scope)
        ctx.__enter__()
        entered.append(ctx)
        return importlib.import_module(f'{scope}.registry').DATASETS

    yield enter
    for ctx in reversed(entered):
        ctx.__exit__(None, None, None)


# ------------------------------------------------------------------ scenes
def test_class_lists():
    assert ds.SHAPES == ('circle', 'square', 'triangle', 'cross')
    classes = ds.imagenet_classes()
    assert len(classes) == 8
    assert classes[:3] == ('circle_left', 'circle_right', 'square_left')
    assert classes[ds.imagenet_label(3, 1)] == 'cross_right'
    assert [c['id'] for c in ds.coco_categories()] == [1, 2, 3, 4]


@pytest.mark.parametrize('shape, area_per_unit', [
    ('circle', np.pi), ('square', 4 * 0.85**2), ('triangle', 3 * np.sqrt(3) / 4 * 1.15**2),
    ('cross', 2 * (2 * 0.7) - 0.7**2)])
def test_object_mask_area(shape, area_per_unit):
    """Each silhouette has the analytic area of its shape (size 0.3 of 100 px)."""
    obj = ds.SceneObject(ds.SHAPES.index(shape), (0.5, 0.5), 0.3, 0.4, (255, 0, 0))
    mask = ds.object_mask(obj, 100, 100)
    assert mask.dtype == bool and mask.shape == (100, 100)
    assert abs(mask.sum() / (area_per_unit * 30**2) - 1) < 0.03
    ys, xs = np.nonzero(mask)
    assert abs(xs.mean() + 0.5 - 50) < 0.5 and abs(ys.mean() + 0.5 - 50) < 0.5


def test_render_occlusion_order():
    bg = ds.Background('gradient', ((0, 0, 0), (40, 40, 40)))
    below = ds.SceneObject(0, (0.4, 0.5), 0.2, 0.0, (255, 0, 0))
    above = ds.SceneObject(1, (0.6, 0.5), 0.2, 0.0, (0, 0, 255))
    image, masks = ds.render_scene(ds.Scene(bg, (below, above)), (50, 60))
    assert image.shape == (50, 60, 3) and image.dtype == np.uint8
    assert masks.shape == (2, 50, 60)
    full_below = ds.object_mask(below, 50, 60)
    assert not np.any(masks[0] & masks[1])
    assert np.array_equal(masks[1], ds.object_mask(above, 50, 60))
    assert np.array_equal(masks[0], full_below & ~masks[1])
    assert 0 < masks[0].sum() < full_below.sum()
    assert np.all(image[masks[1]] == (0, 0, 255)) and np.all(image[masks[0]] == (255, 0, 0))
    seg = ds.semantic_map(ds.Scene(bg, (below, above)), masks)
    assert set(np.unique(seg)) == {0, 1, 2}


@pytest.mark.parametrize('fill, shaded_fraction', [
    ('solid', 0.0), ('stripes', 0.5), ('checker', 0.5), ('dots', 0.25)])
def test_fill_patterns(fill, shaded_fraction):
    """Each fill shades its share of every period cell, the same way at any offset."""
    p = ds.FILL_PERIOD
    pattern = ds.fill_pattern(fill, 3 * p, 5 * p)
    assert pattern.shape == (3 * p, 5 * p) and pattern.dtype == bool
    assert pattern.mean() == shaded_fraction
    cell = pattern[:p, :p]
    assert np.array_equal(pattern, np.tile(cell, (3, 5)))
    if fill == 'stripes':  # horizontal bands: constant along each row
        assert np.all(cell == cell[:, :1]) and not np.all(cell == cell[:1])
    if fill == 'checker':
        assert np.array_equal(cell, ~np.rot90(cell))
    with pytest.raises(ValueError, match='unknown fill'):
        ds.fill_pattern('zebra', 4, 4)


def test_textured_objects_show_their_class_pattern():
    """The object's pixels are its colour and FILL_SHADE x its colour, where the pattern
    says; the fill changes neither the silhouette nor anything else in the scene."""
    bg = ds.Background('gradient', ((0, 0, 0), (40, 40, 40)))
    color = np.array([200, 100, 50])
    for shape, fill in enumerate(ds.SHAPE_FILLS):
        obj = ds.SceneObject(shape, (0.5, 0.5), 0.35, 0.3, tuple(color), fill)
        image, (mask, ) = ds.render_scene(ds.Scene(bg, (obj, )), 48)
        shaded = mask & ds.fill_pattern(fill, 48, 48)
        assert np.array_equal(mask, ds.object_mask(obj, 48, 48))
        assert np.all(image[mask & ~shaded] == color)
        assert np.all(image[shaded] == np.rint(ds.FILL_SHADE * color))
        assert (shaded.sum() > 0.2 * mask.sum()) == (fill != 'solid')
    for label in range(len(ds.imagenet_classes())):
        textured = ds.imagenet_scene(0, 'val', label, 1)
        flat = ds.imagenet_scene(0, 'val', label, 1, textured=False)
        assert textured.objects[0].fill == ds.SHAPE_FILLS[label // 2]
        assert flat.objects[0].fill == 'solid'
        assert textured == replace(flat, objects=(
            replace(flat.objects[0], fill=textured.objects[0].fill), ))
    textured = ds.instance_scene(0, 'ade20k', 'train', 2, 64)
    flat = ds.instance_scene(0, 'ade20k', 'train', 2, 64, textured=False)
    assert [o.fill for o in textured.objects] == [ds.SHAPE_FILLS[o.shape]
                                                  for o in textured.objects]
    assert [replace(o, fill='solid') for o in textured.objects] == list(flat.objects)


def test_scenes_are_deterministic_and_seed_dependent():
    a = ds.render_scene(ds.instance_scene(0, 'coco', 'train', 5, 64), 64)
    b = ds.render_scene(ds.instance_scene(0, 'coco', 'train', 5, 64), 64)
    c = ds.render_scene(ds.instance_scene(1, 'coco', 'train', 5, 64), 64)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_instance_scenes_keep_visible_objects():
    counts, occluded = [], 0
    for index in range(40):
        scene = ds.instance_scene(0, 'coco', 'train', index, 128)
        _, masks = ds.render_scene(scene, 128)
        counts.append(len(scene.objects))
        for obj, mask in zip(scene.objects, masks):
            full = ds.object_mask(obj, 128, 128).sum()
            assert mask.sum() >= max(16, 0.3 * full)
            occluded += int(mask.sum() < full)
    assert min(counts) >= 1 and max(counts) == 3
    assert 1 <= occluded <= 0.3 * sum(counts)  # partial occlusion happens, not often
    assert 1.5 < np.mean(counts) < 2.8


def test_position_dependent_labels():
    """The label's side is the side of the object's centre, in the scene and in pixels."""
    for label in range(len(ds.imagenet_classes())):
        shape, side = divmod(label, 2)
        for k in range(6):
            scene = ds.imagenet_scene(0, 'train', label, k)
            (obj, ) = scene.objects
            assert obj.shape == shape
            assert ds.side_of(obj.center[0]) == side
            assert abs(obj.center[0] - 0.5) >= 0.06
            _, masks = ds.render_scene(scene, 32)
            xs = np.nonzero(masks[0])[1] + 0.5
            assert masks[0].sum() >= 15
            assert ds.side_of(xs.mean() / 32) == side
            assert np.all(xs > 0) and np.all(xs < 32)


def test_mask_to_segmentation_polygons_and_rle():
    from pycocotools import mask as mask_utils
    ring = np.zeros((20, 30), dtype=bool)
    ring[3:15, 4:20] = True
    ring[6:10, 8:12] = False  # a hole: polygons cannot express it
    assert ds.mask_to_polygons(ring) is None
    rle = ds.mask_to_segmentation(ring)
    assert rle['size'] == [20, 30] and sum(rle['counts']) == 600
    decoded = mask_utils.decode(mask_utils.frPyObjects(rle, 20, 30)).astype(bool)
    assert np.array_equal(decoded, ring)
    solid = np.zeros((20, 30), dtype=bool)
    solid[2:9, 3:11] = True
    solid[12:17, 20:28] = True
    polys = ds.mask_to_segmentation(solid)
    assert isinstance(polys, list) and len(polys) == 2
    decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, 20, 30)))
    assert np.array_equal(decoded.astype(bool), solid)
    assert ds.mask_to_bbox(solid) == [3.0, 2.0, 25.0, 15.0]


# ------------------------------------------------------------------ on disk
def test_cli_is_deterministic(tmp_path):
    cli = _load_cli()
    args = ['--seed', '1', '--num-train', '2', '--num-val', '1', '--img-size',
            'imagenet=24,coco=48,ade20k=40']
    cli.main([str(tmp_path / 'a')] + args)
    cli.main([str(tmp_path / 'b')] + args)
    cli.main([str(tmp_path / 'c'), '--seed', '2'] + args[2:])
    files = sorted(
        osp.relpath(osp.join(d, f), tmp_path / 'a') for d, _, fs in os.walk(tmp_path / 'a')
        for f in fs)
    # imagenet: 8 classes x 3 images + 3 meta files; coco: 3 + 2; ade20k: 3 + 3
    assert len(files) == 8 * 3 + 3 + 5 + 6
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
    ds.write_ade20k(str(tmp_path), 0, num_train=3, num_val=2, img_size=32)
    ds.write_ade20k(str(tmp_path), 0, num_train=1, num_val=2, img_size=32)
    assert sorted(os.listdir(tmp_path / 'images' / 'training')) == ['000000.jpg']
    assert sorted(os.listdir(tmp_path / 'annotations' / 'training')) == ['000000.png']


def test_imagenet_layout(demo_root):
    root = demo_root / 'imagenet'
    classes = (root / 'meta' / 'classes.txt').read_text().split('\n')
    assert classes == list(ds.imagenet_classes()) + ['']
    lines = (root / 'meta' / 'train.txt').read_text().splitlines()
    assert len(lines) == 8 * N_INET_TRAIN
    for line in lines:
        rel, label = line.split(' ')
        assert rel.split('/')[0] == ds.imagenet_classes()[int(label)]
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
        cfg['metainfo'] = dict(classes=ds.imagenet_classes())
    else:  # classes straight from the file the writer put there
        cfg['metainfo'] = dict(classes=osp.join(root, 'meta', 'classes.txt'))
    dataset = DATASETS.build(cfg)
    assert len(dataset) == 8 * N_INET_VAL
    assert tuple(dataset.CLASSES) == ds.imagenet_classes()
    for index in (0, len(dataset) - 1):
        sample = dataset[index]
        label = int(sample['data_samples'].gt_label.item())
        folder = osp.basename(osp.dirname(sample['data_samples'].img_path))
        assert folder == ds.imagenet_classes()[label]
        assert tuple(sample['inputs'].shape) == (3, 32, 32)
    assert int(dataset[len(dataset) - 1]['data_samples'].gt_label.item()) == 7


def _coco_ann(demo_root, split='train'):
    return str(demo_root / 'coco' / 'annotations' / f'instances_{split}2017.json')


def test_pycocotools_reads_coco(demo_root):
    from pycocotools.coco import COCO
    coco = COCO(_coco_ann(demo_root))
    assert sorted(coco.getImgIds()) == list(range(1, N_TRAIN + 1))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(ds.SHAPES)
    ann_ids = coco.getAnnIds()
    assert len(set(ann_ids)) == len(ann_ids) >= N_TRAIN
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        assert (info['height'], info['width']) == (SIZE, SIZE)
        scene = ds.instance_scene(SEED, 'coco', 'train', img_id - 1, SIZE)
        _, masks = ds.render_scene(scene, SIZE)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        assert len(anns) == len(scene.objects)
        for ann, obj, mask in zip(anns, scene.objects, masks):
            assert ann['category_id'] == obj.shape + 1 and ann['iscrowd'] == 0
            assert ann['area'] == mask.sum()
            assert ann['bbox'] == ds.mask_to_bbox(mask)
            # the polygons run just inside the pixel edges: exact round trip
            assert _iou(coco.annToMask(ann).astype(bool), mask) > 0.99


def test_mmdet_reads_coco(demo_root, toolbox_scope):
    DATASETS = toolbox_scope('mmdet')
    dataset = DATASETS.build(
        dict(type='CocoDataset', data_root=str(demo_root / 'coco'),
             ann_file='annotations/instances_val2017.json',
             data_prefix=dict(img='val2017/'), metainfo=dict(classes=ds.SHAPES),
             test_mode=False, filter_cfg=dict(filter_empty_gt=True, min_size=4),
             pipeline=[dict(type='LoadImageFromFile'),
                       dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]))
    assert len(dataset) == N_VAL
    with open(_coco_ann(demo_root, 'val')) as f:
        raw = json.load(f)
    for index in range(N_VAL):
        results = dataset[index]
        img_id = results['img_id']
        scene = ds.instance_scene(SEED, 'coco', 'val', img_id - 1, SIZE)
        image, masks = ds.render_scene(scene, SIZE)
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
    name = ds.SPLIT_DIRS['ade20k'][split]
    common = dict(data_root=str(demo_root / 'ade20k'),
                  data_prefix=dict(img_path=f'images/{name}',
                                   seg_map_path=f'annotations/{name}'),
                  pipeline=_seg_pipeline())
    # Our own class names are not a subset of ADE20K's 150, which ADE20KDataset
    # requires of a metainfo override; BaseSegDataset (no METAINFO) takes them.
    with pytest.raises(ValueError, match='is not a subset'):
        DATASETS.build(dict(type='ADE20KDataset', metainfo=dict(classes=ds.SHAPES),
                            **common))
    ade = DATASETS.build(dict(type='ADE20KDataset', **common))
    base = DATASETS.build(
        dict(type='BaseSegDataset', img_suffix='.jpg', seg_map_suffix='.png',
             reduce_zero_label=True,
             metainfo=dict(classes=ds.SHAPES, palette=ds.SHAPE_PALETTE), **common))
    num = N_TRAIN if split == 'train' else N_VAL
    assert len(ade) == len(base) == num
    assert base.metainfo['classes'] == ds.SHAPES and base.metainfo['label_map'] is None
    for index in range(num):
        scene = ds.instance_scene(SEED, 'ade20k', split, index, SIZE)
        _, masks = ds.render_scene(scene, SIZE)
        want = ds.semantic_map(scene, masks).astype(np.int64) - 1
        want[want < 0] = 255
        for dataset in (ade, base):
            results = dataset[index]
            assert osp.basename(results['img_path']) == f'{index:06d}.jpg'
            got = results['gt_seg_map']
            assert got.shape == (SIZE, SIZE)
            assert set(np.unique(got)) <= {0, 1, 2, 3, 255}
            assert np.array_equal(got, want)
        assert set(np.unique(want)) - {255} == {o.shape for o in scene.objects}
