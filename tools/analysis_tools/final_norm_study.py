"""Multi-seed study of where the Last LN and MPVG's Last-LN PE go in a plain-ViT detector:
every ``MPVGViT(final_norm=...)`` option x seed trained with a detection config and
evaluated (bbox / segm mAP, mean +- std over seeds); the protocol is
:mod:`mpvg_mm.analysis.final_norm_study`.

    python tools/analysis_tools/final_norm_study.py [--config CONFIG] \
        [--options none,pe,ln,ln+pe] [--seeds 0,1,2] [--epochs N] [--batch-size N] \
        [--checkpoint work_dirs/demo_cls_mpvg/epoch_30.pth] [--data-root data/demo/coco] \
        [--threads 1] [--work-dir work_dirs/final_norm_study] [--out JSON]

Runs one training at a time and rewrites ``--out`` (default
``WORK_DIR/final_norm_study.json``) after each; rerun the same command to resume.
Prints the summary table (Markdown) and the option the configs should default to
(:func:`~mpvg_mm.analysis.final_norm_study.decide`) at the end.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from preset_study import REPO_ROOT, comma_list, resolve_config  # noqa: E402

sys.path.insert(0, REPO_ROOT)
from mpvg_mm.analysis.final_norm_study import OPTIONS, decide, run_study  # noqa: E402

#: the demo's plain-ViT + SimpleFeaturePyramid Mask R-CNN (ViTDet's structure)
DEFAULT_CONFIG = 'configs/demo/mask-rcnn_mpvg-vit-demo-sfp_mpvg_1xb8_demo-coco.py'


def format_table(results: dict) -> str:
    """A Markdown table: per option, bbox and segm mAP (and AP50) mean +- std, seeds."""
    lines = ['| final_norm | the pyramid gets | bbox mAP | segm mAP | bbox AP50 | segm AP50 '
             '| seeds |', '|---|---|---|---|---|---|---|']
    for name, entry in results['options'].items():
        s = entry['summary']
        if not s:
            continue
        cells = ' | '.join(f"{s[k]['mean']:.3f} +- {s[k]['std']:.3f}" for k in
                           ('bbox_mAP', 'segm_mAP', 'bbox_mAP_50', 'segm_mAP_50'))
        lines.append(f"| `{name}` | {entry['description']} | {cells} | {len(entry['runs'])} |")
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description='final_norm study of a plain-ViT detector')
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='mmdet config with an MPVGViT backbone (default: the demo SFP)')
    parser.add_argument('--options', default=','.join(OPTIONS))
    parser.add_argument('--seeds', default='0,1,2')
    parser.add_argument('--epochs', type=int, default=None,
                        help="training epochs per run (default: the config's max_epochs)")
    parser.add_argument('--batch-size', type=int, default=None,
                        help="training batch (default: the config's; the lr is not rescaled)")
    parser.add_argument('--checkpoint', default=None,
                        help="the backbone's pretrained file (default: the config's)")
    parser.add_argument('--data-root', default=None,
                        help="the COCO-layout data (default: the config's)")
    parser.add_argument('--threads', type=int, default=1, help='torch.set_num_threads')
    parser.add_argument('--work-dir', default='work_dirs/final_norm_study')
    parser.add_argument('--out', default=None,
                        help='results JSON (default: WORK_DIR/final_norm_study.json)')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = run_study(resolve_config(args.config), comma_list(args.options),
                        comma_list(args.seeds, int), args.epochs, args.work_dir, args.out,
                        args.data_root, args.checkpoint, args.batch_size)
    print(format_table(results))
    try:
        print(f'decision (mpvg_mm.analysis.final_norm_study.decide): {decide(results)}')
    except ValueError as err:  # too few seeds
        print(f'no decision: {err}')
    return results


if __name__ == '__main__':
    main()
