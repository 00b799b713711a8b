"""Dump the resolved dict of every leaf config (``Config.fromfile(p).to_dict()``), one
sorted text file per config, to compare two states of ``configs/`` with ``diff -r``.

    python tools/misc/dump_configs.py /tmp/cfgdump_before     # before a config change
    python tools/misc/dump_configs.py /tmp/cfgdump_after      # after it
    diff -r /tmp/cfgdump_before /tmp/cfgdump_after

Leaf configs are the ``*.py`` files under ``configs/`` outside ``_base_/`` (or the paths
given with ``--configs``). Each file holds the config's top-level keys in sorted order,
pretty-printed with sorted dict keys, so only real differences show in a diff.
``--drop-default-scope`` leaves out every ``_scope_`` equal to the config's
``default_scope`` (what a ``mmdet::``/``mmseg::``/``mmpretrain::`` base adds to its outer
dicts). That is a no-op where a registry builds the dict, but not where a dict is passed
on as keyword arguments (e.g. a base's ``norm_cfg`` handed to mmcv's
``build_norm_layer``), so check the kept ``_scope_`` keys once with ``--scopes``, which
prints the path of each.
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


def _scope_paths(obj, path=''):
    if isinstance(obj, dict):
        if '_scope_' in obj:
            yield f'{path or "."}: {obj["_scope_"]}'
        for k, v in obj.items():
            yield from _scope_paths(v, f'{path}.{k}' if path else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _scope_paths(v, f'{path}[{i}]')


def load(path):
    from mmengine.config import Config
    return Config.fromfile(path).to_dict()


def dump(cfg, drop_default_scope=False):
    if drop_default_scope:
        cfg = _drop_scope(cfg, cfg.get('default_scope'))
    return ''.join(f'{key} = {pprint.pformat(cfg[key], width=100, sort_dicts=True)}\n'
                   for key in sorted(cfg))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir')
    parser.add_argument('--configs', nargs='*', help='config files (default: every leaf)')
    parser.add_argument('--drop-default-scope', action='store_true',
                        help='leave out `_scope_` keys equal to the default scope')
    parser.add_argument('--scopes', action='store_true',
                        help='print where each config has a `_scope_` key')
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)  # this checkout's mpvg_mm for custom_imports
    paths = args.configs or leaf_configs()
    for path in paths:
        rel = osp.relpath(osp.abspath(path), f'{ROOT}/configs')
        out = osp.join(args.out_dir, rel[:-len('.py')] + '.txt')
        os.makedirs(osp.dirname(out), exist_ok=True)
        cfg = load(path)
        with open(out, 'w') as f:
            f.write(dump(cfg, args.drop_default_scope))
        if args.scopes:
            for line in _scope_paths(cfg):
                print(f'{rel}: {line}')
    print(f'{len(paths)} configs dumped to {args.out_dir}')


if __name__ == '__main__':
    main()
