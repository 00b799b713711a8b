"""T2T-ViT end to end with the real tools: the demo MPVGT2TViT classifier trained a few
iterations with tools/train.py and evaluated with tools/test.py."""
import pytest

ROOT = __file__.rsplit('/tests/', 1)[0]
CONFIG = f'{ROOT}/configs/demo/mpvg-t2t-vit-demo_mpvg_1xb64_demo-cls.py'
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('single_thread')]


def test_t2t_vit_train_then_test(train_then_test):
    train_log, _ = train_then_test(CONFIG)
    assert 'MPVGT2TViT' in train_log  # the config dump: the T2T backbone was trained
