import importlib.util
import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import mpvg_mm  # noqa: E402,F401  (registers the modules, installs the shims)

torch.set_num_threads(2)


@pytest.fixture
def tiny_arch():
    """A 4-block, 64-channel ViT on 32x32 images with 8x8 patches (a 4x4 PE grid)."""
    return dict(embed_dims=64, num_layers=4, num_heads=2, mlp_ratio=2.0, patch_size=8,
                img_size=32)


@pytest.fixture(scope='session')
def randomize():
    """``randomize(model, seed=0, scale=0.3)``: non-trivial values for every parameter of
    ``model`` (returned), LayerNorm affine ones included: norm weights 1 + N(0, 0.5^2), the
    others N(0, scale^2), drawn from a generator seeded with ``seed``."""

    def fill(model, seed=0, scale=0.3):
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if 'norm' in name and name.endswith('weight'):
                    p.copy_(1 + 0.5 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(scale * torch.randn(p.shape, generator=g))
        return model

    return fill


@pytest.fixture(scope='session')
def tool():
    """``tool('analysis_tools/benchmark')``: the script ``tools/<path>.py`` imported by path
    (the tools are not a package), once per session."""
    loaded = {}

    def load(path: str):
        if path not in loaded:
            spec = importlib.util.spec_from_file_location(
                'tool_' + path.replace('/', '_'), os.path.join(ROOT, 'tools', f'{path}.py'))
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            loaded[path] = module
        return loaded[path]

    return load


@pytest.fixture(scope='session')
def image_demo(tool):
    """``demo/image_demo.py`` imported by path."""
    return tool('../demo/image_demo')


@pytest.fixture(scope='module')
def single_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures(
    'single_thread')``): two threads on two shared cores thrash, tens of times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _isolated_default_scope():
    """Tests that enter an mmdet/mmseg/mmpretrain scope do not leak it to the next one."""
    from mmengine.registry import DefaultScope
    saved = dict(DefaultScope._instance_dict)
    DefaultScope._instance_dict.clear()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)
