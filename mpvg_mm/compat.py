"""Small, documented shims that let the OpenMMLab 2.x stack run on a modern stack.

1. ``torch.load`` (torch >= 2.6 defaults to ``weights_only=True``). mmengine's own
   checkpoints (``--resume``, ``load_from``) hold a few non-tensor objects: the message
   hub's ``HistoryBuffer`` and numpy arrays/scalars/dtypes. They are allow-listed with
   ``torch.serialization.add_safe_globals``; the check stays on, so a checkpoint that
   smuggles any other pickled object is refused. mmengine's local-file loader is
   re-registered (its public ``CheckpointLoader.register_scheme``) only to turn torch's
   refusal into an :class:`UnsafeCheckpointError` that names the file, the refused global
   and the way out, and an empty, truncated or foreign file into a
   :class:`CorruptCheckpointError` that names the file (and does not suggest switching
   the check off).
   ``HistoryBuffer`` pickles its class-level statistics methods through
   ``builtins.getattr``, a global too powerful to allow-list; a ``copyreg`` reducer makes
   new checkpoints store it as ``HistoryBuffer(log_history, count_history, max_length)``
   (the methods are re-registered by the class itself on import).
2. Distributed training on CPU-only machines (gloo) with a CUDA build of torch: mmengine
   binds a CUDA device in ``init_dist`` and passes ``device_ids`` to DDP; when no GPU is
   visible both are skipped (NCCL there gets a clear error instead).
Nothing in installed packages is edited, and nothing is patched on import:
:func:`install` does it, once (``import mpvg_mm`` calls it through
:func:`mpvg_mm.registry.register_all_modules` when OpenMMLab is installed).
"""
import argparse
import os.path as osp
import pickle
import re
import zipfile

import numpy as np
import torch

_TORCH_HAS_SAFE_GLOBALS = hasattr(torch.serialization, 'add_safe_globals')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds pickled objects outside the allow-list."""


class CorruptCheckpointError(ValueError):
    """A checkpoint file is empty, truncated, or not a PyTorch checkpoint."""


def _numpy_safe_globals() -> list:
    core = getattr(np, '_core', None) or np.core
    found = [np.ndarray, np.dtype, core.multiarray._reconstruct, core.multiarray.scalar]
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25: one class per dtype
    if dtypes is not None:
        found += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return found


def mmengine_safe_globals() -> list:
    """The non-tensor types that mmengine checkpoints are made of, and
    ``argparse.Namespace``, which DeiT's / LaPE's ``main.py`` saves as ``'args'``: it is
    rebuilt by setting its ``__dict__`` (no code runs), and what it holds is unpickled
    under the same allow-list."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer, argparse.Namespace] + _numpy_safe_globals()


def load_checkpoint_file(filename: str, map_location=None, mmap: bool = False):
    """``torch.load(weights_only=True)`` of a local file with the allow-list, and one clear
    message per kind of bad file, each naming it.

    Raises:
        FileNotFoundError: no such file.
        CorruptCheckpointError: the file is empty, truncated, or not a PyTorch checkpoint
            (the message does not suggest switching the safety check off: nothing unsafe
            was found, the bytes are damaged).
        UnsafeCheckpointError: a well-formed checkpoint that holds pickled objects outside
            the allow-list; the message names the refused global.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    if osp.getsize(filename) == 0:
        raise CorruptCheckpointError(
            f'{filename} is empty (0 bytes): a checkpoint whose write was interrupted, or a '
            'failed copy. Use an earlier checkpoint (for --resume: the work dir\'s '
            'last_checkpoint names the last complete one) or copy the file again.')
    if not _is_torch_file(filename):
        raise _corrupt(filename, ValueError(
            "neither torch.save's zip format nor its legacy pickle format (no magic number)"))
    try:
        return torch.load(filename, map_location=map_location, weights_only=True,
                          mmap=mmap and zipfile.is_zipfile(filename))
    except pickle.UnpicklingError as err:
        blocked = re.search(r'unsupported global:?\s*(?:GLOBAL\s+)?([\w.]+)', str(err),
                            re.IGNORECASE)
        if blocked is None:
            raise _corrupt(filename, err) from None
        raise UnsafeCheckpointError(
            f'refused to load {filename}: it holds a pickled object outside the allow-list '
            f'of mmengine checkpoints (the global {blocked.group(1)}). Only if you trust its '
            'source, load it once with torch.load(..., weights_only=False) and save the '
            'tensors you need, or allow the type with '
            'torch.serialization.add_safe_globals.') from None
    except (EOFError, RuntimeError, ValueError, OSError) as err:
        raise _corrupt(filename, err) from None


#: what ``torch.save(..., _use_new_zipfile_serialization=False)`` writes first: its magic
#: number ``0x1950a86a20f9469cfc6c`` pickled with protocol 2 (``torch/serialization.py``)
_LEGACY_TORCH_HEAD = pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)


def _is_torch_file(filename: str) -> bool:
    """Whether the file starts as a ``torch.save`` file does (zip, or the legacy format's
    magic number): only those are read, so a refused global always comes from a real
    checkpoint, never from random bytes."""
    if zipfile.is_zipfile(filename):
        return True
    with open(filename, 'rb') as f:
        return f.read(len(_LEGACY_TORCH_HEAD)) == _LEGACY_TORCH_HEAD


def _corrupt(filename: str, err: Exception) -> 'CorruptCheckpointError':
    detail = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return CorruptCheckpointError(
        f'{filename} is not a readable PyTorch checkpoint: it is truncated or damaged, or '
        f'not a checkpoint at all ({type(err).__name__}: {detail[:200]}). Use an earlier '
        'checkpoint (for --resume: the work dir\'s last_checkpoint names the last complete '
        'one) or copy the file again.')


def load_from_local_weights_only(filename: str, map_location=None):
    """mmengine's local-file checkpoint loader: :func:`load_checkpoint_file` (named so that
    mmengine's log reads "Loads checkpoint by local_weights_only backend")."""
    return load_checkpoint_file(filename, map_location=map_location)


def _reduce_history_buffer(buf):
    return type(buf), (buf._log_history, buf._count_history, buf.max_length)


def _patch_cpu_distributed() -> None:
    from mmengine.dist import utils as dist_utils
    from mmengine.model.wrappers import MMDistributedDataParallel
    if getattr(dist_utils._init_dist_pytorch, '_mpvg_cpu_aware', False):
        return
    init_with_gpu = dist_utils._init_dist_pytorch

    def init_dist_pytorch(backend, init_backend='torch', **kwargs):
        if torch.cuda.is_available():
            return init_with_gpu(backend, init_backend=init_backend, **kwargs)
        if backend == 'nccl':
            raise RuntimeError('distributed training without a visible GPU: NCCL needs one; '
                               'on CPUs pass --cfg-options env_cfg.dist_cfg.backend=gloo')
        torch.distributed.init_process_group(backend=backend, **kwargs)

    init_dist_pytorch._mpvg_cpu_aware = True
    dist_utils._init_dist_pytorch = init_dist_pytorch
    ddp_init = MMDistributedDataParallel.__init__

    def ddp_init_cpu_aware(self, module, *args, **kwargs):
        if all(p.device.type == 'cpu' for p in module.parameters()):
            kwargs.pop('device_ids', None)  # DDP refuses device ids for CPU modules
            kwargs.pop('output_device', None)
        ddp_init(self, module, *args, **kwargs)

    MMDistributedDataParallel.__init__ = ddp_init_cpu_aware


_installed = False


def install() -> None:
    """Install both shims (idempotent); needs mmengine."""
    global _installed
    if _installed:
        return
    _installed = True
    _patch_cpu_distributed()
    if not _TORCH_HAS_SAFE_GLOBALS:
        return  # torch < 2.4: torch.load's old default (no weights-only check) applies
    torch.serialization.add_safe_globals(mmengine_safe_globals())
    import copyreg

    from mmengine.logging.history_buffer import HistoryBuffer
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_local_weights_only, force=True)
