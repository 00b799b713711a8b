"""Layer-wise learning-rate decay for detectors and segmentors (any model with a
``backbone`` that has ``get_layer_depth``).

mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` does the work but needs the
*top* module to have ``get_layer_depth`` (mmpretrain's classifiers do); mmdet's and
mmseg's detectors/segmentors do not. This subclass supplies one that asks the backbone
(``backbone.get_layer_depth(name, 'backbone.')``) and puts every parameter outside the
backbone (neck, heads) at the top depth, i.e. full lr.
"""
from typing import Callable, List, Optional, Tuple

from mmpretrain.engine.optimizers.layer_decay_optim_wrapper_constructor import \
    LearningRateDecayOptimWrapperConstructor
from torch import nn

BACKBONE_PREFIX = 'backbone.'


def backbone_layer_depth(model: nn.Module) -> Callable[[str], Tuple[int, int]]:
    """``name -> (depth, num_depths)`` for a model whose ``backbone`` has
    ``get_layer_depth(name, prefix)``; names outside ``backbone.`` get the top depth."""
    backbone = getattr(model, 'backbone', None)
    if backbone is None or not hasattr(backbone, 'get_layer_depth'):
        raise NotImplementedError(
            f'layer-wise lr decay needs {type(model).__name__} (or its `backbone`) to have '
            '`get_layer_depth(param_name, prefix)`, as MPVGViT and MPVGViTAdapter do.')

    def get_layer_depth(param_name: str) -> Tuple[int, int]:
        depth, num_depths = backbone.get_layer_depth(param_name, BACKBONE_PREFIX)
        if not param_name.startswith(BACKBONE_PREFIX):
            depth = num_depths - 1
        return depth, num_depths

    return get_layer_depth


class LayerDecayOptimWrapperConstructor(LearningRateDecayOptimWrapperConstructor):
    """Layer-wise lr decay: ``lr = base_lr * layer_decay_rate ** (num_depths - 1 - depth)``.

    ``depth`` comes from the model's ``get_layer_depth`` if it has one (mmpretrain
    classifiers), else from ``model.backbone.get_layer_depth(name, 'backbone.')``
    (mmdet detectors, mmseg segmentors); parameters outside the backbone get full lr.
    For :class:`MPVGViT`/:class:`MPVGViTAdapter` (``L`` blocks, ``L + 2`` depths): patch
    embedding, ``pos_0`` and the class token are depth 0, block ``i`` and its ``LN'_i``
    depth ``i + 1``, the Last LN, ``LN''`` and all adapter modules depth ``L + 1``.

    ``paramwise_cfg`` keys (as mmpretrain's constructor): ``layer_decay_rate`` (1.0),
    ``norm_decay_mult``, ``bias_decay_mult``, ``flat_decay_mult`` (1-D params) and
    ``custom_keys`` (substring -> ``dict(decay_mult=...)``; the longest match wins and
    overrides the other rules; ``lr_mult`` is not supported). Example (ViT-Adapter)::

        optim_wrapper = dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
            constructor='LayerDecayOptimWrapperConstructor',
            paramwise_cfg=dict(
                layer_decay_rate=0.65,
                norm_decay_mult=0.,  # every LayerNorm/BN, incl. the PE's LN' and LN''
                bias_decay_mult=0.,
                custom_keys={'pos_embed': dict(decay_mult=0.),
                             'cls_token': dict(decay_mult=0.),
                             'level_embed': dict(decay_mult=0.),
                             'gamma': dict(decay_mult=0.)}))
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        if get_layer_depth is None and not hasattr(module, 'get_layer_depth'):
            get_layer_depth = backbone_layer_depth(module)
        super().add_params(params, module, prefix=prefix, get_layer_depth=get_layer_depth,
                           **kwargs)
