"""PE counterbalancing diagnostics of a checkpoint (the paper's Fig. 2, 4, 6-7).

    python tools/analysis_tools/pe_counterbalance.py CONFIG CHECKPOINT --out-dir DIR \
        [--num-images 64] [--device cpu] [--no-strict] [--cfg-options k=v ...]

Works for mmpretrain classifiers, mmdet detectors and mmseg segmentors whose
``model.backbone`` has the diagnostics' backbone interface (MPVGViT, MPVGViTAdapter,
MPVGSwin; see :mod:`mpvg_mm.analysis.counterbalance`). Writes correlation.png/.csv,
heatmaps.png/.npz, last_ln.png, token_norms_cosine.png and diagnostics.json. The
definitions (what is recorded and compared) are :mod:`mpvg_mm.analysis.counterbalance`;
this script builds the model, feeds it the val dataloader and writes the report.
"""
import argparse
import csv
import json
import math
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.config import Config, DictAction
from mmengine.runner import Runner, load_checkpoint

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mpvg_mm.analysis.counterbalance import (analyze_model, find_backbone,  # noqa: E402
                                             summarize)
from mpvg_mm.registry import build_model  # noqa: E402


# --------------------------------------------------------------------------- plots
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
            merged = stats['input_pe'][l].shape != stats['pos_0'].shape
            _heatmap(axes[l][1], stats['input_pe'][l],
                     f'layer {l}: pos_0{" merged to this stage" if merged else ""} (input '
                     'PE; no layer-wise PE here)')
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


# --------------------------------------------------------------------------- files
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
    arrays = dict(pos_0=stats['pos_0'].numpy(),
                  last_out_mean=stats['last_out_mean'].numpy(),
                  last_in_mean=stats['last_in_mean'].numpy())
    if isinstance(stats['token_mean'], torch.Tensor):  # (L, T, D): one token map
        arrays['token_mean'] = stats['token_mean'].numpy()
    else:  # a staged backbone: token_mean_{l} (T_l, D_l), pos_0 merged to l's stage
        for l, (tokens, carried) in enumerate(zip(stats['token_mean'], stats['input_pe'])):
            arrays[f'token_mean_{l}'] = tokens.numpy()
            arrays[f'input_pe_{l}'] = carried.numpy()
    for l, pos in enumerate(stats['pos']):
        if pos is not None:
            arrays[f'pos_{l}'] = pos.numpy()
    if stats['last_pe'] is not None:
        arrays['last_pe'] = stats['last_pe'].numpy()
    np.savez_compressed(osp.join(out_dir, 'heatmaps.npz'), **arrays)
    with open(osp.join(out_dir, 'diagnostics.json'), 'w') as f:
        json.dump(summary, f, indent=1, allow_nan=False)
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


# --------------------------------------------------------------------------- CLI
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
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, key=value')
    args = parser.parse_args(argv)

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg)
    load_checkpoint(model, args.checkpoint, map_location='cpu', strict=not args.no_strict)
    model.to(args.device).eval()
    loader = Runner.build_dataloader(cfg.val_dataloader)
    stats = analyze_model(model, loader, num_images=args.num_images)
    summary = write_report(stats, find_backbone(model), args.out_dir,
                           extra=dict(config=args.config, checkpoint=args.checkpoint))
    print(format_correlation(summary))
    print(f'wrote {args.out_dir}/diagnostics.json and plots')
    return summary


if __name__ == '__main__':
    main()
