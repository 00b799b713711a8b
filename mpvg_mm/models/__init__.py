"""The PE structures (:mod:`.pos_embed`, torch alone) and the OpenMMLab modules built on
them: the backbones ``MPVGViT``, ``MPVGSwin``, ``MPVGCeiT``, ``MPVGT2TViT`` and
``MPVGViTAdapter``, the neck
``SimpleFeaturePyramid``.

The OpenMMLab modules are imported on first access, so that ``mpvg_mm.models.pos_embed``
imports without mmengine and mmcv.
"""
import importlib

from .pos_embed import (PE_PRESETS, STAGED_PE_PRESETS, LayerwisePositionEmbedding, PEPlan,
                        PEStructure, build_pe_structure, resample_pos_embed)

_LAZY = {
    'ARCH_ALIASES': '.backbones.mpvg_vit',
    'ARCH_SETTINGS': '.backbones.mpvg_vit',
    'MPVGViT': '.backbones.mpvg_vit',
    'MPVGSwin': '.backbones.mpvg_swin',
    'MPVGCeiT': '.backbones.mpvg_ceit',
    'MPVGT2TViT': '.backbones.mpvg_t2t_vit',
    'resolve_arch': '.backbones.mpvg_vit',
    'MPVGViTAdapter': '.backbones.vit_adapter',
    'SimpleFeaturePyramid': '.necks.simple_fpn',
}

__all__ = [
    'PE_PRESETS', 'STAGED_PE_PRESETS', 'LayerwisePositionEmbedding', 'PEPlan', 'PEStructure',
    'build_pe_structure', 'resample_pos_embed', *_LAZY
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
