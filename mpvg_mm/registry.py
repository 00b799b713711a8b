"""The one place that registers mpvg_mm's modules into mmpretrain, mmdet and mmseg.

``import mpvg_mm`` (or ``custom_imports=dict(imports=['mpvg_mm'])`` in a config) makes
``type='MPVGViT'`` resolve under each of the three ``default_scope``s, so the upstream
``tools/train.py`` / ``tools/test.py`` of every toolbox run our configs unchanged.
"""
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


def register_all_modules() -> None:
    """Register :data:`SHARED_MODULES` into each OpenMMLab scope (idempotent)."""
    import importlib
    for scope in SCOPES:
        registry_module = importlib.import_module(f'{scope}.registry')
        for registry_name, module in SHARED_MODULES:
            registry = getattr(registry_module, registry_name)
            if registry.get(module.__name__) is not module:
                registry.register_module(module=module, force=True)


register_all_modules()
