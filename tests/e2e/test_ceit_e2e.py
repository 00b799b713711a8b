"""CeiT end to end with the real tools: the demo MPVGCeiT classifier trained a few
iterations with tools/train.py and evaluated with tools/test.py."""
import pytest

ROOT = __file__.rsplit('/tests/', 1)[0]
CONFIG = f'{ROOT}/configs/demo/mpvg-ceit-demo_mpvg_1xb64_demo-cls.py'
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('single_thread')]


def test_ceit_train_then_test(train_then_test):
    train_log, _ = train_then_test(CONFIG)
    assert 'MPVGCeiT' in train_log  # the config dump: the CeiT backbone was trained
