"""Counterbalancing diagnostics of an :class:`MPVGViT` or ``MPVGCeiT`` (the paper's Fig. 2, 4, 6 and 7).

Notation: ``L`` blocks, ``T`` tokens per image (``N`` patches, plus the class token when
the model has one), ``D`` channels, ``B`` images.

What is recorded (forward hooks on the backbone's own forward, so wrappers such as
``MPVGViTAdapter``, whose injectors change the tokens between blocks, are measured as
they run):

* ``LN1_l(x_l)``: the output of ``blocks[l].norm1``, ``(B, T, D)``, averaged over the
  images -> ``token_mean[l]`` of shape ``(T, D)``.
* ``pos_0``: the input of ``backbone.pe``, i.e. the learnable PE resampled to the input's
  patch grid, ``(T, D)``; the :class:`PEPlan` is the output of ``backbone.pe``.
* The Last LN (``backbone.norm``): its input ``x_L`` and output ``LN(x_L)``, ``(B, T, D)``
  (only its first call per forward pass counts; the adapter calls it twice on the same
  tokens), and MPVG's ``LN''(pos_k)`` = ``plan.last``.

What is compared (:func:`summarize`):

* ``correlation[l]`` (Fig. 4): Pearson's r between ``token_mean[l]`` and the reference PE
  ``pos_ref[l]``, both ``(T, D)`` flattened (class-token row included when there is one).
  ``pos_ref[l]`` is ``plan.blocks[l]`` (the PE block ``l`` adds to ``LN1_l(x_l)``) when
  the block takes a layer-wise PE (``pe_source[l] == 'layerwise'``). Blocks without one
  (every Default block, PVG/MPVG block 0) see the PE only through the residual stream,
  where ``pos_0`` was added before block 0: they are compared with ``pos_0``
  (``pe_source[l] == 'input'``). A block that sees no PE at all (input PE off and no
  layer-wise PE) gets ``None`` (``pe_source[l] == 'none'``). Negative values mean the
  token embedding cancels the PE it receives ("counterbalancing").
* ``correlation_vs_pos0[l]``: the same r against ``pos_0`` for every block, a reference
  that is comparable across structures.
* ``last_ln``: gamma and beta of the Last LN, their means and population variances
  (``var(beta)``: the paper reports PVG 0.2387, MPVG 0.0193).
* ``cosine``: per image, the cosine similarity between the token average of the patch
  tokens before the Last LN (``mean_t x_L``) and after it (``mean_t LN(x_L)``, and, for
  models with the Last-LN PE, ``mean_t (LN(x_L) + LN''(pos))``); mean and std over images.
* ``token_norms``: per token, the L2 norm over channels of ``x_L``, ``LN(x_L)`` and
  ``LN(x_L) + LN''(pos)``, averaged over images: lists of ``T`` floats.

CeiT (``MPVGCeiT``): the per-layer numbers are the same (its blocks' ``norm1``, its
``LN'`` chain); its Last LN normalises the one LCA output, so the Last-LN statistics have
``T = 1`` (that token) and MPVG's term there is ``c = mean_i LN''(pos_k)_i``.

Undefined numbers (a constant input to Pearson's r, a missing PE) are ``None`` in the
summary, never NaN, so the summary serialises to JSON with finite floats only.

This module computes and returns numbers; the plots, files and command line are
``tools/analysis_tools/pe_counterbalance.py``.
"""
import math
from typing import Dict, Iterable, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['pearson', 'find_backbone', 'collect_layer_stats', 'reference_pe', 'summarize',
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
def find_backbone(model: nn.Module) -> nn.Module:
    """``model.backbone`` for classifiers/detectors/segmentors, else ``model`` itself.

    Raises:
        TypeError: not an ``MPVGViT`` or ``MPVGCeiT``.
        ValueError: an ``MPVGViT`` built without the Last LN (``final_norm`` 'pe'/'none').
    """
    from mpvg_mm.models import MPVGCeiT, MPVGViT
    backbone = getattr(model, 'backbone', model)
    if not isinstance(backbone, (MPVGViT, MPVGCeiT)):
        raise TypeError(f'the diagnostics need an MPVGViT or MPVGCeiT backbone (or a '
                        f'subclass), got {type(backbone).__name__}.')
    if backbone.norm is None:
        raise ValueError(
            f'the diagnostics read the Last LN, which this backbone does not have '
            f'(final_norm={backbone.final_norm!r}): run them on the classifier checkpoint '
            'it was fine-tuned from.')
    return backbone


class _Recorder:
    """Forward hooks that sum the per-layer quantities over the images of a batch."""

    def __init__(self, backbone: nn.Module):
        self.backbone = backbone
        self.handles = []
        self.token_sum: List[Optional[torch.Tensor]] = [None] * backbone.num_layers
        self.plan = None
        self.pos_0 = None
        self.last_calls: List[tuple] = []

    def __enter__(self):
        bb = self.backbone
        self.handles.append(bb.pe.register_forward_hook(self._on_pe))
        for i, block in enumerate(bb.blocks):
            self.handles.append(block.norm1.register_forward_hook(self._on_norm1(i)))
        self.handles.append(bb.norm.register_forward_hook(self._on_last_norm))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles.clear()

    def _on_pe(self, module, inputs, plan):
        self.pos_0 = inputs[0].detach()[0].float()
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
        backbone: an :class:`MPVGViT` (or subclass).
        images: ``(B, 3, H, W)`` or an iterable of such batches; every batch must give
            the same size (batches of another size are skipped with a warning: the token
            maps are averaged position by position).
        batch_size: split a single tensor into chunks of this many images.

    Returns:
        A dict of tensors (``T`` tokens, ``D`` channels, ``L`` blocks):
        ``token_mean`` ``(L, T, D)``: batch mean of ``LN1_l(x_l)``;
        ``pos`` list of ``L`` ``(T, D)`` or None: ``plan.blocks[l]``;
        ``pos_0`` ``(T, D)``; ``last_pe`` ``(T, D)`` or None: ``LN''(pos_k)``;
        ``last_in_mean`` / ``last_out_mean`` ``(T, D)``: batch means of ``x_L`` /
        ``LN(x_L)``; ``norm_before`` / ``norm_after`` / ``norm_after_pe`` ``(T,)``:
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
    return dict(
        token_mean=torch.stack([s / n for s in rec.token_sum]).cpu(),
        pos=[None if p is None else p.detach()[0].float().cpu() for p in plan.blocks],
        pos_0=rec.pos_0.cpu(),
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
    """Per block ``(source, pe)``: ``('layerwise', pos_l)``, ``('input', pos_0)`` or
    ``('none', None)`` (see the module docstring)."""
    input_pe = backbone.pe.structure.input_pe
    refs = []
    for pos in stats['pos']:
        if pos is not None:
            refs.append(('layerwise', pos))
        elif input_pe:
            refs.append(('input', stats['pos_0']))
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
    vs_pos0 = [_finite_or_none(pearson(tok, stats['pos_0'])) for tok in stats['token_mean']]
    gamma, beta = backbone.norm.weight.detach().double(), backbone.norm.bias.detach().double()
    structure = backbone.pe.structure
    out = dict(
        pe_mode=backbone.pe_mode,
        structure=dict(input_pe=structure.input_pe, layerwise_from=structure.layerwise_from,
                       hierarchical=structure.hierarchical,
                       last_ln_pos=structure.last_ln_pos),
        with_cls_token=bool(backbone.with_cls_token),
        num_layers=int(backbone.num_layers),
        num_tokens=int(stats['token_mean'].shape[1]),
        embed_dims=int(stats['token_mean'].shape[2]),
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

    ``model`` is any OpenMMLab model with ``.backbone`` (an MPVGViT) and
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
