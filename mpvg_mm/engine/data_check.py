"""Datasets with problems fail where they are loaded, naming the file and the problem.

Without this, a COCO file with an empty annotation list stops training with a bare numpy
error and tests to ``mAP -1`` with exit code 0, and segmentation labels beyond the
classes raise a bare ``IndexError`` in the cross-entropy (training) or are silently
dropped from the mIoU (testing). :class:`DataCheckHook` (in the mmdet and mmseg
runtimes, ``default_hooks.data_check``) checks:

- detection (datasets whose samples hold ``instances``, e.g. mmdet's ``CocoDataset``): the
  validation/test sets hold at least one annotation (an empty training set still fails
  inside mmengine's dataset serialization, before any hook runs);
- segmentation (batches with ``gt_sem_seg``): every label of every batch is a class
  index below the decode head's ``num_classes`` or its ``ignore_index``; the error names
  the label map's file.
"""
import torch
from mmengine.hooks import Hook


def _dataset_file(dataset) -> str:
    inner = getattr(dataset, 'dataset', dataset)  # RepeatDataset, ClassBalancedDataset
    return str(getattr(inner, 'ann_file', None) or type(inner).__name__)


class DataCheckHook(Hook):
    """Check the data as it is loaded (see the module docstring).

    Raises:
        ValueError: a detection evaluation set without annotations, or segmentation labels outside ``[0, num_classes)`` and the
            ignore index; the message names the file and what to do.
    """
    priority = 'VERY_HIGH'

    def before_val(self, runner) -> None:
        self._check_annotated(runner.val_dataloader.dataset, 'validation')

    def before_test(self, runner) -> None:
        self._check_annotated(runner.test_dataloader.dataset, 'test')

    @staticmethod
    def _check_annotated(dataset, split: str) -> None:
        if not hasattr(dataset, 'get_data_info') or len(dataset) == 0:
            return
        if 'instances' not in dataset.get_data_info(0):
            return  # not a detection dataset
        if any(dataset.get_data_info(i)['instances'] for i in range(len(dataset))):
            return
        raise ValueError(
            f'the {split} set {_dataset_file(dataset)} holds no annotation on any of its '
            f'{len(dataset)} images: its metrics would be -1. Check the annotation file.')

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
