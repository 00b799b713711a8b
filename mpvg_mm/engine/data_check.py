"""Datasets with problems fail where they are loaded, naming the file and the problem.

Without this, a COCO file with an empty annotation list stops training with a bare numpy
error and tests to ``mAP -1`` with exit code 0, and segmentation labels beyond the
classes raise a bare ``IndexError`` in the cross-entropy (training) or are silently
dropped from the mIoU (testing). :class:`DataCheckHook` (in the mmdet and mmseg
runtimes, ``default_hooks.data_check``) checks:

- detection (datasets whose samples hold ``instances``, e.g. mmdet's ``CocoDataset``): the
  training, validation and test sets hold at least one annotation;
- segmentation (batches with ``gt_sem_seg``): every label of every batch is a class
  index below the decode head's ``num_classes`` or its ``ignore_index``; the error names
  the label map's file.

A training set that its ``filter_cfg`` empties (mmdet drops the images without
annotations: ``filter_empty_gt``) fails inside mmengine's dataset serialization, before
any hook runs, with a bare numpy error; :func:`build_checked_dataloader`, the dataloader
builder of ``tools/train.py`` and ``tools/test.py``, names the file and the problem there.
It also refuses, as each dataset is built:

- classification (samples with ``gt_label``, mmpretrain's ``ImageNet``/``CustomDataset``):
  labels outside the dataset's classes or the head's ``num_classes`` (training: a bare
  ``IndexError`` in the cross-entropy; testing: silently counted as misses);
- COCO (mmdet's ``CocoDataset``): class names of the config (``metainfo.classes``) that
  the annotation file's categories lack (the evaluation fails at its end, ``IndexError``
  in ``CocoMetric``), and annotated categories that the classes lack (mmdet drops their
  annotations silently).
"""
import copy

import torch
from mmengine.hooks import Hook


def _dataset_file(dataset) -> str:
    inner = getattr(dataset, 'dataset', dataset)  # RepeatDataset, ClassBalancedDataset
    return str(getattr(inner, 'ann_file', None) or type(inner).__name__)


def check_annotated(dataset, split: str) -> None:
    """A detection dataset (samples with ``instances``) holds at least one annotation.

    Reads samples until the first annotated one (one sample on real data).

    Raises:
        ValueError: naming the annotation file and the number of images.
    """
    if not hasattr(dataset, 'get_data_info') or len(dataset) == 0:
        return
    if 'instances' not in dataset.get_data_info(0):
        return  # not a detection dataset
    if any(dataset.get_data_info(i)['instances'] for i in range(len(dataset))):
        return
    consequence = ('its metrics would be -1' if split != 'training'
                   else 'the model would learn nothing from it')
    raise ValueError(
        f'the {split} set {_dataset_file(dataset)} holds no annotation on any of its '
        f'{len(dataset)} images: {consequence}. Check the annotation file.')


def _built_leaves(dataset):
    """The datasets under built wrappers (``dataset``, ``datasets``)."""
    if hasattr(dataset, 'datasets'):
        for one in dataset.datasets:
            yield from _built_leaves(one)
    elif hasattr(dataset, 'dataset'):
        yield from _built_leaves(dataset.dataset)
    else:
        yield dataset


def check_class_labels(dataset, num_classes=None) -> None:
    """Every ``gt_label`` of a classification dataset is a class index below the number of
    its classes (``metainfo['classes']``) and the head's ``num_classes`` (when given).

    Raises:
        ValueError: naming the annotation file, the first bad labels and the bound.
    """
    import numpy as np
    for leaf in _built_leaves(dataset):
        if not hasattr(leaf, 'get_data_info') or len(leaf) == 0 or \
                'gt_label' not in leaf.get_data_info(0):
            continue
        bounds = []
        classes = (getattr(leaf, 'metainfo', None) or {}).get('classes')
        if classes:
            bounds.append((len(classes), f'the {len(classes)} classes of the dataset'))
        if num_classes is not None:
            bounds.append((num_classes, f'the num_classes={num_classes} of the head'))
        if not bounds:
            continue
        limit, what = min(bounds)
        bad = set()
        for i in range(len(leaf)):
            labels = np.asarray(leaf.get_data_info(i)['gt_label']).ravel()
            bad.update(int(v) for v in labels if v < 0 or v >= limit)
        if bad:
            values = sorted(bad)[:10]
            raise ValueError(
                f'{_dataset_file(leaf)} holds class labels {values} outside {what} (0..'
                f'{limit - 1}): set the head\'s num_classes and the dataset\'s classes to '
                'match the data, or fix the labels of the annotation file.')


def check_coco_categories(dataset) -> None:
    """The config's class names (``metainfo.classes``) and the categories of a COCO
    annotation file (mmdet's ``CocoDataset``) match: every class is a category of the
    file and every annotated category is a class.

    Raises:
        ValueError: naming the annotation file and the unmatched names.
    """
    for leaf in _built_leaves(dataset):
        cat_ids = getattr(leaf, 'cat_ids', None)  # the file's ids of the classes found
        classes = (getattr(leaf, 'metainfo', None) or {}).get('classes')
        annotated = set(getattr(leaf, 'cat_img_map', None) or {})
        if cat_ids is None or not classes or (
                len(cat_ids) == len(classes) and annotated <= set(cat_ids)):
            continue
        from mmengine.fileio import load  # the error path: the file's category names
        names = {cat['id']: cat['name'] for cat in load(leaf.ann_file)['categories']}
        missing = [c for c in classes if c not in names.values()]
        dropped = sorted(names.get(i, str(i)) for i in annotated - set(cat_ids))
        problems = []
        if missing:
            problems.append(f'the classes {missing} of the config are no category of the '
                            'file (the evaluation would fail at its end)')
        if dropped:
            problems.append(f'its annotated categories {dropped} are no class of the config '
                            '(their annotations would be dropped silently)')
        raise ValueError(
            f'{_dataset_file(leaf)}: {"; ".join(problems) or "duplicate class names"}. Set '
            "the dataset's metainfo=dict(classes=(...)) to the category names of the "
            f'annotation file ({sorted(names.values())}), and num_classes of the heads to '
            'their number.')


def _leaf_datasets(cfg):
    """The dataset configs under wrappers (``dataset=``, ``datasets=[...]``)."""
    if isinstance(cfg, dict) and isinstance(cfg.get('dataset'), dict):
        yield from _leaf_datasets(cfg['dataset'])
    elif isinstance(cfg, dict) and isinstance(cfg.get('datasets'), (list, tuple)):
        for one in cfg['datasets']:
            yield from _leaf_datasets(one)
    elif isinstance(cfg, dict):
        yield cfg


def explain_empty_dataset(dataset_cfg):
    """Why a dataset config gives no sample, or None: its annotation file lists no image,
    holds no annotation (mmdet's ``filter_empty_gt`` then drops every image), or its
    ``filter_cfg`` drops every image. Loads the data list again (on the error path only).
    """
    from mmengine.registry import DATASETS
    for cfg in _leaf_datasets(dataset_cfg):
        try:
            dataset = DATASETS.build({**copy.deepcopy(cfg), 'lazy_init': True})
            data_list = dataset.load_data_list()
        except Exception:  # not a BaseDataset, or broken in another way: its own error
            continue
        name = _dataset_file(dataset)
        if not data_list:
            return (f'the dataset {name} ({cfg.get("type")}, data_root '
                    f'{cfg.get("data_root")!r}) lists no sample: check the file and the '
                    'data_root/data_prefix paths.')
        if 'instances' in data_list[0] and not any(d['instances'] for d in data_list):
            return (f'the dataset {name} holds no annotation on any of its {len(data_list)} '
                    'images (an empty annotation list): check the annotation file.')
        dataset.data_list = data_list
        if hasattr(dataset, 'filter_data') and not dataset.filter_data():
            return (f'filter_cfg={getattr(dataset, "filter_cfg", None)} drops all '
                    f'{len(data_list)} images of the dataset {name}: check the annotation '
                    'file (image sizes, categories) or relax filter_cfg.')
    return None


def build_checked_dataloader(dataloader, seed=None, diff_rank_seed=False, *, build,
                             num_classes=None):
    """``build(dataloader, seed, diff_rank_seed)`` (mmengine's ``Runner.build_dataloader``)
    with the dataset checked: an empty dataset (e.g. a COCO file with an empty annotation
    list under mmdet's ``filter_empty_gt``), a detection dataset without annotations, COCO
    categories that do not match the classes and classification labels beyond the classes
    (``num_classes()``: the head's, or None) are refused, naming the file.

    Raises:
        ValueError: naming the file and the problem.
    """
    dataset_cfg = dataloader.get('dataset') if isinstance(dataloader, dict) else None
    try:
        loader = build(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
    except Exception as error:
        problem = explain_empty_dataset(dataset_cfg) if isinstance(dataset_cfg, dict) else None
        if problem is None:
            raise
        raise ValueError(problem) from error
    dataset = loader.dataset
    if hasattr(dataset, '__len__') and len(dataset) == 0:
        raise ValueError((explain_empty_dataset(dataset_cfg) if dataset_cfg else None)
                         or f'the dataset {_dataset_file(dataset)} holds no sample.')
    test_mode = getattr(getattr(dataset, 'dataset', dataset), 'test_mode', False)
    check_annotated(dataset, 'evaluation' if test_mode else 'training')
    check_coco_categories(dataset)
    check_class_labels(dataset, num_classes() if num_classes is not None else None)
    return loader


class DataCheckHook(Hook):
    """Check the data as it is loaded (see the module docstring).

    Raises:
        ValueError: a detection dataset without annotations, or segmentation labels
            outside ``[0, num_classes)`` and the ignore index; the message names the
            file and what to do.
    """
    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        check_annotated(runner.train_dataloader.dataset, 'training')

    def before_val(self, runner) -> None:
        check_annotated(runner.val_dataloader.dataset, 'validation')

    def before_test(self, runner) -> None:
        check_annotated(runner.test_dataloader.dataset, 'test')

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._check_labels(runner, data_batch)

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._check_labels(runner, data_batch)

    def before_test_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._check_labels(runner, data_batch)

    @staticmethod
    def _check_labels(runner, data_batch) -> None:
        samples = (data_batch or {}).get('data_samples') or []
        if not samples or 'gt_sem_seg' not in samples[0]:
            return
        model = getattr(runner.model, 'module', runner.model)
        head = getattr(model, 'decode_head', None)
        num_classes = getattr(head, 'num_classes', None)
        if num_classes is None:
            return
        ignore = getattr(head, 'ignore_index', 255)
        for sample in samples:
            labels = sample.gt_sem_seg.data
            bad = ((labels >= num_classes) | (labels < 0)) & (labels != ignore)
            if bool(bad.any()):
                values = torch.unique(labels[bad])[:10].tolist()
                raise ValueError(
                    f'{sample.metainfo.get("seg_map_path", "a label map")} holds labels '
                    f'{values} outside the {num_classes} classes of the decode head (0..'
                    f'{num_classes - 1}, ignore_index {ignore}): set num_classes (and the '
                    "dataset's classes) to match the data, or check reduce_zero_label.")
