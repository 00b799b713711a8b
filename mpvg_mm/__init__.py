"""MPVG (AAAI 2025) for OpenMMLab: one backbone for mmpretrain, mmdet and mmseg.

Importing the package registers its modules into every installed toolbox and installs
the modern-stack shims (:func:`mpvg_mm.registry.register_all_modules`), which is what a
config's ``custom_imports=dict(imports=['mpvg_mm'])`` relies on. Without OpenMMLab
(torch alone, e.g. next to timm) it registers nothing, and the PE structures of
:mod:`mpvg_mm.models.pos_embed` still work.
"""
from .registry import register_all_modules

__version__ = '0.1.0'

register_all_modules()
