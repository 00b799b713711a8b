from .mpvg_vit import ARCH_ALIASES, ARCH_SETTINGS, MPVGViT, resolve_arch
from .vit_adapter import MPVGViTAdapter

__all__ = ['ARCH_ALIASES', 'ARCH_SETTINGS', 'MPVGViT', 'MPVGViTAdapter', 'resolve_arch']
