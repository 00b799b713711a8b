"""``tools/test.py --out`` for mmseg: label maps, without logits.

mmengine's ``DumpResults`` pickles every prediction as it is: for mmseg that is the float32
``seg_logits`` (classes x H x W) plus int64 maps per image (hundreds of GB for ADE20K
val, held in memory until the end). mmdet has its own dumper (``DumpDetResults``: RLE
masks, no ground truth); mmseg's own ``tools/test.py --out`` writes label-map PNGs.
:class:`DumpSegResults` keeps what mmseg keeps: per image its meta and the predicted label
map, as uint8 (uint16 beyond 255 classes), H x W bytes; the logits and the ground truth
(on disk already) are dropped.
"""
from typing import Sequence

import numpy as np
import torch
from mmengine.evaluator import DumpResults
from mmengine.evaluator.metric import _to_cpu


def _label_map(data) -> np.ndarray:
    data = data.numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    data = data.squeeze(0) if data.ndim == 3 else data
    return data.astype(np.uint8 if data.max(initial=0) < 256 else np.uint16)


class DumpSegResults(DumpResults):
    """mmengine's ``DumpResults`` keeping, per image, the meta and ``pred_sem_seg`` (an
    ``(H, W)`` uint8/uint16 array); ``seg_logits`` and ``gt_sem_seg`` are dropped.

    Args:
        out_file_path (str): the ``.pkl`` file written.
        collect_device (str): ``'cpu'`` or ``'gpu'``, as mmengine's.
    """

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in _to_cpu(data_samples):
            sample.pop('seg_logits', None)
            sample.pop('gt_sem_seg', None)
            pred = sample.get('pred_sem_seg')
            if pred is not None:
                sample['pred_sem_seg'] = _label_map(
                    pred['data'] if isinstance(pred, dict) else pred.data)
            self.results.append(sample)
