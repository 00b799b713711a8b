"""The paper's diagnostics and the measurements behind the README's tables.

* :mod:`.counterbalance`: the counterbalancing diagnostics (the paper's Fig. 2, 4, 6-7):
  forward hooks on an MPVGViT and the numbers compared.
* :mod:`.benchmark`: speed, memory, parameters and FLOPs of the PE presets against
  mmpretrain's and timm's ViT.
* :mod:`.preset_study`: every preset trained with several seeds on a config's data.
* :mod:`.switch_study`: every option of a backbone switch (``final_norm``,
  ``last_ln_pe_port``) in a demo detector, several seeds, and the decision rule.

They compute and return numbers; plots, files and the command lines are the scripts of
``tools/analysis_tools/``. ``.benchmark``, ``.preset_study`` and ``.switch_study`` import
timm and the toolboxes lazily; import them directly.
"""
from .counterbalance import analyze_model, collect_layer_stats, pearson, summarize

__all__ = ['analyze_model', 'collect_layer_stats', 'pearson', 'summarize']
