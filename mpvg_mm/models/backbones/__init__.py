from .mpvg_vit import ARCH_SETTINGS, MPVGViT
from .vit_adapter import MPVGViTAdapter

__all__ = ['ARCH_SETTINGS', 'MPVGViT', 'MPVGViTAdapter']
