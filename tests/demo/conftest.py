"""Fixtures shared by the demo-data tests."""
import importlib

import pytest


@pytest.fixture
def toolbox_scope():
    """Yields a function ``scope -> DATASETS`` that registers the toolbox's modules
    and makes it the default scope (so pipelines resolve its transforms) until the
    test ends."""
    from mmengine.registry import DefaultScope
    entered = []

    def enter(scope):
        importlib.import_module(f'{scope}.utils').register_all_modules(
            init_default_scope=False)
        ctx = DefaultScope.overwrite_default_scope(scope)
        ctx.__enter__()
        entered.append(ctx)
        return importlib.import_module(f'{scope}.registry').DATASETS

    yield enter
    for ctx in reversed(entered):
        ctx.__exit__(None, None, None)
