"""Counterbalancing diagnostics of an :class:`MPVGViT` (the paper's Fig. 2, 4, 6 and 7).

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

Undefined numbers (a constant input to Pearson's r, a missing PE) are ``None`` in the
summary, never NaN, so ``diagnostics.json`` holds finite floats only.
"""
import argparse
import csv
import importlib
import json
import math
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['pearson', 'collect_layer_stats', 'summarize', 'analyze_model', 'write_report',
           'find_backbone', 'main']


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
    """``model.backbone`` for classifiers/detectors/segmentors, else ``model`` itself."""
    from mpvg_mm.models import MPVGViT
    backbone = getattr(model, 'backbone', model)
    if not isinstance(backbone, MPVGViT):
        raise TypeError(f'the diagnostics need an MPVGViT backbone (or a subclass), got '
                        f'{type(backbone).__name__}.')
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
    extra = backbone.num_extra_tokens
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
                last_pe = rec.plan.last
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
        num_extra_tokens=extra,
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


# --------------------------------------------------------------------------- report
def _heatmap(ax, data: torch.Tensor, title: str) -> None:
    limit = float(data.abs().max()) or 1.0  # symmetric colour scale: white is 0
    im = ax.imshow(data.numpy(), aspect='auto', cmap='coolwarm', interpolation='nearest',
                   vmin=-limit, vmax=limit)
    ax.set_title(title, fontsize=8)
    ax.set_xlabel('channel', fontsize=7)
    ax.set_ylabel('token', fontsize=7)
    ax.tick_params(labelsize=6)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.02)


def _plot_correlation(summary: dict, path: str, plt) -> None:
    layers = list(range(summary['num_layers']))
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(layers, [math.nan if c is None else c for c in summary['correlation']], 'o-',
            label='LN1(x_l) vs PE block l receives')
    ax.plot(layers, [math.nan if c is None else c for c in summary['correlation_vs_pos0']],
            's--', alpha=0.6, label='LN1(x_l) vs pos_0')
    ax.axhline(0, color='k', lw=0.5)
    ax.set_xticks(layers)
    ax.set_xlabel('layer')
    ax.set_ylabel('Pearson r')
    ax.set_title(f"token embedding vs PE ({summary['pe_mode']})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_heatmaps(stats: dict, summary: dict, path: str, plt) -> None:
    L = summary['num_layers']
    fig, axes = plt.subplots(L + 1, 2, figsize=(9, 2.4 * (L + 1)), squeeze=False)
    refs = summary['pe_source']
    for l in range(L):
        _heatmap(axes[l][0], stats['token_mean'][l], f'layer {l}: LN1(x_{l}), image mean')
        if refs[l] == 'layerwise':
            _heatmap(axes[l][1], stats['pos'][l], f'layer {l}: pos_{l} (layer-wise PE)')
        elif refs[l] == 'input':
            _heatmap(axes[l][1], stats['pos_0'], f'layer {l}: pos_0 (input PE; no '
                     'layer-wise PE here)')
        else:
            axes[l][1].axis('off')
    _heatmap(axes[L][0], stats['last_out_mean'], 'output: LN(x_L)')
    if stats['last_pe'] is not None:
        _heatmap(axes[L][1], stats['last_out_mean'] + stats['last_pe'],
                 "output: LN(x_L) + LN''(pos)")
    else:
        axes[L][1].axis('off')
    # fixed margins: tight_layout on (L + 1) x 2 axes with colorbars costs seconds
    fig.subplots_adjust(left=0.07, right=0.94, bottom=0.6 / (2.4 * (L + 1)),
                        top=1 - 0.5 / (2.4 * (L + 1)), hspace=0.55, wspace=0.25)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plot_last_ln(summary: dict, path: str, plt) -> None:
    ln = summary['last_ln']
    fig, axes = plt.subplots(2, 1, figsize=(6, 4.5), sharex=True)
    axes[0].plot(ln['gamma'], lw=0.8)
    axes[0].set_title(f"Last LN gamma (var {ln['gamma_var']:.4f})", fontsize=9)
    axes[1].plot(ln['beta'], lw=0.8, color='tab:orange')
    axes[1].set_title(f"Last LN beta (var {ln['beta_var']:.4f})", fontsize=9)
    axes[1].set_xlabel('channel')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_norms_and_cosine(stats: dict, summary: dict, path: str, plt) -> None:
    norms = summary['token_norms']
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    axes[0].plot(norms['before_last_ln'], label='x_L (before Last LN)')
    axes[0].plot(norms['after_last_ln'], label='LN(x_L)')
    if norms['after_last_ln_with_pe'] is not None:
        axes[0].plot(norms['after_last_ln_with_pe'], label="LN(x_L) + LN''(pos)")
    axes[0].set_xlabel('token')
    axes[0].set_ylabel('L2 norm (image mean)')
    axes[0].legend(fontsize=7)
    axes[0].set_title('per-token norms', fontsize=9)
    bins = 20
    axes[1].hist(stats['cosine'].numpy(), bins=bins, alpha=0.7, label='mean x_L vs mean LN(x_L)')
    if stats['cosine_pe'] is not None:
        axes[1].hist(stats['cosine_pe'].numpy(), bins=bins, alpha=0.7,
                     label="mean x_L vs mean (LN(x_L) + LN''(pos))")
    axes[1].set_xlabel('cosine similarity (per image, patch-token average)')
    axes[1].legend(fontsize=7)
    axes[1].set_title('token average before vs after the Last LN', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(stats: dict, backbone: nn.Module, out_dir: str,
                 extra: Optional[dict] = None) -> dict:
    """Write the plots, ``correlation.csv``, ``heatmaps.npz`` and ``diagnostics.json``.

    Returns the summary written to ``diagnostics.json`` (``extra`` is merged into it).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    os.makedirs(out_dir, exist_ok=True)
    summary = summarize(stats, backbone)
    if extra:
        summary.update(extra)
    _plot_correlation(summary, osp.join(out_dir, 'correlation.png'), plt)
    _plot_heatmaps(stats, summary, osp.join(out_dir, 'heatmaps.png'), plt)
    _plot_last_ln(summary, osp.join(out_dir, 'last_ln.png'), plt)
    _plot_norms_and_cosine(stats, summary, osp.join(out_dir, 'token_norms_cosine.png'), plt)
    with open(osp.join(out_dir, 'correlation.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['layer', 'pe_source', 'correlation', 'correlation_vs_pos0'])
        for l, (src, c, c0) in enumerate(zip(summary['pe_source'], summary['correlation'],
                                             summary['correlation_vs_pos0'])):
            writer.writerow([l, src, '' if c is None else f'{c:.6f}',
                             '' if c0 is None else f'{c0:.6f}'])
    arrays = dict(token_mean=stats['token_mean'].numpy(), pos_0=stats['pos_0'].numpy(),
                  last_out_mean=stats['last_out_mean'].numpy(),
                  last_in_mean=stats['last_in_mean'].numpy())
    for l, pos in enumerate(stats['pos']):
        if pos is not None:
            arrays[f'pos_{l}'] = pos.numpy()
    if stats['last_pe'] is not None:
        arrays['last_pe'] = stats['last_pe'].numpy()
    np.savez_compressed(osp.join(out_dir, 'heatmaps.npz'), **arrays)
    with open(osp.join(out_dir, 'diagnostics.json'), 'w') as f:
        json.dump(summary, f, indent=1, allow_nan=False)
    return summary


# --------------------------------------------------------------------------- CLI
def build_model_from_config(cfg) -> nn.Module:
    """Build ``cfg.model`` in the registry of ``cfg.default_scope`` (mmpretrain, mmdet,
    mmseg)."""
    import mpvg_mm  # noqa: F401  (registers MPVGViT in every scope)
    from mmengine.registry import init_default_scope
    scope = cfg.get('default_scope', 'mmpretrain')
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry')
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:  # the Runner merges it the same way
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    return registry.MODELS.build(model_cfg)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(
        description='PE counterbalancing diagnostics (paper Fig. 2, 4, 6-7) of a checkpoint')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--num-images', type=int, default=64,
                        help='images of the val dataloader to average over')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--no-strict', action='store_true',
                        help='load the checkpoint with strict=False')
    parser.add_argument('--cfg-options', nargs='+', action=_dict_action(),
                        help='override config entries, key=value')
    args = parser.parse_args(argv)

    from mmengine.config import Config
    from mmengine.runner import Runner, load_checkpoint
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model_from_config(cfg)
    load_checkpoint(model, args.checkpoint, map_location='cpu', strict=not args.no_strict)
    model.to(args.device).eval()
    loader = Runner.build_dataloader(cfg.val_dataloader)
    stats = analyze_model(model, loader, num_images=args.num_images)
    summary = write_report(stats, find_backbone(model), args.out_dir,
                           extra=dict(config=args.config, checkpoint=args.checkpoint))
    print(format_correlation(summary))
    print(f'wrote {args.out_dir}/diagnostics.json and plots')
    return summary


def format_correlation(summary: dict) -> str:
    """One line per layer: ``layer, PE source, r, r vs pos_0``."""
    lines = [f"{summary['pe_mode']}: layer  pe_source   r(LN1(x_l), pos_ref)  r(., pos_0)"]
    for l, (src, c, c0) in enumerate(zip(summary['pe_source'], summary['correlation'],
                                         summary['correlation_vs_pos0'])):
        fmt = lambda v: '   n/a' if v is None else f'{v:+.4f}'  # noqa: E731
        lines.append(f'  {l:5d}  {src:10s}  {fmt(c):>20s}  {fmt(c0):>10s}')
    ln = summary['last_ln']
    lines.append(f"  Last LN: var(gamma)={ln['gamma_var']:.4f} var(beta)={ln['beta_var']:.4f}")
    return '\n'.join(lines)


def _dict_action():
    from mmengine.config import DictAction
    return DictAction
