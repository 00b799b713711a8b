"""Datasets of mpvg_mm: the procedurally generated demo data (numpy + cv2 only)."""
from .demo_scenes import (DEFAULT_IMG_SIZE, DEFAULT_NUM_TRAIN, DEFAULT_NUM_VAL, FILLS,
                          FORMATS, SHAPE_FILLS, SHAPE_PALETTE, SHAPES, SIDES, SPLIT_DIRS, Background, Scene,
                          SceneObject, coco_categories, fill_pattern, imagenet_classes, imagenet_label,
                          imagenet_scene, instance_scene, render_scene, semantic_map,
                          shape_classes, write_ade20k, write_coco, write_dataset,
                          write_imagenet)

__all__ = [
    'DEFAULT_IMG_SIZE', 'DEFAULT_NUM_TRAIN', 'DEFAULT_NUM_VAL', 'FILLS', 'FORMATS',
    'SHAPE_FILLS', 'SHAPE_PALETTE', 'SHAPES', 'SIDES', 'SPLIT_DIRS', 'Background', 'Scene',
    'SceneObject', 'coco_categories', 'fill_pattern', 'imagenet_classes', 'imagenet_label',
    'imagenet_scene', 'instance_scene', 'render_scene', 'semantic_map', 'shape_classes',
    'write_ade20k', 'write_coco', 'write_dataset', 'write_imagenet'
]
