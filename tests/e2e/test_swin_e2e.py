"""Swin end to end with the real tools: the demo MPVGSwin classifier trained with
tools/train.py and evaluated with tools/test.py, then the demo Swin UperNet fine-tuned
from its checkpoint (every classifier weight used; the norms of stages 0-2 new) and
evaluated on images whose side is not a multiple of the patch."""
import re

import pytest

ROOT = __file__.rsplit('/tests/', 1)[0]
CLS_CONFIG = f'{ROOT}/configs/demo/mpvg-swin-demo_mpvg_1xb64_demo-cls.py'
SEG_CONFIG = f'{ROOT}/configs/demo/upernet_mpvg-swin-demo_mpvg_1xb8_demo-ade.py'
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('single_thread')]


def test_swin_classify_then_segment(tmp_path, run_in_process, make_demo_data):
    make_demo_data(tmp_path, '--formats', 'imagenet', '--num-train', '4', '--num-val', '2')
    make_demo_data(tmp_path / 'seg', '--formats', 'ade20k', '--num-train', '4', '--num-val',
                   '2', '--img-size', '60')
    root = f'{tmp_path}/imagenet'
    cls_config = tmp_path / 'swin_cls.py'
    cls_config.write_text(
        f"_base_ = ['{CLS_CONFIG}']\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
        "train_cfg = dict(max_epochs=2, val_interval=2)\n"
        f"train_dataloader = dict(batch_size=16, dataset=dict(data_root='{root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{root}'))\n"
        f"test_dataloader = dict(dataset=dict(data_root='{root}'))\n")
    wd = tmp_path / 'cls'
    out = run_in_process('train.py', [str(cls_config), '--work-dir', str(wd)])
    assert re.search(r'Epoch\(train\)\s+\[2\]\[\s*(\d+)/\1\].*loss', out), out[-3000:]
    assert re.search(r'Epoch\(val\) \[2\]\[\d+/\d+\]\s+accuracy/top1', out), out[-3000:]
    cls_ckpt = f'{wd}/epoch_2.pth'
    test = run_in_process('test.py', [str(cls_config), cls_ckpt, '--work-dir',
                                      str(tmp_path / 'cls_test')])
    assert re.search(r'Epoch\(test\).*accuracy/top1', test), test[-3000:]

    seg_root = f'{tmp_path}/seg/ade20k'
    seg_config = tmp_path / 'swin_seg.py'
    seg_config.write_text(
        f"_base_ = ['{SEG_CONFIG}']\n"
        "model = dict(data_preprocessor=dict(size=(60, 60)))\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
        "train_cfg = dict(max_iters=2, val_interval=2)\n"
        "param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]\n"
        f"train_dataloader = dict(batch_size=2, dataset=dict(data_root='{seg_root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{seg_root}'))\n"
        f"test_dataloader = dict(dataset=dict(data_root='{seg_root}'))\n")
    swd = tmp_path / 'seg_work'
    out = run_in_process('train.py', [str(seg_config), '--work-dir', str(swd), '--cfg-options',
                                      'model.backbone.init_cfg.type=Pretrained',
                                      f'model.backbone.init_cfg.checkpoint={cls_ckpt}',
                                      'model.backbone.init_cfg.prefix=backbone.'])
    assert f'load backbone. in model from: {cls_ckpt}' in out
    # all the classifier's backbone weights are used; only the norms of stages 0-2,
    # which a classifier does not have (it reads stage 3 alone), start fresh
    assert 'unexpected key' not in out, out[-3000:]
    missing = re.findall(r'missing keys in source state_dict: (.*)', out)
    assert missing and set(missing[0].split(', ')) == {
        f'norm{s}.{p}' for s in range(3) for p in ('weight', 'bias')}, out[-3000:]
    assert re.search(r'Iter\(train\) \[2/2\].*decode\.loss_ce', out), out[-3000:]
    test = run_in_process('test.py', [str(seg_config), f'{swd}/iter_2.pth',
                                      '--work-dir', str(tmp_path / 'seg_test')])
    assert re.search(r'Iter\(test\) \[2/2\].*mIoU', test), test[-3000:]
