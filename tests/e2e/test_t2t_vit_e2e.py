"""T2T-ViT end to end with the real tools: the demo MPVGT2TViT classifier trained a few
iterations with tools/train.py and evaluated with tools/test.py."""
import re

import pytest
from e2e_tools import ROOT, run_tool, tiny_cls_config

CONFIG = f'{ROOT}/configs/demo/mpvg-t2t-vit-demo_mpvg_1xb64_demo-cls.py'
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('single_thread')]


def test_t2t_vit_train_then_test(tmp_path):
    config = tiny_cls_config(tmp_path, CONFIG, epochs=2)
    wd = tmp_path / 'cls'
    out = run_tool('train.py', [config, '--work-dir', str(wd)])
    assert re.search(r'Epoch\(train\)\s+\[2\]\[\s*(\d+)/\1\].*loss', out), out[-3000:]
    assert re.search(r'Epoch\(val\) \[2\]\[\d+/\d+\]\s+accuracy/top1', out), out[-3000:]
    test = run_tool('test.py', [config, f'{wd}/epoch_2.pth', '--work-dir', str(tmp_path / 'test')])
    assert re.search(r'Epoch\(test\).*accuracy/top1', test), test[-3000:]
