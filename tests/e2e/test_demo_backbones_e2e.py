"""CeiT and T2T-ViT end to end with the real tools: each demo classifier (MPVGCeiT,
MPVGT2TViT) trained a few iterations with tools/train.py and evaluated with
tools/test.py."""
import pytest

ROOT = __file__.rsplit('/tests/', 1)[0]
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('single_thread')]


@pytest.mark.parametrize('config,backbone', [
    ('mpvg-ceit-demo_mpvg_1xb64_demo-cls.py', 'MPVGCeiT'),
    ('mpvg-t2t-vit-demo_mpvg_1xb64_demo-cls.py', 'MPVGT2TViT'),
])
def test_train_then_test(train_then_test, config, backbone):
    train_log, _ = train_then_test(f'{ROOT}/configs/demo/{config}')
    assert backbone in train_log  # the config dump: this backbone was trained
