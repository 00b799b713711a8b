"""Helpers of the end-to-end tests: the real tools on generated demo data."""
import os
import subprocess
import sys

ROOT = __file__.rsplit('/tests/', 1)[0]


def run_tool(script: str, args) -> str:
    """``tools/<script> args`` in a subprocess on one thread; its stdout + stderr (the
    test fails with their tails when it exits non-zero)."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, f'{ROOT}/tools/{script}', *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def tiny_cls_config(tmp_path, base: str, epochs: int = 2) -> str:
    """``base`` (a demo classification config) on 4 generated images a class, ``epochs``
    epochs, validated at the end, logging every iteration; the config's path."""
    subprocess.run([sys.executable, f'{ROOT}/tools/make_demo_data.py', str(tmp_path),
                    '--formats', 'imagenet', '--num-train', '4', '--num-val', '2'],
                   check=True, capture_output=True)
    root = f'{tmp_path}/imagenet'
    config = tmp_path / 'tiny_cls.py'
    config.write_text(
        f"_base_ = ['{base}']\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
        f"train_cfg = dict(max_epochs={epochs}, val_interval={epochs})\n"
        f"train_dataloader = dict(batch_size=16, dataset=dict(data_root='{root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{root}'))\n"
        f"test_dataloader = dict(dataset=dict(data_root='{root}'))\n")
    return str(config)
