"""Throughput, peak memory, parameters and FLOPs of the PE presets against mmpretrain's
and timm's ViT: runs :func:`mpvg_mm.analysis.benchmark.run_benchmark` (the models and the
measurement protocol are in that module's docstring), prints one Markdown table per arch
and writes the results.

    python tools/analysis_tools/benchmark.py [--archs deit-tiny,deit-small,deit-base] \
        [--batch-size 64] [--img-size 224] [--iters 10] [--warmup 3] [--device cpu|cuda] \
        [--amp] [--threads N] [--num-classes 1000] [--matmul-size N] [--no-timm] \
        [--json OUT.json] [--markdown OUT.md] [--check-targets]
    # Swin's window attention: ours (SDPA) vs mmpretrain's WindowMSA (explicit softmax)
    python tools/analysis_tools/benchmark.py --window-attention [--batch-size 4] \
        [--device cpu|cuda] [--threads N]
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mpvg_mm.analysis.benchmark import (  # noqa: E402
    RATIO_BASES, check_speed_targets, count_config_complexity, run_benchmark,
    window_attention_benchmark)


# --------------------------------------------------------------------------- report
def _fmt(v, spec: str) -> str:
    return '-' if v is None else format(v, spec)


def format_markdown(results: dict) -> str:
    """One Markdown table per arch; ratio columns read ``vs default / vs mmpretrain /
    vs timm``. The params and GFLOPs headers name the input size they are counted at (the
    models are built for it: their PE tables' rows depend on it)."""
    s = results['settings']
    peaks = results['matmul_peak_flop_s']
    lines = [f"Benchmark: batch {s['batch_size']}, {s['img_size']}px, {s['device']}, "
             f"amp={s['amp']}, threads={s['threads']}, median of {s['iters']} iterations "
             f"after {s['warmup']} warm-up; matmul peak "
             + ', '.join(f'{k} {v / 1e9:.1f} GFLOP/s' for k, v in peaks.items())
             + f"; memory: {s['memory_method']}."]
    for arch, res in results['archs'].items():
        names = res.get('ratio_bases', RATIO_BASES)
        bases = [k for k in names if k in res['ratios']]
        ratio_head = ' / '.join(names[k] for k in bases)
        lines += ['', f'### {arch}', '',
                  f"| model | params (M) at {s['img_size']}px | GFLOPs (MACs) at "
                  f"{s['img_size']}px | fwd img/s | fwd+bwd img/s | "
                  'mem fwd (MiB) | mem fwd+bwd (MiB) | fwd % peak | fwd+bwd % peak | '
                  f'fwd x ({ratio_head}) | fwd+bwd x ({ratio_head}) |',
                  '|' + '---|' * 11]
        for name, m in res['models'].items():
            fwd_r = ' / '.join(_fmt(res['ratios'][k][name]['fwd_img_s'], '.3f') for k in bases)
            bwd_r = ' / '.join(_fmt(res['ratios'][k][name]['fwd_bwd_img_s'], '.3f')
                               for k in bases)
            lines.append(
                f"| {name} | {m['params'] / 1e6:.3f} | {m['flops'] / 1e9:.3f} | "
                f"{m['fwd_img_s']:.1f} | {m['fwd_bwd_img_s']:.1f} | "
                f"{_fmt(m['peak_mem_fwd_mb'], '.1f')} | {_fmt(m['peak_mem_fwd_bwd_mb'], '.1f')} | "
                f"{100 * m['fwd_frac_of_peak']:.1f} | {100 * m['fwd_bwd_frac_of_peak']:.1f} | "
                f'{fwd_r} | {bwd_r} |')
    return '\n'.join(lines) + '\n'


# --------------------------------------------------------------------------- CLI
def _parse_archs(text: str) -> List[str]:
    return [a.strip() for a in text.split(',') if a.strip()]


def config_complexity(configs: Sequence[str], shape=None) -> dict:
    """Prints and returns ``{config: {'params', 'flops', 'input_shape'}}``
    (:func:`mpvg_mm.analysis.benchmark.count_config_complexity`); mmseg 1.2.2's own
    ``get_flops.py`` fails on every config."""
    from mmengine.config import Config
    results = {}
    print(CONFIG_TABLE_HEAD, end='')
    for config in configs:
        r = results[config] = count_config_complexity(Config.fromfile(config),
                                                      tuple(shape) if shape else None)
        print(config_table_row(config, r), end='', flush=True)
    return results


CONFIG_TABLE_HEAD = ('| config | input (H x W) | params (M) | GFLOPs (MACs) |\n'
                     '|---|---|---|---|\n')


def format_window_attention(results: dict) -> str:
    """Markdown: per Swin-T stage, our window attention's speed over mmpretrain's."""
    s = results['settings']
    lines = [f"Window attention, FusedWindowMSA (SDPA) vs mmpretrain's WindowMSA, Swin-T "
             f"stage shapes, batch {s['batch_size']}, {s['device']}, threads={s['threads']}, torch {s['torch']}; median over "
             f"{s['iters']} paired rounds of mmpretrain's time / ours (> 1: ours faster)", '',
             '| stage | windows x batch | heads | channels | fwd x | fwd+bwd x |',
             '|---|---|---|---|---|---|']
    for i, r in enumerate(results['stages'], 1):
        lines.append(f"| {i} | {r['windows']} | {r['heads']} | {r['channels']} | "
                     f"{r['fwd_x']:.2f} | {r['fwd_bwd_x']:.2f} |")
    return '\n'.join(lines) + '\n'


def config_table_row(config: str, r: dict) -> str:
    return (f'| {os.path.basename(config)} | {r["input_shape"][0]} x {r["input_shape"][1]} '
            f'| {r["params"] / 1e6:.3f} | {r["flops"] / 1e9:.2f} |\n')


def write_outputs(results: dict, table: str, json_path=None, markdown_path=None) -> None:
    """Writes ``results`` as JSON and ``table`` as Markdown where asked."""
    for path, text in ((json_path, lambda: json.dumps(results, indent=1)),
                       (markdown_path, lambda: table)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, 'w') as f:
                f.write(text())


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(
        description='Throughput, memory, params and FLOPs of the PE presets vs mmpretrain/'
        'timm ViTs')
    parser.add_argument('--archs', default='deit-tiny,deit-small,deit-base',
                        help='comma-separated: deit-tiny|deit-small|deit-base|vit-lite|'
                        'swin-tiny|swin-small|swin-base|ceit-tiny|ceit-small|ceit-base|t2t-vit-7')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--iters', type=int, default=10, help='timed rounds')
    parser.add_argument('--warmup', type=int, default=3, help='untimed rounds')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        choices=['cpu', 'cuda'])
    parser.add_argument('--amp', action='store_true',
                        help='autocast (fp16 on CUDA, bf16 on CPU)')
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    parser.add_argument('--num-classes', type=int, default=1000)
    parser.add_argument('--matmul-size', type=int, default=None,
                        help='side of the peak-FLOP/s matmul (8192 CUDA, 1024 CPU)')
    parser.add_argument('--no-timm', action='store_true')
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--markdown', help='write the table here')
    parser.add_argument('--configs', nargs='+', metavar='CONFIG',
                        help='instead: params and FLOPs of these configs\' whole models '
                        '(classifier, detector, segmentor) at their real input size')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='with --configs: this input size instead')
    parser.add_argument('--check-targets', action='store_true',
                        help="list every preset's speed ratio against its family's target "
                        '(>= 0.98x our Default; Swin also >= 1.0x mmpretrain) and exit 1 if '
                        'one is missed')
    parser.add_argument('--window-attention', action='store_true',
                        help="instead: Swin's window attention, ours (SDPA) vs mmpretrain's")
    args = parser.parse_args(argv)
    if args.window_attention:
        results = window_attention_benchmark(args.batch_size, args.iters, args.warmup,
                                             args.device, args.threads)
        table = format_window_attention(results)
        print(table)
    elif args.configs:
        missing = [config for config in args.configs if not osp.isfile(config)]
        if missing:
            parser.error(f'config {missing[0]} not found: give config files (.py)')
        results = config_complexity(args.configs, args.shape)
        table = CONFIG_TABLE_HEAD + ''.join(config_table_row(c, r) for c, r in results.items())
    else:
        results = run_benchmark(_parse_archs(args.archs), args.batch_size, args.img_size,
                                args.iters, args.warmup, args.device, args.amp, args.threads,
                                args.num_classes, not args.no_timm, args.matmul_size)
        table = format_markdown(results)
        print(table)
    write_outputs(results, table, args.json, args.markdown)
    if args.check_targets and 'archs' in results:
        missed = report_speed_targets(check_speed_targets(results))
        if missed:
            sys.exit(f'{missed} speed target(s) missed (measured on {args.device}, batch '
                     f'{args.batch_size})')
    return results


def report_speed_targets(checks) -> int:
    """Prints one line per check; returns how many missed their target."""
    for c in checks:
        ratio = '-' if c['ratio'] is None else f"{c['ratio']:.3f}"
        print(f"{'ok  ' if c['ok'] else 'MISS'} {c['arch']} {c['model']} {c['metric']} "
              f"{c['base']} {ratio} (target >= {c['target']})")
    return sum(not c['ok'] for c in checks)

if __name__ == '__main__':
    main()
