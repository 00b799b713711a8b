"""Write each model's FLOPs and Parameters into the metafiles, computed, never typed.

    python tools/misc/metafile_complexity.py [model-index.yml] [--check] [--only NAME ...]

For every model of every metafile that ``model-index.yml`` imports, the model of its
``Config`` is built and measured with mmengine's counter
(:func:`mpvg_mm.analysis.benchmark.count_config_complexity`: parameters, and FLOPs as
multiply-adds on one image of the config's input size: 224x224 classification, the
800x1333 test scale padded to 800x1344 for detection, one 512x512 window for
segmentation). The ``FLOPs:`` and ``Parameters:`` lines under the model's ``Metadata:``
are replaced in place (comments and layout kept). ``--check`` writes nothing and exits 1
when a metafile's number differs from the recomputed one.
"""
import argparse
import os.path as osp
import re
import sys

import yaml

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
KEYS = ('FLOPs', 'Parameters')


def metafiles(index: str):
    with open(index) as f:
        return [osp.join(osp.dirname(index), p) for p in yaml.safe_load(f)['Import']]


def models(metafile: str):
    """``[(name, config path, metadata dict)]`` of a metafile."""
    with open(metafile) as f:
        data = yaml.safe_load(f)
    return [(m['Name'], m['Config'], m.get('Metadata') or {}) for m in data['Models']]


def measure(config: str) -> dict:
    from mmengine.config import Config

    from mpvg_mm.analysis.benchmark import count_config_complexity
    result = count_config_complexity(Config.fromfile(osp.join(ROOT, config)))
    return dict(FLOPs=result['flops'], Parameters=result['params'])


def set_metadata(text: str, name: str, values: dict) -> str:
    """``text`` (a metafile) with ``values`` as the first lines of model ``name``'s
    ``Metadata:`` block, replacing the lines of the same keys.

    Raises:
        ValueError: the model or its ``Metadata:`` line is not found.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines)
                  if re.fullmatch(rf'\s*- Name: {re.escape(name)}\s*', line)), None)
    if start is None:
        raise ValueError(f'model {name} not found')
    end = next((i for i in range(start + 1, len(lines))
                if re.match(r'\s*- Name: ', lines[i])), len(lines))
    meta = next((i for i in range(start, end) if lines[i].strip() == 'Metadata:'), None)
    if meta is None:
        raise ValueError(f'model {name} has no Metadata: line')
    indent = ' ' * (len(lines[meta]) - len(lines[meta].lstrip()) + 2)
    keep = [line for line in lines[meta + 1:end]
            if not any(line.startswith(f'{indent}{key}:') for key in values)]
    new = [f'{indent}{key}: {value}\n' for key, value in values.items()]
    return ''.join(lines[:meta + 1] + new + keep + lines[end:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('index', nargs='?', default=osp.join(ROOT, 'model-index.yml'))
    parser.add_argument('--check', action='store_true', help='compare, write nothing')
    parser.add_argument('--only', nargs='+', help='model names (default: all)')
    args = parser.parse_args(argv)
    from mpvg_mm.registry import register_all_modules
    register_all_modules()
    stale = []
    for metafile in metafiles(args.index):
        with open(metafile) as f:
            text = f.read()
        for name, config, metadata in models(metafile):
            if args.only and name not in args.only:
                continue
            values = measure(config)
            print(f'{name}: ' + ', '.join(f'{k} {v:,}' for k, v in values.items()), flush=True)
            if any(metadata.get(k) != v for k, v in values.items()):
                stale.append(name)
            text = set_metadata(text, name, values)
        if not args.check:
            with open(metafile, 'w') as f:
                f.write(text)
    if args.check and stale:
        print('stale in the metafiles: ' + ', '.join(stale))
        sys.exit(1)


if __name__ == '__main__':
    main()
