from .backbones import ARCH_SETTINGS, MPVGViT, MPVGViTAdapter
from .necks import SimpleFeaturePyramid
from .pos_embed import (PE_PRESETS, LayerwisePositionEmbedding, PEPlan, PEStructure,
                        build_pe_structure, resample_pos_embed)

__all__ = [
    'ARCH_SETTINGS', 'MPVGViT', 'MPVGViTAdapter', 'SimpleFeaturePyramid', 'PE_PRESETS',
    'LayerwisePositionEmbedding', 'PEPlan', 'PEStructure', 'build_pe_structure',
    'resample_pos_embed'
]
