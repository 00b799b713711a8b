"""Small, documented shims that let the OpenMMLab 2.x stack run on a modern stack.

1. ``torch.load`` (torch >= 2.6 defaults to ``weights_only=True``). mmengine's own
   checkpoints (``--resume``, ``load_from``) hold a few non-tensor objects: the message
   hub's ``HistoryBuffer`` and numpy arrays/scalars/dtypes. They are allow-listed with
   ``torch.serialization.add_safe_globals``; the check stays on, so a checkpoint that
   smuggles any other pickled object is refused. mmengine's local-file loader is
   re-registered (its public ``CheckpointLoader.register_scheme``) only to turn torch's
   refusal into an :class:`UnsafeCheckpointError` that names the file and the way out.
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
import os.path as osp
import pickle

import numpy as np
import torch

_TORCH_HAS_SAFE_GLOBALS = hasattr(torch.serialization, 'add_safe_globals')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds pickled objects outside the allow-list."""


def _numpy_safe_globals() -> list:
    core = getattr(np, '_core', None) or np.core
    found = [np.ndarray, np.dtype, core.multiarray._reconstruct, core.multiarray.scalar]
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25: one class per dtype
    if dtypes is not None:
        found += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return found


def mmengine_safe_globals() -> list:
    """The non-tensor types that mmengine checkpoints are made of."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer] + _numpy_safe_globals()


def load_from_local_weights_only(filename: str, map_location=None):
    """``torch.load(weights_only=True)`` with the allow-list and a clear refusal (named
    so that mmengine's log reads "Loads checkpoint by local_weights_only backend")."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ''
        detail = next((line.strip() for line in str(err).splitlines()
                       if 'Unsupported global' in line), first_line)
        raise UnsafeCheckpointError(
            f'refused to load {filename}: it holds pickled objects outside the allow-list '
            f'of mmengine checkpoints ({detail}). Only if you trust its source, load it '
            'once with torch.load(..., weights_only=False) and save the tensors you need, '
            'or allow the type with torch.serialization.add_safe_globals.') from None


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
