"""Counterbalancing diagnostics of an MPVG backbone (the paper's Fig. 2, 4, 6 and 7).

Notation: ``L`` blocks (over all stages), ``T_l`` tokens and ``D_l`` channels at block
``l`` (``N`` patches, plus the class token when the model has one; one ``T, D`` for a
plain ViT, one per stage for Swin), ``B`` images.

The backbone interface
----------------------
The diagnostics read a backbone only through this interface (:class:`CounterbalanceBackbone`;
``MPVGViT``, its ``MPVGViTAdapter``, ``MPVGSwin``, ``MPVGCeiT`` and ``MPVGT2TViT`` provide
it; a new backbone plugs in by providing it too, nothing here names a backbone class):

* ``pe``: its :class:`~mpvg_mm.models.pos_embed.LayerwisePositionEmbedding`, called once
  per forward pass as ``pe(pos_0[, transition, grid])``: ``pos_0`` ``(1, T_0, D_0)`` is
  the learnable PE resampled to this input's grid (with the class-token row when there is
  one); a staged backbone passes its stage ``transition`` and the stage-1 ``grid``. Its
  output is the pass's :class:`~mpvg_mm.models.pos_embed.PEPlan`: ``plan.blocks[l]``
  (``(1, T_l, D_l)`` or None), the PE block ``l`` adds to ``LN1_l(x_l)``, and
  ``plan.last`` (or None), MPVG's PE term ``LN''(pos_k)`` added after the Last LN.
  ``pe.input_pe_at_blocks`` (same arguments) gives ``pos_0`` carried to each block's
  stage (through the transitions, no ``LN'``).
* ``counterbalance_norms() -> (block_norms, last_norm)``: the ``L`` modules whose output
  is ``LN1_l(x_l)`` (the norm block ``l``'s layer-wise PE is added to), in block order,
  and the Last LN, whose input is the token map after the last block ``x_L`` and whose
  output ``plan.last`` is added to; it raises ValueError (naming the fix) when the
  backbone has no Last LN. The Last LN is an ``nn.LayerNorm`` (``weight``, ``bias``).
* ``pe_mode`` (str) and ``num_extra_tokens`` (leading non-patch tokens: 1 with a class
  token, 0 for GAP ViTs and Swin).

The backbone must run ``pe`` before the blocks and may call the Last LN more than once
per pass on the same tokens (only the first call counts).

What is recorded (forward hooks on the backbone's own forward, so wrappers such as
``MPVGViTAdapter``, whose injectors change the tokens between blocks, are measured as
they run):

* ``LN1_l(x_l)``: the output of block ``l``'s first norm, ``(B, T_l, D_l)``, averaged over
  the images -> ``token_mean[l]`` of shape ``(T_l, D_l)``.
* ``pos_0`` (the first argument of ``pe``) and the :class:`PEPlan` (its output); the
  reference ``input_pe[l]`` = ``pe.input_pe_at_blocks(...)[l]``: ``pos_0`` itself in a
  plain ViT, ``pos_0`` through the stage mergings in Swin (the input PE as block ``l``'s
  residual stream carries it, merged with the tokens).
* The Last LN: its input ``x_L`` and output ``LN(x_L)``, ``(B, T_L, D_L)`` (only its first
  call per forward pass counts; the adapter calls it twice on the same tokens), and
  MPVG's ``LN''(pos_k)`` = ``plan.last``.

What is compared (:func:`summarize`):

* ``correlation[l]`` (Fig. 4): Pearson's r between ``token_mean[l]`` and the reference PE
  ``pos_ref[l]``, both ``(T_l, D_l)`` flattened (class-token row included when there is
  one). ``pos_ref[l]`` is ``plan.blocks[l]`` (the PE block ``l`` adds to ``LN1_l(x_l)``)
  when the block takes a layer-wise PE (``pe_source[l] == 'layerwise'``). Blocks without
  one (every Default block, PVG/MPVG block 0 in a ViT) see the PE only through the
  residual stream, where ``pos_0`` was added before block 0: they are compared with
  ``input_pe[l]`` (``pe_source[l] == 'input'``). A block that sees no PE at all (input PE
  off and no layer-wise PE) gets ``None`` (``pe_source[l] == 'none'``). Negative values
  mean the token embedding cancels the PE it receives ("counterbalancing").
* ``correlation_vs_pos0[l]``: the same r against ``input_pe[l]`` (``pos_0``, merged to
  block ``l``'s stage in Swin) for every block, a reference comparable across structures.
* ``last_ln``: gamma and beta of the Last LN, their means and population variances
  (``var(beta)``: the paper reports PVG 0.2387, MPVG 0.0193 on DeiT).
* ``cosine``: per image, the cosine similarity between the token average of the patch
  tokens before the Last LN (``mean_t x_L``) and after it (``mean_t LN(x_L)``, and, for
  models with the Last-LN PE, ``mean_t (LN(x_L) + LN''(pos))``); mean and std over images.
* ``token_norms``: per token, the L2 norm over channels of ``x_L``, ``LN(x_L)`` and
  ``LN(x_L) + LN''(pos)``, averaged over images: lists of ``T_L`` floats.
* ``num_tokens`` / ``embed_dims``: ``T_L`` / ``D_L`` (the Last LN's); ``layer_shapes``:
  ``[T_l, D_l]`` per block.

CeiT (``MPVGCeiT``): the per-layer numbers are the same (its blocks' ``norm1``, its
``LN'`` chain); its Last LN normalises the one LCA output, so the Last-LN statistics have
``T = 1`` (that token) and MPVG's term there is ``c = mean_i LN''(pos_k)_i``.

Undefined numbers (a constant input to Pearson's r, a missing PE) are ``None`` in the
summary, never NaN, so the summary serialises to JSON with finite floats only.

This module computes and returns numbers; the plots, files and command line are
``tools/analysis_tools/pe_counterbalance.py``.
"""
import math
from typing import Dict, Iterable, List, Optional, Protocol, Tuple, Union, runtime_checkable

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['CounterbalanceBackbone', 'pearson', 'find_backbone', 'collect_layer_stats', 'reference_pe', 'summarize',
           'analyze_model']


# --------------------------------------------------------------------------- numbers
def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson's correlation coefficient of two tensors of equal size, flattened.

    Computed in float64. Returns NaN when either input is constant (undefined r).
    """
    a = a.detach().reshape(-1).double().cpu()
    b = b.detach().reshape(-1).double().cpu()
    if a.numel() != b.numel():
        raise ValueError(f'pearson needs tensors of equal size, got {a.numel()} and '
                         f'{b.numel()} elements.')
    a, b = a - a.mean(), b - b.mean()
    denom = a.norm() * b.norm()
    if denom <= 0:
        return float('nan')
    return float((a @ b) / denom)


def _finite_or_none(value: float) -> Optional[float]:
    value = float(value)
    return value if math.isfinite(value) else None


def _floats(t: torch.Tensor) -> List[float]:
    return [float(v) for v in t.detach().double().cpu().reshape(-1)]


# --------------------------------------------------------------------------- recording
@runtime_checkable
class CounterbalanceBackbone(Protocol):
    """What the diagnostics read of a backbone (see the module docstring, "The backbone
    interface"); ``isinstance(backbone, CounterbalanceBackbone)`` checks the names."""

    pe: nn.Module
    pe_mode: str
    num_extra_tokens: int

    def counterbalance_norms(self) -> Tuple[List[nn.Module], nn.Module]:
        ...


def find_backbone(model: nn.Module) -> nn.Module:
    """``model.backbone`` for classifiers/detectors/segmentors, else ``model`` itself.

    Raises:
        TypeError: the backbone does not provide :class:`CounterbalanceBackbone`.
        ValueError: a backbone without the Last LN (its ``counterbalance_norms`` says why,
            e.g. an ``MPVGViT`` with ``final_norm`` 'pe'/'none').
    """
    backbone = getattr(model, 'backbone', model)
    if not isinstance(backbone, CounterbalanceBackbone):
        raise TypeError(f'the diagnostics need a backbone with the counterbalance interface '
                        f'(pe, pe_mode, num_extra_tokens, counterbalance_norms(): MPVGViT, '
                        f'MPVGViTAdapter, MPVGSwin, MPVGCeiT, MPVGT2TViT), got {type(backbone).__name__}.')
    backbone.counterbalance_norms()  # raises when there is no Last LN
    return backbone


class _Recorder:
    """Forward hooks that sum the per-layer quantities over the images of a batch."""

    def __init__(self, backbone: nn.Module):
        self.backbone = backbone
        self.handles = []
        self.block_norms, self.last_norm = backbone.counterbalance_norms()
        self.token_sum: List[Optional[torch.Tensor]] = [None] * len(self.block_norms)
        self.plan = None
        self.pos_0 = None
        self.input_pe = None
        self.last_calls: List[tuple] = []

    def __enter__(self):
        self.handles.append(self.backbone.pe.register_forward_hook(self._on_pe,
                                                                   with_kwargs=True))
        for i, norm in enumerate(self.block_norms):
            self.handles.append(norm.register_forward_hook(self._on_norm1(i)))
        self.handles.append(self.last_norm.register_forward_hook(self._on_last_norm))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles.clear()

    def _on_pe(self, module, args, kwargs, plan):
        self.pos_0 = args[0].detach()[0].float()
        if self.input_pe is None:  # the same for every batch of one image size
            self.input_pe = [p.detach()[0].float()
                             for p in module.input_pe_at_blocks(*args, **kwargs)]
        self.plan = plan
        self.last_calls = []

    def _on_norm1(self, index):

        def hook(module, inputs, output):
            s = output.detach().float().sum(0)
            prev = self.token_sum[index]
            self.token_sum[index] = s if prev is None else prev + s

        return hook

    def _on_last_norm(self, module, inputs, output):
        if not self.last_calls:  # the adapter calls the Last LN twice on the same tokens
            self.last_calls.append((inputs[0].detach().float(), output.detach().float()))


@torch.no_grad()
def collect_layer_stats(backbone: nn.Module,
                        images: Union[torch.Tensor, Iterable[torch.Tensor]],
                        batch_size: Optional[int] = None) -> Dict[str, object]:
    """Run ``backbone`` (eval mode) on preprocessed images and record the diagnostics.

    Args:
        backbone: a :class:`CounterbalanceBackbone` (``MPVGViT``, ``MPVGSwin``, ...).
        images: ``(B, 3, H, W)`` or an iterable of such batches; every batch must give
            the same size (batches of another size are skipped with a warning: the token
            maps are averaged position by position).
        batch_size: split a single tensor into chunks of this many images.

    Returns:
        A dict of tensors (``T_l`` tokens and ``D_l`` channels at block ``l``, ``L``
        blocks, ``T_L, D_L`` the Last LN's):
        ``token_mean``: batch mean of ``LN1_l(x_l)``, a ``(L, T, D)`` tensor when every
        block has the same token map (plain ViTs), else a list of ``L`` ``(T_l, D_l)``
        (staged backbones such as Swin);
        ``pos`` list of ``L`` ``(T_l, D_l)`` or None: ``plan.blocks[l]``;
        ``pos_0`` ``(T_0, D_0)``; ``input_pe`` list of ``L`` ``(T_l, D_l)``: ``pos_0``
        carried to block ``l``'s stage; ``last_pe`` ``(T_L, D_L)`` or None: ``LN''(pos_k)``;
        ``last_in_mean`` / ``last_out_mean`` ``(T_L, D_L)``: batch means of ``x_L`` /
        ``LN(x_L)``; ``norm_before`` / ``norm_after`` / ``norm_after_pe`` ``(T_L,)``:
        per-token L2 norms averaged over images (the last is None without a Last-LN PE);
        ``cosine`` / ``cosine_pe`` ``(B,)``: per image cosine between the patch-token
        averages before and after the Last LN (without / with the Last-LN PE);
        ``num_images``, ``num_extra_tokens``, ``image_size`` ``(H, W)``.
    """
    was_training = backbone.training
    backbone.eval()
    if isinstance(images, torch.Tensor):
        step = batch_size or images.shape[0]
        batches = [images[i:i + step] for i in range(0, images.shape[0], step)]
    else:
        batches = images
    device = next(backbone.parameters()).device
    acc: Dict[str, object] = {}
    num_images, image_size = 0, None
    cos, cos_pe = [], []
    try:
        with _Recorder(backbone) as rec:
            for batch in batches:
                batch = batch.to(device=device, dtype=next(backbone.parameters()).dtype)
                if image_size is not None and tuple(batch.shape[-2:]) != image_size:
                    from mmengine.logging import print_log
                    print_log(f'skipping a batch of size {tuple(batch.shape[-2:])}: the '
                              f'token maps are averaged over images of the first batch\'s '
                              f'size {image_size}', logger='current', level=30)
                    continue
                image_size = tuple(batch.shape[-2:])
                backbone(batch)
                x_in, x_out = rec.last_calls[0]
                last_pe, extra = rec.plan.last, backbone.num_extra_tokens
                if x_in.dim() == 2:  # CeiT: the Last LN normalises the one LCA token
                    x_in, x_out, extra = x_in[:, None], x_out[:, None], 0
                    last_pe = None if last_pe is None else \
                        last_pe[:, backbone.num_extra_tokens:].mean(1, keepdim=True)
                with_pe = None if last_pe is None else x_out + last_pe.float()
                _accumulate(acc, 'last_in_sum', x_in.sum(0))
                _accumulate(acc, 'last_out_sum', x_out.sum(0))
                _accumulate(acc, 'norm_before_sum', x_in.norm(dim=-1).sum(0))
                _accumulate(acc, 'norm_after_sum', x_out.norm(dim=-1).sum(0))
                gap_in = x_in[:, extra:].mean(1)
                cos.append(F.cosine_similarity(gap_in, x_out[:, extra:].mean(1), dim=-1))
                if with_pe is not None:
                    _accumulate(acc, 'norm_after_pe_sum', with_pe.norm(dim=-1).sum(0))
                    cos_pe.append(
                        F.cosine_similarity(gap_in, with_pe[:, extra:].mean(1), dim=-1))
                num_images += batch.shape[0]
    finally:
        backbone.train(was_training)
    if num_images == 0:
        raise ValueError('collect_layer_stats got no images.')
    plan = rec.plan
    n = float(num_images)
    token_mean = [(s / n).cpu() for s in rec.token_sum]
    if len({tuple(t.shape) for t in token_mean}) == 1:
        token_mean = torch.stack(token_mean)
    return dict(
        token_mean=token_mean,
        pos=[None if p is None else p.detach()[0].float().cpu() for p in plan.blocks],
        pos_0=rec.pos_0.cpu(),
        input_pe=[p.cpu() for p in rec.input_pe],
        last_pe=None if plan.last is None else plan.last.detach()[0].float().cpu(),
        last_in_mean=(acc['last_in_sum'] / n).cpu(),
        last_out_mean=(acc['last_out_sum'] / n).cpu(),
        norm_before=(acc['norm_before_sum'] / n).cpu(),
        norm_after=(acc['norm_after_sum'] / n).cpu(),
        norm_after_pe=(acc['norm_after_pe_sum'] / n).cpu() if cos_pe else None,
        cosine=torch.cat(cos).cpu(),
        cosine_pe=torch.cat(cos_pe).cpu() if cos_pe else None,
        num_images=num_images,
        num_extra_tokens=backbone.num_extra_tokens,
        image_size=image_size,
    )


def _accumulate(acc: dict, key: str, value: torch.Tensor) -> None:
    acc[key] = value if key not in acc else acc[key] + value


# --------------------------------------------------------------------------- summary
def reference_pe(stats: dict, backbone: nn.Module) -> List[tuple]:
    """Per block ``(source, pe)``: ``('layerwise', pos_l)``, ``('input', input_pe[l])``
    (``pos_0``, carried to block ``l``'s stage) or ``('none', None)`` (see the module
    docstring)."""
    input_pe = backbone.pe.structure.input_pe
    refs = []
    for pos, carried in zip(stats['pos'], stats['input_pe']):
        if pos is not None:
            refs.append(('layerwise', pos))
        elif input_pe:
            refs.append(('input', carried))
        else:
            refs.append(('none', None))
    return refs


def _mean_std(values: Optional[torch.Tensor]) -> Optional[dict]:
    if values is None:
        return None
    v = values.double()
    std = float(v.std(unbiased=False)) if v.numel() > 1 else 0.0
    return dict(mean=float(v.mean()), std=std)


def summarize(stats: dict, backbone: nn.Module) -> dict:
    """The JSON-ready numbers of :func:`collect_layer_stats` (see the module docstring)."""
    refs = reference_pe(stats, backbone)
    correlation = [None if pe is None else _finite_or_none(pearson(tok, pe))
                   for tok, (_, pe) in zip(stats['token_mean'], refs)]
    vs_pos0 = [_finite_or_none(pearson(tok, ref))
               for tok, ref in zip(stats['token_mean'], stats['input_pe'])]
    last_norm = backbone.counterbalance_norms()[1]
    gamma, beta = last_norm.weight.detach().double(), last_norm.bias.detach().double()
    structure = backbone.pe.structure
    out = dict(
        pe_mode=backbone.pe_mode,
        structure=dict(input_pe=structure.input_pe, layerwise_from=structure.layerwise_from,
                       hierarchical=structure.hierarchical,
                       last_ln_pos=structure.last_ln_pos),
        with_cls_token=bool(backbone.num_extra_tokens),
        num_layers=len(stats['token_mean']),
        num_tokens=int(stats['last_in_mean'].shape[0]),
        embed_dims=int(stats['last_in_mean'].shape[1]),
        layer_shapes=[[int(n) for n in tok.shape] for tok in stats['token_mean']],
        num_images=int(stats['num_images']),
        correlation=correlation,
        pe_source=[source for source, _ in refs],
        correlation_vs_pos0=vs_pos0,
        last_ln=dict(gamma=_floats(gamma), beta=_floats(beta),
                     gamma_mean=float(gamma.mean()), beta_mean=float(beta.mean()),
                     gamma_var=float(gamma.var(unbiased=False)),
                     beta_var=float(beta.var(unbiased=False))),
        cosine=dict(without_last_pe=_mean_std(stats['cosine']),
                    with_last_pe=_mean_std(stats['cosine_pe'])),
        token_norms=dict(
            before_last_ln=_floats(stats['norm_before']),
            after_last_ln=_floats(stats['norm_after']),
            after_last_ln_with_pe=(None if stats['norm_after_pe'] is None else
                                   _floats(stats['norm_after_pe'])),
        ),
    )
    if stats['last_pe'] is not None:
        out['last_pe_norm_mean'] = float(stats['last_pe'].norm(dim=-1).mean())
    return out


@torch.no_grad()
def analyze_model(model: nn.Module, data_batches: Iterable[dict], num_images: int = 64,
                  device: Optional[Union[str, torch.device]] = None) -> dict:
    """Preprocess dataloader batches with ``model.data_preprocessor`` and collect stats.

    ``model`` is any OpenMMLab model with ``.backbone`` (a :class:`CounterbalanceBackbone`) and
    ``.data_preprocessor`` (classifier, detector, segmentor); at most ``num_images``
    images are used. Returns :func:`collect_layer_stats`' dict.
    """
    backbone = find_backbone(model)
    if device is not None:
        model.to(device)

    def image_batches():
        remaining = num_images
        for data in data_batches:
            if remaining <= 0:
                return
            inputs = model.data_preprocessor(data, False)['inputs']
            yield inputs[:remaining]
            remaining -= inputs.shape[0]

    return collect_layer_stats(backbone, image_batches())
