"""Convert a timm-layout ViT/DeiT/LaPE/MPVG checkpoint for mmpretrain's ImageClassifier.

    python tools/model_converters/timm2mpvg.py SRC.pth DST.pth [--pe-mode lape]
        [--pe-cfg '{"input_pe": false}'] [--with-cls-token {0,1}] [--arch NAME|JSON]
        [--img-size H [W]]

The result has ``state_dict`` keys ``backbone.*`` (MPVGViT) and ``head.fc.*``
(LinearClsHead) and loads with strict key matching; the preset is inferred from the keys
(``blocks.{i}.pe_norm``, ``last_pe_norm``, ``cls_token``) unless given, and printed.
The grid of ``pos_embed`` is recorded (``backbone.pos_embed_grid``): ``--img-size``, the
size the file was trained at, or else the arch's (DeiT: 224); the rows must add up.
"""
import argparse
import json
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mpvg_mm.models.checkpoint_layout import convert_timm_checkpoint  # noqa: E402


def _arch(text: str):
    """``--arch``: a JSON dict, or a name (checked later by ``resolve_arch``)."""
    return json.loads(text) if text.lstrip().startswith('{') else text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--pe-mode', choices=['default', 'lape', 'pvg', 'mpvg'])
    parser.add_argument('--pe-cfg', type=json.loads, help='JSON dict of PE switches')
    parser.add_argument('--with-cls-token', type=int, choices=[0, 1])
    parser.add_argument('--arch', type=_arch,
                        help='an arch name (deit-tiny, deit-s, vit-lite, ...) or a JSON arch '
                        'dict, for sizes other than deit-*/vit-lite')
    parser.add_argument('--img-size', type=int, nargs='+', metavar='SIZE',
                        help='the size the checkpoint was trained at: S or H W '
                             "(default: the arch's, e.g. 224 for DeiT)")
    args = parser.parse_args(argv)
    overrides = {}
    if args.pe_mode:
        overrides['pe_mode'] = args.pe_mode
    if args.pe_cfg is not None:
        overrides['pe_cfg'] = args.pe_cfg
    if args.arch is not None:
        overrides['arch'] = args.arch
    if args.img_size is not None:
        overrides['img_size'] = args.img_size[0] if len(args.img_size) == 1 else args.img_size
    if args.with_cls_token is not None:
        overrides['with_cls_token'] = bool(args.with_cls_token)
    if not osp.isfile(args.src):
        parser.error(f'{args.src}: no such checkpoint file.')
    # timm/DeiT files are plain tensors: the weights-only loader is enough
    ckpt = torch.load(args.src, map_location='cpu', weights_only=True)
    converted, cfg = convert_timm_checkpoint(ckpt, overrides)
    torch.save(converted, args.dst)
    print(f'inferred backbone: {cfg}')
    grid = converted['meta']['pos_embed_grid']
    print(f'recorded pos_embed grid: {grid[0]}x{grid[1]}')
    print(f'head classes: {converted["meta"]["num_classes"]}')
    print(f'wrote {len(converted["state_dict"])} tensors to {args.dst}')


if __name__ == '__main__':
    main()
