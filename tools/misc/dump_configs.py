"""Dump the resolved dict of every leaf config (``Config.fromfile(p).to_dict()``), one
sorted text file per config, to compare two states of ``configs/`` with ``diff -r``.

    python tools/misc/dump_configs.py /tmp/cfgdump_before     # before a config change
    python tools/misc/dump_configs.py /tmp/cfgdump_after      # after it
    diff -r /tmp/cfgdump_before /tmp/cfgdump_after

Leaf configs are the ``*.py`` files under ``configs/`` outside ``_base_/`` (or the paths
given with ``--configs``). Each file holds the config's top-level keys in sorted order,
pretty-printed with sorted dict keys, so only real differences show in a diff. A
``_scope_`` equal to the config's ``default_scope`` (what a ``mmdet::``/``mmseg::``/
``mmpretrain::`` base adds to its dicts in a config of that toolbox) changes nothing and is
left out unless ``--keep-scope``; any other ``_scope_`` is kept.
"""
import argparse
import glob
import os
import os.path as osp
import pprint
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def leaf_configs(root=ROOT):
    return sorted(p for p in glob.glob(f'{root}/configs/**/*.py', recursive=True)
                  if '/_base_/' not in p)


def _drop_scope(obj, scope):
    if isinstance(obj, dict):
        return {k: _drop_scope(v, scope) for k, v in obj.items()
                if not (k == '_scope_' and v == scope)}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_drop_scope(v, scope) for v in obj)
    return obj


def dump(path, keep_scope=False):
    from mmengine.config import Config
    cfg = Config.fromfile(path).to_dict()
    if not keep_scope:
        cfg = _drop_scope(cfg, cfg.get('default_scope'))
    return ''.join(f'{key} = {pprint.pformat(cfg[key], width=100, sort_dicts=True)}\n'
                   for key in sorted(cfg))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir')
    parser.add_argument('--configs', nargs='*', help='config files (default: every leaf)')
    parser.add_argument('--keep-scope', action='store_true',
                        help='keep `_scope_` keys equal to the default scope')
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)  # this checkout's mpvg_mm for custom_imports
    paths = args.configs or leaf_configs()
    for path in paths:
        rel = osp.relpath(osp.abspath(path), f'{ROOT}/configs')
        out = osp.join(args.out_dir, rel[:-len('.py')] + '.txt')
        os.makedirs(osp.dirname(out), exist_ok=True)
        with open(out, 'w') as f:
            f.write(dump(path, args.keep_scope))
    print(f'{len(paths)} configs dumped to {args.out_dir}')


if __name__ == '__main__':
    main()
