"""tools/test.py --out under mmseg: label maps without logits (DumpSegResults), per image
about H x W bytes, against mmengine's DumpResults that pickles the float32 logits too."""
import os
import pickle

import torch
from mmengine.evaluator import DumpResults

from mpvg_mm.engine.dump_results import DumpSegResults


def _samples(n=2, classes=150, size=(64, 96)):
    torch.manual_seed(0)
    logits = torch.randn(n, classes, *size)
    return [dict(img_path=f'img{i}.jpg', ori_shape=size,
                 seg_logits=dict(data=logits[i]),
                 pred_sem_seg=dict(data=logits[i].argmax(0, keepdim=True)),
                 gt_sem_seg=dict(data=torch.zeros(1, *size, dtype=torch.int64)))
            for i in range(n)]


def _dump(metric_type, path):
    metric = metric_type(out_file_path=str(path))
    metric.process({}, _samples())
    metric.compute_metrics(metric.results)
    return os.path.getsize(path)


def test_seg_dump_keeps_label_maps_only(tmp_path):
    compact = _dump(DumpSegResults, tmp_path / 'seg.pkl')
    full = _dump(DumpResults, tmp_path / 'full.pkl')
    with open(tmp_path / 'seg.pkl', 'rb') as f:
        samples = pickle.load(f)
    want = [s['pred_sem_seg']['data'][0].numpy() for s in _samples()]
    for sample, labels in zip(samples, want):
        assert set(sample) == {'img_path', 'ori_shape', 'pred_sem_seg'}
        assert sample['pred_sem_seg'].dtype.name == 'uint8'
        assert (sample['pred_sem_seg'] == labels).all()
    assert compact < 2 * 64 * 96 + 4000  # H x W bytes per image, plus the pickle framing
    assert full > 100 * compact
