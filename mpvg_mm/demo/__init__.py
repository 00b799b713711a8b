"""The procedural demo data: shape scenes written as ImageNet, COCO and ADE20K datasets.

* :mod:`.scenes`: what a scene contains, how it is sampled (deterministically per
  image) and drawn into an image and per-object masks.
* :mod:`.masks`: a binary mask as COCO annotation fields (box, polygons or RLE).
* :mod:`.writers`: the scenes written to disk in the three layouts, with their class
  names (``tools/make_demo_data.py`` is its command line).
* :mod:`.datasets`: the toolboxes' readers of those layouts, with the class names from
  the written file (registered by :mod:`mpvg_mm.registry`).
"""
from .masks import mask_to_bbox, mask_to_polygons, mask_to_rle, mask_to_segmentation
from .scenes import (FILLS, SHAPES, SIDES, Background, Scene, SceneObject, fill_pattern,
                     imagenet_classes, imagenet_label, imagenet_scene, instance_scene,
                     render_scene, semantic_map)
from .writers import (CLASSES_FILE, DEFAULT_IMG_SIZE, DEFAULT_NUM_TRAIN, DEFAULT_NUM_VAL,
                      FORMATS, SPLIT_DIRS, coco_categories, write_ade20k, write_coco,
                      write_dataset, write_imagenet)

__all__ = [
    'CLASSES_FILE', 'DEFAULT_IMG_SIZE', 'DEFAULT_NUM_TRAIN', 'DEFAULT_NUM_VAL', 'FILLS',
    'FORMATS', 'SHAPES', 'SIDES', 'SPLIT_DIRS', 'Background', 'Scene', 'SceneObject',
    'coco_categories', 'fill_pattern', 'imagenet_classes', 'imagenet_label',
    'imagenet_scene', 'instance_scene', 'mask_to_bbox', 'mask_to_polygons', 'mask_to_rle',
    'mask_to_segmentation', 'render_scene', 'semantic_map', 'write_ade20k', 'write_coco',
    'write_dataset', 'write_imagenet'
]
