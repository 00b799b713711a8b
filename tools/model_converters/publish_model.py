"""Make a training checkpoint publishable: weights that load anywhere.

    python tools/model_converters/publish_model.py work_dirs/x/epoch_30.pth x.pth
    # -> x-<first 8 hex digits of its sha256>.pth

As OpenMMLab's ``tools/model_converters/publish_model.py``: only ``meta`` and
``state_dict`` are kept (the optimizer, parameter schedulers and message hub are dropped)
and the file is named with the prefix of its sha256. Unlike a training checkpoint, whose
message hub holds mmengine's ``HistoryBuffer``, the output is made of tensors and plain
Python values only (numpy scalars and arrays in ``meta`` become Python numbers and
lists), so ``torch.load(path, weights_only=True)``, mmengine's ``load_checkpoint`` and the
toolboxes' inferencers read it in a process that never imported ``mpvg_mm``; this is
checked in a fresh interpreter before the file is named. ``meta['cfg']`` keeps the
training config, so ``DetInferencer(weights=PATH)`` needs no config file.
"""
import argparse
import hashlib
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

KEEP = ('meta', 'state_dict')
PLAIN = (str, int, float, bool, type(None))


def plain(value, where='meta'):
    """``value`` as tensors and plain Python containers and scalars (what
    ``torch.load(weights_only=True)`` reads without allow-listing anything).

    Raises:
        TypeError: for any other object, naming where it is.
    """
    if isinstance(value, PLAIN) or isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist() if isinstance(value, np.ndarray) else value.item()
    if isinstance(value, dict):
        return type(value)((k, plain(v, f'{where}[{k!r}]')) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v, f'{where}[{i}]') for i, v in enumerate(value))
    raise TypeError(f'{where} is a {type(value).__module__}.{type(value).__qualname__}, '
                    'which torch.load(weights_only=True) refuses; drop it from the '
                    'checkpoint or store it as a plain value')


def published(checkpoint: dict) -> dict:
    """The publishable part of an mmengine checkpoint (a bare state dict is wrapped)."""
    if 'state_dict' not in checkpoint:
        checkpoint = dict(state_dict=checkpoint)
    dropped = sorted(set(checkpoint) - set(KEEP))
    if dropped:
        print(f'dropped: {", ".join(dropped)}')
    return dict(meta=plain(checkpoint.get('meta', {})),
                state_dict=plain(checkpoint['state_dict'], 'state_dict'))


def check_loads_without_project(path: str) -> None:
    """``torch.load(path, weights_only=True)`` in a fresh interpreter without mpvg_mm.

    Raises:
        RuntimeError: with that interpreter's error.
    """
    code = ('import sys, torch; torch.load(sys.argv[1], map_location="cpu", '
            'weights_only=True); assert "mpvg_mm" not in sys.modules')
    proc = subprocess.run([sys.executable, '-c', code, path], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=''))
    if proc.returncode:
        raise RuntimeError(f'{path} does not load with torch.load(weights_only=True) '
                           f'without mpvg_mm:\n{proc.stderr[-2000:]}')


def check_paths(src: str, dst: str) -> None:
    """Refuses a source that is no file and an output whose directory does not exist.

    Raises:
        FileNotFoundError: naming the path and the fix.
    """
    if osp.isdir(src):
        raise FileNotFoundError(f'{src} is a directory: give the checkpoint file in it '
                                '(e.g. its epoch_N.pth or iter_N.pth)')
    if not osp.isfile(src):
        raise FileNotFoundError(f'{src} not found: give a checkpoint saved by training')
    out_dir = osp.dirname(osp.abspath(dst))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'the output directory {out_dir} does not exist: create it '
                                'first (mkdir -p) or give another output path')


def publish(src: str, dst: str) -> str:
    """Writes the published checkpoint of ``src`` as ``<dst stem>-<sha256[:8]>.pth``;
    returns that path.

    Raises:
        FileNotFoundError: see ``check_paths``.
        mpvg_mm.compat.CorruptCheckpointError: an empty, truncated or non-checkpoint file,
            or one that holds no dict of weights.
        mpvg_mm.compat.UnsafeCheckpointError: pickled objects outside the allow-list.
    """
    from mpvg_mm.compat import CorruptCheckpointError, install, load_checkpoint_file
    install()  # reads training checkpoints: the allow-list of mmengine's types
    check_paths(src, dst)
    checkpoint = load_checkpoint_file(src, map_location='cpu')
    if not isinstance(checkpoint, dict):
        raise CorruptCheckpointError(f'{src} holds a {type(checkpoint).__name__}, not a '
                                     'checkpoint (a dict with state_dict, or a state dict)')
    tmp = dst + '.tmp'
    torch.save(published(checkpoint), tmp)
    check_loads_without_project(tmp)
    with open(tmp, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    final = f'{dst[:-4] if dst.endswith(".pth") else dst}-{sha[:8]}.pth'
    os.replace(tmp, final)
    return final


def main(argv=None):
    from mpvg_mm.compat import CorruptCheckpointError, UnsafeCheckpointError
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('in_file', help='a checkpoint saved by training (mmengine)')
    parser.add_argument('out_file', help='output name; the sha256 prefix is appended')
    args = parser.parse_args(argv)
    try:
        final = publish(args.in_file, args.out_file)
    except (FileNotFoundError, CorruptCheckpointError, UnsafeCheckpointError,
            TypeError) as error:
        sys.exit(f'refused: {error}')
    print(f'The published model is saved at {final}')


if __name__ == '__main__':
    main()
