"""T2T-ViT end to end with the real tools: the demo MPVGT2TViT classifier trained a few
iterations with tools/train.py and evaluated with tools/test.py."""
import os
import re
import subprocess
import sys

import pytest

ROOT = __file__.rsplit('/tests/', 1)[0]
CONFIG = f'{ROOT}/configs/demo/mpvg-t2t-vit-demo_mpvg_1xb64_demo-cls.py'
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('single_thread')]


def _run(script, args):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, f'{ROOT}/tools/{script}', *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_t2t_vit_train_then_test(tmp_path):
    subprocess.run([sys.executable, f'{ROOT}/tools/make_demo_data.py', str(tmp_path),
                    '--formats', 'imagenet', '--num-train', '4', '--num-val', '2'],
                   check=True, capture_output=True)
    root = f'{tmp_path}/imagenet'
    config = tmp_path / 't2t_cls.py'
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
