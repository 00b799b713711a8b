"""MPVG inference folding: the Last-LN PE becomes a bias of the linear head.

With GAP and a linear head, ``W mean_i(LN(x_i) + c_i) + b = W mean_i LN(x_i) + (W c̄ + b)``
with ``c = LN''(pos_k)`` independent of the input. Folding stores ``W c̄ + b`` as the head
bias and drops ``LN''``: the folded network *is* the PVG structure (same cost) and gives
the same logits at the resolution it was folded for (``c̄`` is the mean over that patch
grid; at another input size the resampled ``pos_0`` gives another ``c̄``). The fold's
input size is recorded in the checkpoint meta (``folded_img_size``, :func:`fold_img_size`)
and ``tools/test.py`` warns when the test pipeline's size differs
(:func:`fold_size_mismatch`).

T2T-ViT (``MPVGT2TViT``) folds as the plain ViT. CeiT (``MPVGCeiT``): MPVG's term
``c = mean_i LN''(pos_k)_i`` is added after the Last LN of the one LCA token, already a
constant vector; the head bias takes ``W c + b`` the same way.

The backbone interface
----------------------
Folding reads a backbone only through this interface (:class:`FoldableBackbone`;
``MPVGViT`` (and its ``MPVGViTAdapter``), ``MPVGSwin``, ``MPVGCeiT`` and ``MPVGT2TViT``
provide it; a new backbone plugs in by providing it too, nothing here names a backbone
class):

* ``pe``: its :class:`~mpvg_mm.models.pos_embed.LayerwisePositionEmbedding`;
  ``pe.last_norm`` is ``LN''`` (None: no Last-LN PE, nothing to fold) and ``pe.structure``
  the :class:`~mpvg_mm.models.pos_embed.PEStructure` (the folded model's is the same with
  ``last_ln_pos=None``); the state-dict keys ``backbone.pe.last_norm.*`` are dropped.
* ``pooled_last_ln_pe(neck) -> (D,)``: ``c̄``, the Last-LN PE term (``plan.last``) of a
  pass at the backbone's own PE grid, averaged over its tokens: what the linear head sees
  of it when the classifier's output (backbone, then ``neck``, the classifier's neck or
  None) globally average-pools the Last-LN output. It raises ValueError (naming the
  setting to change) when the output is not pooled that way: the term is then not a
  constant of the head's input.
* ``fold_img_size() -> (H, W)``: the input size in pixels whose token grid is the PE grid
  ``c̄`` is computed at (see :func:`fold_img_size`).

The ViT-like backbones share :func:`~mpvg_mm.models.backbones.mpvg_vit.gap_last_ln_pe`
(``out_type='avg_featmap'``, no neck).
"""
import dataclasses
from typing import Optional, Protocol, Tuple, runtime_checkable

import torch
import torch.nn as nn

__all__ = ['FoldableBackbone', 'fold_last_ln_pe', 'configure_folded', 'fold_img_size',
           'pipeline_img_size', 'fold_size_mismatch']


@runtime_checkable
class FoldableBackbone(Protocol):
    """What folding reads of a backbone (see the module docstring, "The backbone
    interface"); ``isinstance(backbone, FoldableBackbone)`` checks the names."""

    pe: nn.Module

    def pooled_last_ln_pe(self, neck: Optional[nn.Module]) -> torch.Tensor:
        ...

    def fold_img_size(self) -> Tuple[int, int]:
        ...


def fold_last_ln_pe(classifier: nn.Module) -> Tuple[dict, dict]:
    """Fold ``LN''`` of an ``ImageClassifier(MPVGViT, MPVGSwin, MPVGCeiT or MPVGT2TViT,
    LinearClsHead)`` into the head bias.

    Returns:
        ``(state_dict, backbone_update)``: the folded classifier's state dict and the
        backbone config change that builds the matching model
        (``pe_cfg.last_ln_pos=None``).
    """
    backbone = getattr(classifier, 'backbone', None)
    if not isinstance(backbone, FoldableBackbone) or backbone.pe.last_norm is None:
        raise ValueError('folding needs an ImageClassifier whose backbone provides the '
                         'folding interface (MPVGViT, MPVGSwin, MPVGCeiT, MPVGT2TViT) with '
                         "the PE in the Last LN (pe_mode='mpvg' or last_ln_pos set).")
    fc = getattr(getattr(classifier, 'head', None), 'fc', None)
    if not isinstance(fc, nn.Linear):
        raise ValueError('folding needs a linear head (LinearClsHead: head.fc).')
    with torch.no_grad():
        mean_pe = backbone.pooled_last_ln_pe(getattr(classifier, 'neck', None))  # (D,)
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
    the soft splits give that grid). The backbone's ``fold_img_size()`` (the module
    docstring's interface)."""
    return backbone.fold_img_size()


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
