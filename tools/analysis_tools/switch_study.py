"""Multi-seed study of a backbone switch in a detector, decided by measurement: every
option x seed trained with a detection config and evaluated (bbox / segm mAP, mean +- std
over seeds); the protocol and the switches are :mod:`mpvg_mm.analysis.switch_study`.

    python tools/analysis_tools/switch_study.py [--switch final_norm|last_ln_pe_port] \
        [--config CONFIG] [--options none,pe,ln,ln+pe] [--seeds 0,1,2] [--epochs N] \
        [--batch-size N] [--checkpoint work_dirs/demo_cls_mpvg/epoch_30.pth] \
        [--data-root data/demo/coco] [--threads 1] [--work-dir DIR] [--out JSON]

``--switch final_norm`` (default): ``MPVGViT(final_norm=...)`` in the demo's plain-ViT +
SimpleFeaturePyramid Mask R-CNN; ``--switch last_ln_pe_port``:
``MPVGViTAdapter(last_ln_pe_port=...)`` in the demo's ViT-Adapter Mask R-CNN. Runs one
training at a time and rewrites ``--out`` (default ``WORK_DIR/SWITCH_study.json``,
``WORK_DIR`` default ``work_dirs/SWITCH_study``) after each; rerun the same command to
resume. Prints the summary table (Markdown) and the option the configs should default to
(:func:`~mpvg_mm.analysis.switch_study.decide`) at the end.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from preset_study import REPO_ROOT, comma_list, resolve_config  # noqa: E402

sys.path.insert(0, REPO_ROOT)
from mpvg_mm.analysis.switch_study import SWITCHES, decide, run_study  # noqa: E402


def format_table(results: dict) -> str:
    """A Markdown table: per option, bbox and segm mAP (and AP50) mean +- std, seeds."""
    switch = results['settings']['switch']
    lines = [f'| {switch} | the neck gets | bbox mAP | segm mAP | bbox AP50 | segm AP50 '
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
    parser = argparse.ArgumentParser(description='study of a backbone switch in a detector')
    parser.add_argument('--switch', default='final_norm', choices=list(SWITCHES))
    parser.add_argument('--config', default=None,
                        help="mmdet config with the switch's backbone (default: its demo "
                        'config, mpvg_mm.analysis.switch_study.SWITCHES)')
    parser.add_argument('--options', default=None, help='comma list (default: all)')
    parser.add_argument('--seeds', default='0,1,2')
    parser.add_argument('--epochs', type=int, default=None,
                        help="training epochs per run (default: the config's max_epochs)")
    parser.add_argument('--batch-size', type=int, default=None,
                        help="training batch (default: the config's; the lr is not rescaled)")
    parser.add_argument('--checkpoint', default=None,
                        help="the backbone's pretrained file (default: the config's)")
    parser.add_argument('--data-root', default=None,
                        help="the COCO-layout data: the generator's coco subfolder, e.g. "
                        "data/demo/coco (default: the config's)")
    parser.add_argument('--threads', type=int, default=1, help='torch.set_num_threads')
    parser.add_argument('--work-dir', default=None,
                        help='runs and results (default: work_dirs/SWITCH_study)')
    parser.add_argument('--out', default=None,
                        help='results JSON (default: WORK_DIR/SWITCH_study.json)')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = resolve_config(args.config or SWITCHES[args.switch].config)
    options = None if args.options is None else comma_list(args.options)
    results = run_study(config, options, comma_list(args.seeds, int), args.epochs,
                        args.work_dir, args.out, args.data_root, args.checkpoint,
                        args.batch_size, args.switch)
    print(format_table(results))
    try:
        print(f'decision (mpvg_mm.analysis.switch_study.decide): {decide(results)}')
    except ValueError as err:  # too few seeds
        print(f'no decision: {err}')
    return results


if __name__ == '__main__':
    main()
