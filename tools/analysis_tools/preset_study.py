"""Multi-seed study of the PE presets on the demo's position-dependent task: val accuracy
(mean +- std) and the per-layer counterbalancing correlation of every trained model
(:func:`mpvg_mm.analysis.preset_study.run_study`; training protocol in that module).

    python tools/analysis_tools/preset_study.py [--config CONFIG] \
        [--data-root data/demo/imagenet] [--seeds 0,1,2] [--epochs N] \
        [--presets default,lape,pvg,mpvg,default-gap,default-gap-lastlnpe] \
        [--batch-size N] [--max-train N] [--max-val N] [--threads 1] \
        [--out-dir work_dirs/preset_study]

Prints a summary table and writes ``OUT_DIR/preset_study.json``. ``--config`` may be a
Swin demo config (``configs/demo/mpvg-swin-demo_mpvg_1xb64_demo-cls.py``): the presets
are then the four PE structures (the GAP ablations switch a ViT's class token off).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO_ROOT)
from mpvg_mm.analysis.preset_study import PRESETS, run_study  # noqa: E402

#: the demo's MPVG classification config, relative to the repository (or the cwd)
DEFAULT_CONFIG = 'configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'


def resolve_config(path: str) -> str:
    """``path`` if it exists (relative to the cwd), else relative to this repository."""
    if osp.exists(path):
        return path
    return osp.join(REPO_ROOT, path)


def comma_list(text: str, convert=str) -> list:
    """``'a, b,'`` -> ``['a', 'b']`` (each item stripped, empty ones dropped, converted)."""
    return [convert(item.strip()) for item in text.split(',') if item.strip()]


def format_summary(results: dict) -> str:
    """Accuracy mean +- std and per-layer correlation (mean over seeds) per preset."""
    lines = [f"{'preset':22s} {'val acc (%)':>16s}   r(LN1(x_l), pos_ref) per layer "
             "(mean over seeds)"]
    for name, res in results['presets'].items():
        corr = ' '.join('   n/a' if c is None else f'{c:+.3f}' for c in res['correlation_mean'])
        lines.append(f"{name:22s} {res['val_acc_mean']:7.2f} +- {res['val_acc_std']:5.2f}   "
                     f'{corr}')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description='Multi-seed preset study on the demo task')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='demo classification config supplying model/optimizer/data')
    parser.add_argument('--data-root', default=None,
                        help="the demo's imagenet folder (default: the config's)")
    parser.add_argument('--seeds', default='0,1,2')
    parser.add_argument('--epochs', type=int, default=None,
                        help="training epochs per run (default: the config's max_epochs)")
    parser.add_argument('--presets', default=None,
                        help=f"comma-separated, of {','.join(PRESETS)} (default: every one "
                        "that applies to the config's backbone)")
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--max-train', type=int, default=None, help='use the first N images')
    parser.add_argument('--max-val', type=int, default=None)
    parser.add_argument('--threads', type=int, default=1, help='torch.set_num_threads')
    parser.add_argument('--out-dir', default='work_dirs/preset_study')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    presets = comma_list(args.presets) if args.presets is not None else None
    results = run_study(resolve_config(args.config), presets,
                        comma_list(args.seeds, int), args.epochs, args.data_root,
                        args.batch_size, args.max_train, args.max_val)
    print(format_summary(results))
    os.makedirs(args.out_dir, exist_ok=True)
    path = osp.join(args.out_dir, 'preset_study.json')
    with open(path, 'w') as f:
        json.dump(results, f, indent=1, allow_nan=False)
    print(f'wrote {path}')
    return results


if __name__ == '__main__':
    main()
