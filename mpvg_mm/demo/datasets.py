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


def load_classes_file(metainfo: Optional[Mapping], data_root: Optional[str],
                      demo_format: str = '<format>') -> Optional[Mapping]:
    """``metainfo`` with ``classes``, when it is a file name, replaced by that file's
    lines (a tuple); any other ``metainfo`` is returned unchanged.

    ``demo_format``: the generator's subfolder of this reader's data (``coco``,
    ``ade20k``, ``imagenet``), named in the error.

    Raises:
        FileNotFoundError: no such file; names the subfolder ``data_root`` must be
            (``tools/make_demo_data.py OUT`` writes ``OUT/<format>/``), and says so when
            ``data_root`` is the generator's ``OUT`` itself.
    """
    if metainfo is None or not isinstance(metainfo.get('classes'), str):
        return metainfo
    classes = osp.expanduser(metainfo['classes'])
    path = osp.join(data_root or '', classes)
    if not osp.isfile(path):
        inner = osp.join(data_root or '', demo_format)
        hint = (f' {data_root} is the folder the generator wrote; its {demo_format} data '
                f'are in {inner}: point data_root there (e.g. --data-root {inner}).'
                if data_root and osp.isfile(osp.join(inner, classes)) else '')
        raise FileNotFoundError(
            f'{path} not found: the demo class names are written with the demo data.{hint} '
            'Generate them with `python tools/make_demo_data.py data/demo`, which writes '
            f'data/demo/{demo_format}/; data_root must be that {demo_format} subfolder '
            f'(data/demo/{demo_format}).')
    with open(path, encoding='utf-8') as f:
        classes = tuple(f.read().splitlines())
    return {**metainfo, 'classes': classes}


class _ClassesFromFile:
    """Reads ``metainfo['classes']`` with :func:`load_classes_file` before the upstream
    ``__init__`` runs."""

    demo_format = '<format>'  # the generator's subfolder (set per reader, READERS)

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
        kwargs['metainfo'] = load_classes_file(metainfo, kwargs.get('data_root'),
                                               self.demo_format)
        super().__init__(*args, **kwargs)


#: reader name -> (module, upstream class) it extends with :class:`_ClassesFromFile`,
#: the generator's subfolder of its data (``tools/make_demo_data.py``'s format).
READERS = {
    'DemoCustomDataset': ('mmpretrain.datasets', 'CustomDataset', 'imagenet'),
    'DemoCocoDataset': ('mmdet.datasets', 'CocoDataset', 'coco'),
    'DemoSegDataset': ('mmseg.datasets', 'BaseSegDataset', 'ade20k'),
}


def __getattr__(name: str):
    if name not in READERS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    module, base, demo_format = READERS[name]
    upstream = getattr(importlib.import_module(module), base)
    reader = type(name, (_ClassesFromFile, upstream), dict(
        __module__=__name__, demo_format=demo_format,
        __doc__=f"{module.split('.')[0]}'s ``{base}`` with the class names from a file "
        'under data_root.'))
    globals()[name] = reader  # made once
    return reader
