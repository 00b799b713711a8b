"""Diagnostics and benchmarks: PE counterbalancing (the paper's Fig. 2, 4, 6-7), speed /
memory / FLOPs against mmpretrain's and timm's ViT, and a multi-seed preset study.

The submodules import matplotlib, timm and the toolboxes lazily; import them directly:
``mpvg_mm.analysis.counterbalance``, ``.benchmark``, ``.preset_study``.
"""
from .counterbalance import analyze_model, collect_layer_stats, pearson, summarize

__all__ = ['analyze_model', 'collect_layer_stats', 'pearson', 'summarize']
