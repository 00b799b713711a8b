"""Small, documented shims that let the OpenMMLab 2.x stack run on a modern stack.

* torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine's own
  checkpoints (resume, ``load_from``) hold a few non-tensor objects: the message hub's
  ``HistoryBuffer`` and numpy arrays/scalars. They are allow-listed with
  ``torch.serialization.add_safe_globals``; the safety check stays on, so a checkpoint
  that smuggles any other pickled object is refused, with a message that says so.
"""
import numpy as np
import torch

_TORCH_HAS_SAFE_GLOBALS = hasattr(torch.serialization, 'add_safe_globals')


def _numpy_safe_globals() -> list:
    core = getattr(np, '_core', None) or np.core
    found = [np.ndarray, np.dtype, core.multiarray._reconstruct, core.multiarray.scalar]
    # numpy >= 1.25 exposes one class per dtype (np.dtypes.Float64DType, ...)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return found


def mmengine_safe_globals() -> list:
    """The non-tensor types that mmengine checkpoints are made of."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer] + _numpy_safe_globals()


def allow_mmengine_checkpoints() -> None:
    """Allow-list :func:`mmengine_safe_globals` for ``torch.load(weights_only=True)``."""
    if _TORCH_HAS_SAFE_GLOBALS:
        torch.serialization.add_safe_globals(mmengine_safe_globals())


allow_mmengine_checkpoints()
