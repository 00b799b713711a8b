"""The readers of the demo data: each toolbox's own dataset class, taking the class names
from the file the generator wrote next to the data instead of from the config.

``metainfo=dict(classes='classes.txt')`` names that file relative to ``data_root`` (an
absolute path is used as is), so a config that moves ``data_root`` moves the class
names with it. Without the file (data not generated yet, or by an older generator)
building the dataset fails with an error that names the file and the generator; the
upstream classes would instead take the path itself as the class names. Everything
else is the upstream reader, unchanged.

Each reader is made on first access from its toolbox alone (:data:`READERS`), so that
the others need not be installed.
"""
import importlib
import os.path as osp
import warnings
from typing import Mapping, Optional


def load_classes_file(metainfo: Optional[Mapping], data_root: Optional[str]
                      ) -> Optional[Mapping]:
    """``metainfo`` with ``classes``, when it is a file name, replaced by that file's
    lines (a tuple); any other ``metainfo`` is returned unchanged."""
    if metainfo is None or not isinstance(metainfo.get('classes'), str):
        return metainfo
    path = osp.join(data_root or '', osp.expanduser(metainfo['classes']))
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: the demo class names are written with the demo data. '
            'Generate it with `python tools/make_demo_data.py data/demo` (or point '
            'data_root at a folder that tool wrote).')
    with open(path, encoding='utf-8') as f:
        classes = tuple(f.read().splitlines())
    return {**metainfo, 'classes': classes}


class _ClassesFromFile:
    """Reads ``metainfo['classes']`` with :func:`load_classes_file` before the upstream
    ``__init__`` runs."""

    def __init__(self, *args, **kwargs):
        metainfo = kwargs.get('metainfo')
        if kwargs.get('lazy_init') and metainfo and isinstance(metainfo.get('classes'), str):
            # an inferencer (mmdet's DetInferencer) builds the test set lazily for its
            # palette alone, on images far from any data_root: no class file needed
            path = osp.join(kwargs.get('data_root') or '', metainfo['classes'])
            if not osp.isfile(path):
                warnings.warn(f'{path} not found: lazily built dataset without its class '
                              "names (the upstream reader's metainfo stands)")
                kwargs['metainfo'] = {k: v for k, v in metainfo.items() if k != 'classes'}
                super().__init__(*args, **kwargs)
                return
        kwargs['metainfo'] = load_classes_file(metainfo, kwargs.get('data_root'))
        super().__init__(*args, **kwargs)


#: reader name -> (module, upstream class) it extends with :class:`_ClassesFromFile`.
READERS = {
    'DemoCustomDataset': ('mmpretrain.datasets', 'CustomDataset'),
    'DemoCocoDataset': ('mmdet.datasets', 'CocoDataset'),
    'DemoSegDataset': ('mmseg.datasets', 'BaseSegDataset'),
}


def __getattr__(name: str):
    if name not in READERS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    module, base = READERS[name]
    upstream = getattr(importlib.import_module(module), base)
    reader = type(name, (_ClassesFromFile, upstream), dict(
        __module__=__name__,
        __doc__=f"{module.split('.')[0]}'s ``{base}`` with the class names from a file "
        'under data_root.'))
    globals()[name] = reader  # made once
    return reader
