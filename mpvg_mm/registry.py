"""The one place that registers mpvg_mm's modules into mmpretrain, mmdet and mmseg.

``import mpvg_mm`` (or ``custom_imports=dict(imports=['mpvg_mm'])`` in a config) makes
``type='MPVGViT'`` resolve under each of the three ``default_scope``s, so the upstream
``tools/train.py`` / ``tools/test.py`` of every toolbox run our configs unchanged.
"""
from .demo.datasets import DemoCocoDataset, DemoCustomDataset, DemoSegDataset
from .engine import LayerDecayOptimWrapperConstructor
from .models import MPVGViT, MPVGViTAdapter, SimpleFeaturePyramid

#: (registry attribute in ``<scope>.registry``, module) pairs registered in every scope.
SHARED_MODULES = [
    ('MODELS', MPVGViT),
    ('MODELS', MPVGViTAdapter),
    ('MODELS', SimpleFeaturePyramid),
    ('OPTIM_WRAPPER_CONSTRUCTORS', LayerDecayOptimWrapperConstructor),
]
SCOPES = ('mmpretrain', 'mmdet', 'mmseg')
#: (scope, registry attribute, module) triples: the demo data's readers, one per scope.
SCOPE_MODULES = [
    ('mmpretrain', 'DATASETS', DemoCustomDataset),
    ('mmdet', 'DATASETS', DemoCocoDataset),
    ('mmseg', 'DATASETS', DemoSegDataset),
]


def register_all_modules() -> None:
    """Register :data:`SHARED_MODULES` into each OpenMMLab scope and
    :data:`SCOPE_MODULES` into theirs (idempotent)."""
    import importlib
    entries = [(scope, name, module) for scope in SCOPES for name, module in SHARED_MODULES]
    for scope, registry_name, module in entries + SCOPE_MODULES:
        registry = getattr(importlib.import_module(f'{scope}.registry'), registry_name)
        if registry.get(module.__name__) is not module:
            registry.register_module(module=module, force=True)


register_all_modules()
