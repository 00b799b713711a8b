import subprocess
import sys

import pytest

ROOT = __file__.rsplit('/tests/', 1)[0]
DEMO_CONFIG = f'{ROOT}/configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'


@pytest.fixture(scope='session')
def demo_cls_config(tmp_path_factory):
    """The demo classifier's config on 16 generated images a class (4 iterations an epoch),
    recording its losses (RecordLossHook), logging every iteration; generated once."""
    out = tmp_path_factory.mktemp('demo')
    subprocess.run([sys.executable, f'{ROOT}/tools/make_demo_data.py', str(out), '--formats',
                    'imagenet', '--num-train', '16', '--num-val', '4'], check=True,
                   capture_output=True)
    root = f'{out}/imagenet'
    config = out / 'demo_cls.py'
    config.write_text(
        f"_base_ = ['{DEMO_CONFIG}']\n"
        "custom_imports = dict(imports=['mpvg_mm', 'mpvg_test_hooks'])\n"
        "custom_hooks = [dict(type='RecordLossHook')]\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
        f"train_dataloader = dict(batch_size=32, dataset=dict(data_root='{root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{root}'))\n"
        f"test_dataloader = dict(dataset=dict(data_root='{root}'))\n")
    return str(config)
