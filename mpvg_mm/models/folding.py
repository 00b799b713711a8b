"""MPVG inference folding: the Last-LN PE becomes a bias of the linear head.

With GAP and a linear head, ``W mean_i(LN(x_i) + c_i) + b = W mean_i LN(x_i) + (W c̄ + b)``
with ``c = LN''(pos_k)`` independent of the input. Folding stores ``W c̄ + b`` as the head
bias and drops ``LN''``: the folded network *is* the PVG structure (same cost) and gives
the same logits at the resolution it was folded for (``c̄`` is the mean over that patch
grid; at another input size the resampled ``pos_0`` gives another ``c̄``). The fold's
input size is recorded in the checkpoint meta (``folded_img_size``, :func:`fold_img_size`)
and ``tools/test.py`` warns when the test pipeline's size differs
(:func:`fold_size_mismatch`).

T2T-ViT (``MPVGT2TViT``) folds as the plain ViT. CeiT (``MPVGCeiT``): MPVG's term ``c = mean_i LN''(pos_k)_i`` is added after the Last LN of
the one LCA token, already a constant vector; the head bias takes ``W c + b`` the same way.
"""
import dataclasses
from typing import Optional, Tuple

import torch
import torch.nn as nn

from .backbones.mpvg_ceit import MPVGCeiT
from .backbones.mpvg_swin import MPVGSwin
from .backbones.mpvg_t2t_vit import MPVGT2TViT
from .backbones.mpvg_vit import MPVGViT


def _pooled_last_ln_pe(classifier: nn.Module, backbone: nn.Module) -> torch.Tensor:
    """``c̄``, the token mean of the Last-LN PE at the backbone's own grid, ``(D,)``.

    Raises:
        ValueError: the classifier does not pool the Last-LN output globally.
    """
    neck = getattr(classifier, 'neck', None)
    if isinstance(backbone, MPVGSwin):
        # GAP in the backbone, or mmpretrain's GlobalAveragePooling neck on its feature map
        gap = (backbone.out_type == 'avg_featmap' and neck is None) or (
            backbone.out_type == 'featmap' and type(neck).__name__ == 'GlobalAveragePooling')
        if not gap or backbone.out_indices != (len(backbone.stages) - 1, ):
            raise ValueError('folding needs the last stage alone (out_indices=(3, )), '
                             "globally average-pooled (out_type='avg_featmap' without a neck, "
                             'or a GlobalAveragePooling neck): the Last-LN PE is a constant '
                             'only after global average pooling.')
        return backbone.pe_plan(backbone.pe_grid).last[0].mean(0)
    if backbone.out_type != 'avg_featmap' or neck is not None:
        # (an MPVG CeiT is always 'avg_featmap': its LCA reads per-layer GAP tokens)
        raise ValueError('folding needs out_type=avg_featmap and no neck: the Last-LN PE is a '
                         'constant only after global average pooling.')
    return backbone.pe(backbone.resampled_pos_embed(backbone.pe_grid)).last[0].mean(0)


def fold_last_ln_pe(classifier: nn.Module) -> Tuple[dict, dict]:
    """Fold ``LN''`` of an ``ImageClassifier(MPVGViT, MPVGSwin, MPVGCeiT or MPVGT2TViT,
    LinearClsHead)`` into the head bias.

    Returns:
        ``(state_dict, backbone_update)``: the folded classifier's state dict and the
        backbone config change that builds the matching model
        (``pe_cfg.last_ln_pos=None``).
    """
    backbone = getattr(classifier, 'backbone', None)
    if not isinstance(backbone, (MPVGViT, MPVGSwin, MPVGCeiT, MPVGT2TViT)) or \
            backbone.pe.last_norm is None:
        raise ValueError('folding needs an ImageClassifier whose backbone is an MPVGViT, '
                         'MPVGSwin, MPVGCeiT or MPVGT2TViT with the PE in the Last LN '
                         "(pe_mode='mpvg' or last_ln_pos set).")
    fc = getattr(getattr(classifier, 'head', None), 'fc', None)
    if not isinstance(fc, nn.Linear):
        raise ValueError('folding needs a linear head (LinearClsHead: head.fc).')
    with torch.no_grad():
        mean_pe = _pooled_last_ln_pe(classifier, backbone)  # (D,)
        bias = fc.bias if fc.bias is not None else torch.zeros(fc.out_features)
        folded_bias = bias + fc.weight @ mean_pe
    state = {k: v.clone() for k, v in classifier.state_dict().items()
             if not k.startswith('backbone.pe.last_norm.')}
    state['head.fc.bias'] = folded_bias
    pe_cfg = dataclasses.asdict(backbone.pe.structure)
    pe_cfg['last_ln_pos'] = None
    return state, dict(pe_cfg=pe_cfg)


def configure_folded(model_cfg, meta: dict):
    """Make a classifier config build the model a folded checkpoint holds.

    Args:
        model_cfg: the config's ``model`` (a dict or ``ConfigDict``), changed in place.
        meta: the checkpoint's ``meta``; :func:`fold_last_ln_pe`'s tool
            (``tools/model_converters/fold_mpvg.py``) records ``folded_last_ln_pe=True``
            and ``folded_pe_cfg`` (the folded structure's switches).

    Returns:
        the backbone ``pe_cfg`` set (a dict), or None when the checkpoint is not folded or
        the config already builds the folded model.
    """
    if not meta.get('folded_last_ln_pe'):
        return None
    backbone = model_cfg['backbone']
    pe_cfg = dict(backbone.get('pe_cfg') or {})
    folded = dict(meta.get('folded_pe_cfg') or dict(pe_cfg, last_ln_pos=None))
    folded.pop('last_ln_pe', None)  # the old name of last_ln_pos
    if 'last_ln_pos' in pe_cfg and pe_cfg['last_ln_pos'] is None and all(
            pe_cfg.get(k, v) == v for k, v in folded.items()):
        return None
    backbone['pe_cfg'] = folded
    return folded


def fold_img_size(backbone: nn.Module) -> Tuple[int, int]:
    """The input size ``(H, W)`` in pixels a fold is valid at: the backbone's PE grid
    (``pe_grid``, from its ``img_size``) times its patch size; CeiT's and T2T-ViT's
    ``img_size`` (CeiT: its stem's padding makes other sizes share the grid; T2T-ViT:
    the soft splits give that grid)."""
    if isinstance(backbone, (MPVGCeiT, MPVGT2TViT)):
        return backbone.img_size
    if isinstance(backbone, MPVGSwin):
        patch = tuple(backbone.patch_embed.projection.stride)
    else:
        patch = (backbone.patch_size, backbone.patch_size)
    return backbone.pe_grid[0] * patch[0], backbone.pe_grid[1] * patch[1]


def pipeline_img_size(cfg) -> Optional[Tuple[int, int]]:
    """The ``(H, W)`` the config's test pipeline gives the model: its last ``CenterCrop``'s
    ``crop_size`` (mmpretrain's; an int is square, a pair is ``(W, H)`` as mmcv's), else
    None (no fixed size to compare)."""
    pipeline = (cfg.get('test_dataloader') or {}).get('dataset', {}).get('pipeline') or []
    crops = [t for t in pipeline if isinstance(t, dict) and t.get('type') == 'CenterCrop']
    if not crops:
        return None
    size = crops[-1].get('crop_size')
    if isinstance(size, int):
        return size, size
    return (int(size[1]), int(size[0])) if isinstance(size, (tuple, list)) else None


def fold_size_mismatch(meta: dict, cfg) -> Optional[str]:
    """A warning when a folded checkpoint (``meta['folded_img_size']``) is tested at
    another input size than it was folded for (its logits differ there from the unfolded
    model's), else None."""
    folded = meta.get('folded_img_size')
    tested = pipeline_img_size(cfg)
    if not meta.get('folded_last_ln_pe') or folded is None or tested is None or \
            tuple(folded) == tested:
        return None
    return (f'the checkpoint was folded for {folded[0]}x{folded[1]} inputs '
            f"(meta['folded_img_size']) but the test pipeline gives {tested[0]}x{tested[1]} "
            '(CenterCrop): the folded Last-LN PE term is that of the fold size, so the logits '
            'differ from the unfolded model\'s; test the unfolded checkpoint, or fold it '
            'again with a config whose backbone img_size is the test size.')
