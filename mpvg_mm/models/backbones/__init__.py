from .mpvg_vit import ARCH_ALIASES, ARCH_SETTINGS, MPVGViT, resolve_arch
from .mpvg_swin import MPVGSwin
from .vit_adapter import MPVGViTAdapter

__all__ = ['ARCH_ALIASES', 'ARCH_SETTINGS', 'MPVGSwin', 'MPVGViT', 'MPVGViTAdapter', 'resolve_arch']
