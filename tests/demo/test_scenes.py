"""mpvg_mm.demo.scenes: scene sampling, the class lists and the render."""
from dataclasses import replace

import numpy as np
import pytest

from mpvg_mm.demo import scenes


def test_class_lists():
    assert scenes.SHAPES == ('circle', 'square', 'triangle', 'cross')
    classes = scenes.imagenet_classes()
    assert len(classes) == 8
    assert classes[:3] == ('circle_left', 'circle_right', 'square_left')
    assert classes[scenes.imagenet_label(3, 1)] == 'cross_right'


@pytest.mark.parametrize('shape, area_per_unit', [
    ('circle', np.pi), ('square', 4 * 0.85**2), ('triangle', 3 * np.sqrt(3) / 4 * 1.15**2),
    ('cross', 2 * (2 * 0.7) - 0.7**2)])
def test_object_mask_area(shape, area_per_unit):
    """Each silhouette has the analytic area of its shape (size 0.3 of 100 px)."""
    obj = scenes.SceneObject(scenes.SHAPES.index(shape), (0.5, 0.5), 0.3, 0.4, (255, 0, 0))
    mask = scenes.object_mask(obj, 100, 100)
    assert mask.dtype == bool and mask.shape == (100, 100)
    assert abs(mask.sum() / (area_per_unit * 30**2) - 1) < 0.03
    ys, xs = np.nonzero(mask)
    assert abs(xs.mean() + 0.5 - 50) < 0.5 and abs(ys.mean() + 0.5 - 50) < 0.5


def test_render_occlusion_order():
    bg = scenes.Background('gradient', ((0, 0, 0), (40, 40, 40)))
    below = scenes.SceneObject(0, (0.4, 0.5), 0.2, 0.0, (255, 0, 0))
    above = scenes.SceneObject(1, (0.6, 0.5), 0.2, 0.0, (0, 0, 255))
    image, masks = scenes.render_scene(scenes.Scene(bg, (below, above)), (50, 60))
    assert image.shape == (50, 60, 3) and image.dtype == np.uint8
    assert masks.shape == (2, 50, 60)
    full_below = scenes.object_mask(below, 50, 60)
    assert not np.any(masks[0] & masks[1])
    assert np.array_equal(masks[1], scenes.object_mask(above, 50, 60))
    assert np.array_equal(masks[0], full_below & ~masks[1])
    assert 0 < masks[0].sum() < full_below.sum()
    assert np.all(image[masks[1]] == (0, 0, 255)) and np.all(image[masks[0]] == (255, 0, 0))
    seg = scenes.semantic_map(scenes.Scene(bg, (below, above)), masks)
    assert set(np.unique(seg)) == {0, 1, 2}


@pytest.mark.parametrize('fill, shaded_fraction', [
    ('solid', 0.0), ('stripes', 0.5), ('checker', 0.5), ('dots', 0.25)])
def test_fill_patterns(fill, shaded_fraction):
    """Each fill shades its share of every period cell, the same way at any offset."""
    p = scenes.FILL_PERIOD
    pattern = scenes.fill_pattern(fill, 3 * p, 5 * p)
    assert pattern.shape == (3 * p, 5 * p) and pattern.dtype == bool
    assert pattern.mean() == shaded_fraction
    cell = pattern[:p, :p]
    assert np.array_equal(pattern, np.tile(cell, (3, 5)))
    if fill == 'stripes':  # horizontal bands: constant along each row
        assert np.all(cell == cell[:, :1]) and not np.all(cell == cell[:1])
    if fill == 'checker':
        assert np.array_equal(cell, ~np.rot90(cell))
    with pytest.raises(ValueError, match='unknown fill'):
        scenes.fill_pattern('zebra', 4, 4)


def test_textured_objects_show_their_class_pattern():
    """The object's pixels are its colour and FILL_SHADE x its colour, where the pattern
    says; the fill changes neither the silhouette nor anything else in the scene."""
    bg = scenes.Background('gradient', ((0, 0, 0), (40, 40, 40)))
    color = np.array([200, 100, 50])
    for shape, fill in enumerate(scenes.FILLS):
        obj = scenes.SceneObject(shape, (0.5, 0.5), 0.35, 0.3, tuple(color), fill)
        image, (mask, ) = scenes.render_scene(scenes.Scene(bg, (obj, )), 48)
        shaded = mask & scenes.fill_pattern(fill, 48, 48)
        assert np.array_equal(mask, scenes.object_mask(obj, 48, 48))
        assert np.all(image[mask & ~shaded] == color)
        assert np.all(image[shaded] == np.rint(scenes.FILL_SHADE * color))
        assert (shaded.sum() > 0.2 * mask.sum()) == (fill != 'solid')
    for label in range(len(scenes.imagenet_classes())):
        textured = scenes.imagenet_scene(0, 'val', label, 1)
        flat = scenes.imagenet_scene(0, 'val', label, 1, textured=False)
        assert textured.objects[0].fill == scenes.FILLS[label // 2]
        assert flat.objects[0].fill == 'solid'
        assert textured == replace(flat, objects=(
            replace(flat.objects[0], fill=textured.objects[0].fill), ))
    textured = scenes.instance_scene(0, 'ade20k', 'train', 2, 64)
    flat = scenes.instance_scene(0, 'ade20k', 'train', 2, 64, textured=False)
    assert [o.fill for o in textured.objects] == [scenes.FILLS[o.shape]
                                                  for o in textured.objects]
    assert [replace(o, fill='solid') for o in textured.objects] == list(flat.objects)


def test_scenes_are_deterministic_and_seed_dependent():
    a = scenes.render_scene(scenes.instance_scene(0, 'coco', 'train', 5, 64), 64)
    b = scenes.render_scene(scenes.instance_scene(0, 'coco', 'train', 5, 64), 64)
    c = scenes.render_scene(scenes.instance_scene(1, 'coco', 'train', 5, 64), 64)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_instance_scenes_keep_visible_objects():
    counts, occluded = [], 0
    for index in range(40):
        scene = scenes.instance_scene(0, 'coco', 'train', index, 128)
        _, masks = scenes.render_scene(scene, 128)
        counts.append(len(scene.objects))
        for obj, mask in zip(scene.objects, masks):
            full = scenes.object_mask(obj, 128, 128).sum()
            assert mask.sum() >= max(16, 0.3 * full)
            occluded += int(mask.sum() < full)
    assert min(counts) >= 1 and max(counts) == 3
    assert 1 <= occluded <= 0.3 * sum(counts)  # partial occlusion happens, not often
    assert 1.5 < np.mean(counts) < 2.8


def test_position_dependent_labels():
    """The label's side is the side of the object's centre, in the scene and in pixels."""
    for label in range(len(scenes.imagenet_classes())):
        shape, side = divmod(label, 2)
        for k in range(6):
            scene = scenes.imagenet_scene(0, 'train', label, k)
            (obj, ) = scene.objects
            assert obj.shape == shape
            assert scenes.side_of(obj.center[0]) == side
            assert abs(obj.center[0] - 0.5) >= 0.06
            _, masks = scenes.render_scene(scene, 32)
            xs = np.nonzero(masks[0])[1] + 0.5
            assert masks[0].sum() >= 15
            assert scenes.side_of(xs.mean() / 32) == side
            assert np.all(xs > 0) and np.all(xs < 32)
