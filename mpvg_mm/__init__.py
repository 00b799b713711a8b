"""MPVG (AAAI 2025) for OpenMMLab: one backbone for mmpretrain, mmdet and mmseg."""
from . import compat  # noqa: F401  (modern-stack shims first)
from . import registry  # noqa: F401  (registers into the three toolboxes)
from .models import MPVGViT, PEStructure  # noqa: F401

__version__ = '0.1.0'
