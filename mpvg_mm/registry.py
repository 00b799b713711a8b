"""Registration of mpvg_mm's modules into mmpretrain, mmdet and mmseg, in one place.

:func:`register_all_modules` (called once by ``import mpvg_mm``, so that a config's
``custom_imports=dict(imports=['mpvg_mm'])`` is all the toolboxes' own ``tools/train.py``
and ``tools/test.py`` need) makes ``type='MPVGViT'`` and the other modules of
:data:`SHARED_MODULES` resolve under each installed toolbox's ``default_scope``.
:func:`build_model` builds a config's model in its toolbox's scope.
"""
import importlib
from typing import List, Optional, Sequence

#: The toolboxes (``default_scope`` names) our modules are registered into.
SCOPES = ('mmpretrain', 'mmdet', 'mmseg')
#: ``(registry name in <scope>.registry, module path, class name)`` registered in every
#: scope. Imported on registration only: ``mpvg_mm.models.pos_embed`` needs torch alone.
SHARED_MODULES = (
    ('MODELS', 'mpvg_mm.models.backbones.mpvg_vit', 'MPVGViT'),
    ('MODELS', 'mpvg_mm.models.backbones.mpvg_swin', 'MPVGSwin'),
    ('MODELS', 'mpvg_mm.models.backbones.mpvg_t2t_vit', 'MPVGT2TViT'),
    ('MODELS', 'mpvg_mm.models.backbones.vit_adapter', 'MPVGViTAdapter'),
    ('MODELS', 'mpvg_mm.models.necks.simple_fpn', 'SimpleFeaturePyramid'),
    ('OPTIM_WRAPPER_CONSTRUCTORS', 'mpvg_mm.engine.optim_constructors',
     'LayerDecayOptimWrapperConstructor'),
    ('HOOKS', 'mpvg_mm.engine.checkpoint_hook', 'DurableCheckpointHook'),
    ('HOOKS', 'mpvg_mm.engine.loss_check', 'NonFiniteLossHook'),
    ('HOOKS', 'mpvg_mm.engine.data_check', 'DataCheckHook'),
)
#: ``(scope, registry name, module path, attribute[, registered name])`` registered in one
#: scope only: the demo data's readers, one per toolbox, mmseg's prediction dumper, and
#: ``MPVGCeiT``, classification-only (its output is the LCA's one vector per image): in
#: mmdet/mmseg its name builds a clear refusal instead of failing deep in a neck.
SCOPE_MODULES = (
    ('mmpretrain', 'MODELS', 'mpvg_mm.models.backbones.mpvg_ceit', 'MPVGCeiT'),
    ('mmdet', 'MODELS', 'mpvg_mm.models.backbones.mpvg_ceit', 'refuse_dense_ceit', 'MPVGCeiT'),
    ('mmseg', 'MODELS', 'mpvg_mm.models.backbones.mpvg_ceit', 'refuse_dense_ceit', 'MPVGCeiT'),
    ('mmpretrain', 'DATASETS', 'mpvg_mm.demo.datasets', 'DemoCustomDataset'),
    ('mmdet', 'DATASETS', 'mpvg_mm.demo.datasets', 'DemoCocoDataset'),
    ('mmseg', 'DATASETS', 'mpvg_mm.demo.datasets', 'DemoSegDataset'),
    ('mmseg', 'METRICS', 'mpvg_mm.engine.dump_results', 'DumpSegResults'),
)
#: ``(registry name in mmengine.registry, module path, class name)`` registered in
#: mmengine's root registry: mmengine's ``initialize`` builds ``init_cfg`` from its root
#: ``WEIGHT_INITIALIZERS`` (the toolboxes' children find it there too).
ROOT_MODULES = (
    ('WEIGHT_INITIALIZERS', 'mpvg_mm.engine.pretrained_init', 'MPVGPretrained'),
)


def installed_scopes(scopes: Sequence[str] = SCOPES) -> List[str]:
    """The toolboxes of ``scopes`` that can be imported here."""
    found = []
    for scope in scopes:
        try:
            importlib.import_module(f'{scope}.registry')
        except ImportError:
            continue
        found.append(scope)
    return found


def register_all_modules(scopes: Optional[Sequence[str]] = None,
                         install_shims: bool = True) -> List[str]:
    """Register :data:`SHARED_MODULES` into each installed toolbox,
    :data:`SCOPE_MODULES` into theirs and :data:`ROOT_MODULES` into mmengine's
    (idempotent).

    Args:
        scopes: the toolboxes (a name or names) to register into; None: every installed one of
            :data:`SCOPES`, silently skipping those that are not installed.
        install_shims: also install the modern-stack shims (:func:`mpvg_mm.compat.install`)
            that OpenMMLab 2.x needs on torch >= 2.6.

    Returns:
        the scopes registered into (empty when no toolbox is installed, e.g. with torch
        and timm alone).

    Raises:
        ImportError: a toolbox named in ``scopes`` is not installed.
    """
    if scopes is None:
        scopes = installed_scopes()
    else:
        scopes = [scopes] if isinstance(scopes, str) else list(scopes)
        installed = installed_scopes(scopes)
        missing = [s for s in scopes if s not in installed]
        if missing:
            raise ImportError(f'cannot register into {missing}: not installed '
                              '(pip install -r requirements.txt).')
    if not scopes:
        return []
    if install_shims:
        from . import compat
        compat.install()
    entries = [(scope, *entry) for scope in scopes for entry in SHARED_MODULES]
    entries += [entry for entry in SCOPE_MODULES if entry[0] in scopes]
    entries += [('mmengine', *entry) for entry in ROOT_MODULES]
    for scope, registry_name, path, attr, *alias in entries:
        name = alias[0] if alias else attr
        try:
            module = getattr(importlib.import_module(path), attr)
        except ModuleNotFoundError as err:
            if (err.name or '').split('.')[0] not in SCOPES:  # needs a missing toolbox
                raise
            continue
        registry = getattr(importlib.import_module(f'{scope}.registry'), registry_name)
        if registry.get(name) is not module:
            registry.register_module(name=name, module=module, force=True)
    return list(scopes)


def build_model(cfg):
    """Build ``cfg.model`` in the registry of its toolbox (``cfg.default_scope``).

    As mmengine's ``Runner`` does, a top-level ``cfg.data_preprocessor`` is merged into
    the model config when the model sets none.

    Args:
        cfg: an mmengine ``Config`` (or a dict) of mmpretrain, mmdet or mmseg.

    Returns:
        the model (an ``mmengine.model.BaseModel``), with its construction-time weights
        (call ``init_weights()`` or load a checkpoint next).

    Raises:
        ValueError: no ``model`` in ``cfg``, or its ``default_scope`` is not one of
            :data:`SCOPES`.
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    if isinstance(cfg, dict) and not isinstance(cfg, Config):
        cfg = Config(cfg)
    if 'model' not in cfg:
        raise ValueError('build_model needs a whole config (with `model` and `default_scope`), '
                         'e.g. Config.fromfile(path), not its model dict.')
    scope = cfg.get('default_scope')
    if scope not in SCOPES:
        raise ValueError(f'the config sets default_scope={scope!r}; mpvg_mm builds models '
                         f'of {list(SCOPES)}.')
    register_all_modules([scope])
    init_default_scope(scope)
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    return importlib.import_module(f'{scope}.registry').MODELS.build(model_cfg)
