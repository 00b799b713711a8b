"""Segmentation end to end with the real tools: UperNet on the demo ViT, fine-tuned from a
classification checkpoint, trained with tools/train.py, evaluated with tools/test.py in
whole-image and sliding-window mode on images whose side is not a multiple of the patch."""
import glob
import json
import pickle
import re

import numpy as np
import pytest
import torch
from PIL import Image
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

ROOT = __file__.rsplit('/tests/', 1)[0]
SEG_CONFIG = f'{ROOT}/configs/demo/upernet_mpvg-vit-demo_mpvg_1xb8_demo-ade.py'
CLS_CONFIG = f'{ROOT}/configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'
IMG_SIZE = 100  # not a multiple of the 8x8 patches: pad_to_patch at work
pytestmark = pytest.mark.slow


def _build(cfg_model, scope):
    DefaultScope._instance_dict.clear()
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS'])
    return registry.MODELS.build(cfg_model)


@pytest.fixture(scope='module')
def demo(tmp_path_factory, make_demo_data):
    out = tmp_path_factory.mktemp('demo_seg')
    make_demo_data(out, '--formats', 'ade20k', '--num-train', '8', '--num-val', '3',
                   '--img-size', str(IMG_SIZE))
    # a (randomly initialised) demo classifier, saved as mmengine saves checkpoints
    torch.manual_seed(0)
    classifier = _build(Config.fromfile(CLS_CONFIG).model, 'mmpretrain')
    cls_ckpt = out / 'cls.pth'
    torch.save({'meta': {}, 'state_dict': classifier.state_dict()}, cls_ckpt)
    root = f'{out}/ade20k'
    config = out / 'demo_seg.py'
    config.write_text(
        f"_base_ = ['{SEG_CONFIG}']\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
        "train_cfg = dict(max_iters=4, val_interval=4)\n"
        "param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]\n"
        f"train_dataloader = dict(batch_size=4, dataset=dict(data_root='{root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{root}'))\n"
        f"test_dataloader = dict(dataset=dict(data_root='{root}'))\n")
    return dict(config=str(config), cls_ckpt=str(cls_ckpt), out=out)


def _pretrained(ckpt):
    return [f'model.backbone.init_cfg.{k}={v}' for k, v in
            dict(type='Pretrained', checkpoint=ckpt, prefix='backbone.').items()]


def _test_metrics(work_dir):
    """The metrics tools/test.py logged to ``work_dir/<timestamp>/<timestamp>.json``."""
    logs = sorted(glob.glob(f'{work_dir}/*/*.json'))
    assert logs, f'no json log under {work_dir}'
    with open(logs[-1]) as f:
        return json.loads(f.read().strip().splitlines()[-1])


def test_classification_checkpoint_fills_the_whole_backbone(demo):
    cfg = Config.fromfile(demo['config'])
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=demo['cls_ckpt'],
                                       prefix='backbone.')
    segmentor = _build(cfg.model, 'mmseg')
    segmentor.init_weights()
    ckpt = torch.load(demo['cls_ckpt'], weights_only=True)['state_dict']
    ckpt = {k[len('backbone.'):]: v for k, v in ckpt.items() if k.startswith('backbone.')}
    backbone = segmentor.backbone.state_dict()
    assert set(backbone) == set(ckpt), (set(backbone) ^ set(ckpt))  # none missing or unused
    for name, value in backbone.items():
        torch.testing.assert_close(value, ckpt[name], msg=name)


def test_train_then_test_whole_and_slide(demo, tmp_path, run_in_process):
    config, wd = demo['config'], tmp_path / 'train'
    out = run_in_process('train.py', [config, '--work-dir', str(wd), '--cfg-options',
                                      *_pretrained(demo['cls_ckpt'])])
    assert f"load backbone. in model from: {demo['cls_ckpt']}" in out
    assert 'missing keys' not in out and 'unexpected key' not in out, out[-3000:]
    assert re.search(r'Iter\(train\) \[4/4\].*decode\.loss_ce', out)
    val_miou = float(re.findall(r'Iter\(val\) \[3/3\].*mIoU: ([0-9.]+)', out)[-1])
    ckpt = f'{wd}/iter_4.pth'

    # the saved checkpoint, re-read by tools/test.py, scores what validation scored
    whole = run_in_process('test.py', [config, ckpt, '--work-dir', str(tmp_path / 'whole')])
    assert re.search(r'Iter\(test\) \[3/3\].*mIoU', whole)
    assert _test_metrics(tmp_path / 'whole')['mIoU'] == pytest.approx(val_miou, abs=0.01)

    # 60x60 windows (not a multiple of 8 either), stride 40, on the 100x100 images: full
    # size label maps, and the logged mIoU is the one of the dumped predictions
    dump = tmp_path / 'slide.pkl'
    slide = run_in_process('test.py', [config, ckpt, '--work-dir', str(tmp_path / 'slide'),
                                       '--out', str(dump), '--cfg-options',
                                       'model.test_cfg.mode=slide',
                                       'model.test_cfg.crop_size=(60,60)',
                                       'model.test_cfg.stride=(40,40)'])
    assert re.search(r'Iter\(test\) \[3/3\].*mIoU', slide)
    samples = pickle.loads(dump.read_bytes())
    assert len(samples) == 3
    # the dump holds label maps (uint8), no logits and no ground truth (read from its file,
    # reduce_zero_label: 0 -> 255 ignored, k -> k - 1)
    assert not any('seg_logits' in s or 'gt_sem_seg' in s for s in samples)
    preds = [s['pred_sem_seg'] for s in samples]
    raw = [np.asarray(Image.open(s['seg_map_path']), dtype=np.int64) for s in samples]
    gts = [np.where(r == 0, 255, r - 1) for r in raw]
    assert all(p.shape == (IMG_SIZE, IMG_SIZE) and p.dtype == np.uint8 for p in preds)
    ious = []
    for c in range(4):
        inter = sum(int(((p == c) & (g == c)).sum()) for p, g in zip(preds, gts))
        union = sum(int((((p == c) | (g == c)) & (g != 255)).sum()) for p, g in zip(preds, gts))
        if union:
            ious.append(inter / union)
    expected = 100 * sum(ious) / len(ious)
    assert _test_metrics(tmp_path / 'slide')['mIoU'] == pytest.approx(expected, abs=0.01)


def test_demo_config_learns_far_above_chance(tmp_path, run_in_process, make_demo_data):
    """The demo's claim at a small part of its cost: the demo config, from scratch, 100
    iterations on 64x64 scenes (an 8x8 patch grid) -> val mIoU far above chance.

    Guessing by class frequency gives about 15 mIoU; this run gave 67.6, 65.9 and 60.7
    with seeds 0, 1 and 2 (one thread; 64.0, 66.4, 60.3 at 80 iterations; 70-84 at 150
    over seeds 0-2 and thread counts 1-2), and 21 on the same scenes drawn flat
    (``--flat``, 150 iterations). A model that does not learn, or an evaluation that
    mislabels the classes, stays far below 45.
    """
    make_demo_data(tmp_path, '--formats', 'ade20k', '--num-train', '200', '--num-val', '20',
                   '--img-size', '64')
    root, iters = f'{tmp_path}/ade20k', 100
    config = tmp_path / 'demo_seg_64px.py'
    config.write_text(
        f"_base_ = ['{SEG_CONFIG}']\n"
        "model = dict(data_preprocessor=dict(size=(64, 64)))\n"
        f"train_cfg = dict(max_iters={iters}, val_interval={iters})\n"
        "param_scheduler = [\n"
        "    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=20),\n"
        "    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=20,\n"
        f"         end={iters})]\n"
        f"default_hooks = dict(checkpoint=dict(interval={iters}))\n"
        f"train_dataloader = dict(dataset=dict(data_root='{root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{root}'))\n"
        f"test_dataloader = dict(dataset=dict(data_root='{root}'))\n")
    out = run_in_process('train.py', [str(config), '--work-dir', str(tmp_path / 'work')])
    miou = float(re.findall(r'Iter\(val\) \[20/20\].*mIoU: ([0-9.]+)', out)[-1])
    assert miou > 45.0, out[-3000:]
