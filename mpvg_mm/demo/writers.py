"""The demo datasets on disk: the scenes written in three real layouts.

Every toolbox reads its layout with its own dataset class (see the demo dataset configs
in ``configs/_base_/datasets/demo_*.py``):

* ``imagenet`` (mmpretrain ``ImageNet`` / ``CustomDataset``): one object per image
  (:func:`~mpvg_mm.demo.scenes.imagenet_scene`), label = shape x side of the image its
  centre lies in (``circle_left``, ...). The side makes the task position-dependent, so
  position embedding matters.
* ``coco`` (mmdet ``CocoDataset``, pycocotools): 1..3 objects
  (:func:`~mpvg_mm.demo.scenes.instance_scene`), boxes, polygon (or RLE) instance masks
  that follow the occlusion order of the render.
* ``ade20k`` (mmseg ``BaseSegDataset(reduce_zero_label=True)``): semantic maps of the
  same kind of scenes with 0 = background and shape ``c`` stored as ``c + 1``.

Each format also writes its class names, one a line in label order, to
:data:`CLASSES_FILE` under its root; the demo configs read them from there
(:mod:`mpvg_mm.demo.datasets`). The same seed gives byte-identical annotation and class
files and identical images. Only numpy and cv2 (image encoding) are used.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .masks import mask_to_bbox, mask_to_segmentation
from .scenes import (SHAPES, Size, height_width, imagenet_classes, imagenet_scene,
                     instance_scene, render_scene, semantic_map)

#: The dataset formats :func:`write_dataset` knows, in the order they are written.
FORMATS: Tuple[str, ...] = ('imagenet', 'coco', 'ade20k')
#: Split names of each on-disk layout, keyed by the generic split ('train' / 'val').
SPLIT_DIRS: Dict[str, Dict[str, str]] = {
    'imagenet': {'train': 'train', 'val': 'val'},
    'coco': {'train': 'train2017', 'val': 'val2017'},
    'ade20k': {'train': 'training', 'val': 'validation'},
}
#: The class-name file of each format, relative to its root.
CLASSES_FILE: Dict[str, str] = {
    'imagenet': 'meta/classes.txt',
    'coco': 'classes.txt',
    'ade20k': 'classes.txt',
}
#: Default image size (pixels, square) of each format.
DEFAULT_IMG_SIZE: Dict[str, int] = {'imagenet': 32, 'coco': 128, 'ade20k': 128}
#: Default image counts: ImageNet per class, COCO / ADE20K per split.
DEFAULT_NUM_TRAIN: Dict[str, int] = {'imagenet': 100, 'coco': 200, 'ade20k': 200}
DEFAULT_NUM_VAL: Dict[str, int] = {'imagenet': 20, 'coco': 50, 'ade20k': 50}

JPEG_QUALITY = 95


def _write_image(path: str, image: np.ndarray) -> None:
    """Write an RGB uint8 (H, W, 3) image; JPEG (quality 95) or PNG by suffix."""
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if path.lower().endswith(
        ('.jpg', '.jpeg')) else []
    if not cv2.imwrite(path, np.ascontiguousarray(image[..., ::-1]), params):
        raise OSError(f'cv2.imwrite failed for {path}')


def _write_png_gray(path: str, array: np.ndarray) -> None:
    """Write a single-channel uint8 (H, W) PNG."""
    if not cv2.imwrite(path, np.ascontiguousarray(array)):
        raise OSError(f'cv2.imwrite failed for {path}')


def _remove_stale(folder: str, suffix: str, written: set) -> None:
    """Delete files ending in ``suffix`` under ``folder`` (recursively) that this run
    did not write, so a rerun with fewer samples leaves no orphans behind."""
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = osp.join(dirpath, name)
            if name.endswith(suffix) and path not in written:
                os.remove(path)


def _write_text(path: str, lines: Sequence[str]) -> None:
    """Write ``lines``, each ended by ``\\n``."""
    with open(path, 'w', newline='\n') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def write_imagenet(root: str, seed: int = 0, num_train: int = 100, num_val: int = 20,
                   img_size: Size = 32, textured: bool = True) -> Dict[str, object]:
    """Write the classification set under ``root`` in mmpretrain's ImageNet layout.

    ``root/{train,val}/<class>/<class>_<k>.JPEG``, ``root/meta/{train,val}.txt``
    (``<class>/<file> <label>``, relative to the split folder) and
    ``root/meta/classes.txt`` (the class names in label order). ``num_train`` /
    ``num_val`` are images per class.

    Returns:
        ``{'root', 'classes', 'train', 'val'}`` (image counts per split).
    """
    classes = imagenet_classes()
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    _write_text(osp.join(root, CLASSES_FILE['imagenet']), classes)
    summary: Dict[str, object] = {'root': root, 'classes': len(classes)}
    for split, per_class in (('train', num_train), ('val', num_val)):
        split_dir = osp.join(root, SPLIT_DIRS['imagenet'][split])
        lines, written = [], set()
        for label, name in enumerate(classes):
            os.makedirs(osp.join(split_dir, name), exist_ok=True)
            for k in range(per_class):
                scene = imagenet_scene(seed, split, label, k, textured)
                image, _ = render_scene(scene, img_size)
                rel = f'{name}/{name}_{k:05d}.JPEG'
                path = osp.join(split_dir, rel)
                _write_image(path, image)
                written.add(path)
                lines.append(f'{rel} {label}')
        _remove_stale(split_dir, '.JPEG', written)
        _write_text(osp.join(root, 'meta', f'{split}.txt'), lines)
        summary[split] = len(lines)
    return summary


def coco_categories() -> List[Dict[str, object]]:
    """COCO ``categories``: the shapes, ids from 1."""
    return [{'id': i + 1, 'name': name, 'supercategory': 'shape'}
            for i, name in enumerate(SHAPES)]


def write_coco(root: str, seed: int = 0, num_train: int = 200, num_val: int = 50,
               img_size: Size = 128, max_objects: int = 3,
               textured: bool = True) -> Dict[str, object]:
    """Write the instance-segmentation set under ``root`` in COCO layout.

    ``root/{train2017,val2017}/<index>.jpg``,
    ``root/annotations/instances_{train,val}2017.json`` and ``root/classes.txt`` (the
    category names in id order); image ids are ``index + 1``, annotation ids run from 1
    over the split.

    Returns:
        ``{'root', 'train', 'val', 'train_objects', 'val_objects'}``.
    """
    height, width = height_width(img_size)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    _write_text(osp.join(root, CLASSES_FILE['coco']), SHAPES)
    summary: Dict[str, object] = {'root': root}
    for split, num in (('train', num_train), ('val', num_val)):
        split_name = SPLIT_DIRS['coco'][split]
        split_dir = osp.join(root, split_name)
        os.makedirs(split_dir, exist_ok=True)
        images, annotations, written = [], [], set()
        for index in range(num):
            scene = instance_scene(seed, 'coco', split, index, (height, width),
                                   max_objects, textured)
            image, masks = render_scene(scene, (height, width))
            file_name = f'{index:06d}.jpg'
            path = osp.join(split_dir, file_name)
            _write_image(path, image)
            written.add(path)
            images.append({'id': index + 1, 'file_name': file_name, 'height': height,
                           'width': width})
            for obj, mask in zip(scene.objects, masks):
                annotations.append({
                    'id': len(annotations) + 1,
                    'image_id': index + 1,
                    'category_id': obj.shape + 1,
                    'bbox': mask_to_bbox(mask),
                    'area': float(mask.sum()),
                    'segmentation': mask_to_segmentation(mask),
                    'iscrowd': 0,
                })
        _remove_stale(split_dir, '.jpg', written)
        dataset = {
            'info': {'description': 'mpvg_mm procedural demo shapes', 'version': '1.0',
                     'year': 2025, 'seed': int(seed)},
            'licenses': [],
            'images': images,
            'annotations': annotations,
            'categories': coco_categories(),
        }
        ann_path = osp.join(root, 'annotations', f'instances_{split_name}.json')
        with open(ann_path, 'w', newline='\n') as f:
            json.dump(dataset, f, separators=(',', ':'))
        summary[split] = len(images)
        summary[f'{split}_objects'] = len(annotations)
    return summary


def write_ade20k(root: str, seed: int = 0, num_train: int = 200, num_val: int = 50,
                 img_size: Size = 128, max_objects: int = 3,
                 textured: bool = True) -> Dict[str, object]:
    """Write the semantic-segmentation set under ``root`` in mmseg's ADE20K layout.

    ``root/images/{training,validation}/<index>.jpg`` and
    ``root/annotations/{training,validation}/<index>.png`` (uint8, 0 = background,
    shape ``c`` as ``c + 1``; read with ``reduce_zero_label=True``) and
    ``root/classes.txt`` (the shape names, labels 0.. after ``reduce_zero_label``).

    Returns:
        ``{'root', 'train', 'val'}`` (image counts).
    """
    os.makedirs(root, exist_ok=True)
    _write_text(osp.join(root, CLASSES_FILE['ade20k']), SHAPES)
    summary: Dict[str, object] = {'root': root}
    for split, num in (('train', num_train), ('val', num_val)):
        split_name = SPLIT_DIRS['ade20k'][split]
        img_dir = osp.join(root, 'images', split_name)
        ann_dir = osp.join(root, 'annotations', split_name)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        written = set()
        for index in range(num):
            scene = instance_scene(seed, 'ade20k', split, index, img_size, max_objects,
                                   textured)
            image, masks = render_scene(scene, img_size)
            stem = f'{index:06d}'
            img_path = osp.join(img_dir, f'{stem}.jpg')
            ann_path = osp.join(ann_dir, f'{stem}.png')
            _write_image(img_path, image)
            _write_png_gray(ann_path, semantic_map(scene, masks))
            written.update((img_path, ann_path))
        _remove_stale(img_dir, '.jpg', written)
        _remove_stale(ann_dir, '.png', written)
        summary[split] = num
    return summary


WRITERS = {'imagenet': write_imagenet, 'coco': write_coco, 'ade20k': write_ade20k}


def write_dataset(fmt: str, out_dir: str, seed: int = 0, num_train: Optional[int] = None,
                  num_val: Optional[int] = None,
                  img_size: Optional[Size] = None,
                  textured: bool = True) -> Dict[str, object]:
    """Write format ``fmt`` into ``out_dir/<fmt>``; ``None`` arguments take the
    per-format defaults (:data:`DEFAULT_NUM_TRAIN`, ...). ``textured=False``: flat
    objects (see :mod:`mpvg_mm.demo.scenes`)."""
    if fmt not in WRITERS:
        raise ValueError(f'unknown format {fmt!r}; choose from {FORMATS}')
    return WRITERS[fmt](
        osp.join(out_dir, fmt), seed=seed,
        num_train=DEFAULT_NUM_TRAIN[fmt] if num_train is None else num_train,
        num_val=DEFAULT_NUM_VAL[fmt] if num_val is None else num_val,
        img_size=DEFAULT_IMG_SIZE[fmt] if img_size is None else img_size,
        textured=textured)
