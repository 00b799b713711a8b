from .backbones import ARCH_SETTINGS, MPVGViT
from .pos_embed import (PE_PRESETS, LayerwisePositionEmbedding, PEPlan, PEStructure,
                        build_pe_structure, resample_pos_embed)

__all__ = [
    'ARCH_SETTINGS', 'MPVGViT', 'PE_PRESETS', 'LayerwisePositionEmbedding', 'PEPlan',
    'PEStructure', 'build_pe_structure', 'resample_pos_embed'
]
