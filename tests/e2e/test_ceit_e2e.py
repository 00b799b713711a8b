"""CeiT end to end with the real tools: the demo MPVGCeiT classifier trained a few
iterations with tools/train.py and evaluated with tools/test.py."""
import re
import subprocess
import sys

import pytest
from test_swin_e2e import _run  # tools/<script> in a subprocess, checked

ROOT = __file__.rsplit('/tests/', 1)[0]
CONFIG = f'{ROOT}/configs/demo/mpvg-ceit-demo_mpvg_1xb64_demo-cls.py'
pytestmark = pytest.mark.usefixtures('single_thread')


@pytest.mark.slow
def test_ceit_train_then_test(tmp_path):
    subprocess.run([sys.executable, f'{ROOT}/tools/make_demo_data.py', str(tmp_path),
                    '--formats', 'imagenet', '--num-train', '4', '--num-val', '2'],
                   check=True, capture_output=True)
    root = f'{tmp_path}/imagenet'
    config = tmp_path / 'ceit_cls.py'
    config.write_text(
        f"_base_ = ['{CONFIG}']\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
        "train_cfg = dict(max_epochs=2, val_interval=2)\n"
        f"train_dataloader = dict(batch_size=16, dataset=dict(data_root='{root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{root}'))\n"
        f"test_dataloader = dict(dataset=dict(data_root='{root}'))\n")
    wd = tmp_path / 'cls'
    out = _run('train.py', [str(config), '--work-dir', str(wd)])
    assert re.search(r'Epoch\(train\)\s+\[2\]\[\s*(\d+)/\1\].*loss', out), out[-3000:]
    assert re.search(r'Epoch\(val\) \[2\]\[\d+/\d+\]\s+accuracy/top1', out), out[-3000:]
    test = _run('test.py', [str(config), f'{wd}/epoch_2.pth',
                            '--work-dir', str(tmp_path / 'test')])
    assert re.search(r'Epoch\(test\).*accuracy/top1', test), test[-3000:]
