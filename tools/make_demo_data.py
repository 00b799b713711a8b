"""Generate the procedural demo datasets (ImageNet, COCO and ADE20K layouts).

Usage (from the repository root)::

    python tools/make_demo_data.py data/demo
    python tools/make_demo_data.py data/demo --seed 1 --formats coco --num-train 50 \\
        --img-size 96
    python tools/make_demo_data.py data/demo --img-size imagenet=48,coco=160
    python tools/make_demo_data.py data/demo_flat --flat   # silhouette-only classes

``--num-train`` / ``--num-val`` count images per class for ``imagenet`` and images per
split for ``coco`` / ``ade20k``; unset, each format takes its own default. The same
seed always gives byte-identical annotation and class-name files and identical images.
Objects are filled with their class's pattern unless ``--flat`` (same scenes, one colour
each). Each format's class names go to ``OUT/<format>/classes.txt``
(``imagenet/meta/classes.txt``), where the demo dataset configs read them. The scenes
and layouts are described in ``mpvg_mm/demo/scenes.py`` and ``mpvg_mm/demo/writers.py``.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mpvg_mm.demo.writers import (DEFAULT_IMG_SIZE, DEFAULT_NUM_TRAIN,  # noqa: E402
                                  DEFAULT_NUM_VAL, FORMATS, write_dataset)


def parse_formats(text: str) -> list:
    formats = [f.strip() for f in text.split(',') if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise argparse.ArgumentTypeError(
            f'unknown format(s) {unknown}; choose from {",".join(FORMATS)}')
    return formats


def parse_img_size(text: str) -> dict:
    """``64`` (every format) or ``imagenet=32,coco=160`` (per format)."""
    if '=' not in text:
        return {fmt: int(text) for fmt in FORMATS}
    sizes = {}
    for item in text.split(','):
        fmt, _, value = item.partition('=')
        fmt = fmt.strip()
        if fmt not in FORMATS:
            raise argparse.ArgumentTypeError(f'unknown format {fmt!r} in --img-size')
        sizes[fmt] = int(value)
    return sizes


def parse_args(argv=None):
    defaults = ', '.join(f'{f}: {DEFAULT_NUM_TRAIN[f]}/{DEFAULT_NUM_VAL[f]} @ '
                         f'{DEFAULT_IMG_SIZE[f]}px' for f in FORMATS)
    parser = argparse.ArgumentParser(
        description='Write the procedural demo datasets under OUT/<format>. '
        f'Defaults (train/val @ size): {defaults}.')
    parser.add_argument('out', help='output folder, e.g. data/demo')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--formats', type=parse_formats, default=list(FORMATS),
                        help=f'comma-separated subset of {",".join(FORMATS)}')
    parser.add_argument('--num-train', type=int, default=None,
                        help='train images (per class for imagenet, per split otherwise)')
    parser.add_argument('--num-val', type=int, default=None,
                        help='val images (per class for imagenet, per split otherwise)')
    parser.add_argument('--img-size', type=parse_img_size, default={},
                        help='square image side: N for all formats, or fmt=N,...')
    parser.add_argument('--flat', action='store_true',
                        help='draw every object in one flat colour instead of its class '
                        'pattern: the silhouette is the only class cue (a harder task)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    for fmt in args.formats:
        start = time.time()
        summary = write_dataset(fmt, args.out, seed=args.seed, num_train=args.num_train,
                                num_val=args.num_val, img_size=args.img_size.get(fmt),
                                textured=not args.flat)
        root = summary.pop('root')
        counts = ', '.join(f'{k}={v}' for k, v in summary.items())
        print(f'{fmt}: wrote {root} ({counts}) in {time.time() - start:.1f}s')


if __name__ == '__main__':
    main()
