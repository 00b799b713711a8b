from .mpvg_vit import ARCH_SETTINGS, MPVGViT

__all__ = ['ARCH_SETTINGS', 'MPVGViT']
