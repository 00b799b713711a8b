import os
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


_EXIT_PROBE = '''\
import atexit
import os


def _native_threads_at_exit():
    if 'RANK' not in os.environ or 'EXIT_PROBE_DIR' not in os.environ:
        return  # the launcher, or a run without the probe
    with open('/proc/self/status') as status:
        threads = next(line.split()[1] for line in status if line.startswith('Threads:'))
    path = os.path.join(os.environ['EXIT_PROBE_DIR'], 'rank%s.%d' % (os.environ['RANK'],
                                                                   os.getpid()))
    with open(path, 'w') as out:
        out.write(threads)


atexit.register(_native_threads_at_exit)  # registered first: runs after the others
'''


class ExitProbe:
    """Counts each rank's native threads when its interpreter starts finalizing (an
    ``atexit`` handler in a ``sitecustomize`` put first on ``PYTHONPATH``): only the main
    thread may be left. gloo threads still alive then can abort the rank at exit
    (``terminate called without an active exception``; see
    ``mpvg_mm.cli._close_distributed``), in about 1 run of 13; this count shows them on
    every run."""

    def __init__(self, folder):
        self.folder = folder

    def env(self, out_dir, pythonpath=None) -> dict:
        """Environment entries for a launch that records into ``out_dir``."""
        os.makedirs(out_dir, exist_ok=True)
        path = [str(self.folder)] + ([pythonpath] if pythonpath else [])
        return dict(PYTHONPATH=os.pathsep.join(path), EXIT_PROBE_DIR=str(out_dir))

    @staticmethod
    def threads(out_dir) -> dict:
        """``{'rank0': n, 'rank1': n, ...}``: the native threads of each rank at exit."""
        return {name.split('.')[0]: int(open(os.path.join(out_dir, name)).read())
                for name in os.listdir(out_dir)}


@pytest.fixture(scope='session')
def exit_probe(tmp_path_factory):
    folder = tmp_path_factory.mktemp('exit_probe')
    (folder / 'sitecustomize.py').write_text(_EXIT_PROBE)
    return ExitProbe(folder)
