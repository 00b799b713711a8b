import importlib.util
import os.path as osp

import pytest

TOOLS = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
                 'analysis_tools')


@pytest.fixture(scope='session')
def analysis_tool():
    """``analysis_tool(name)``: the script ``tools/analysis_tools/<name>.py`` imported by
    path (the tools are not a package), once per session."""
    loaded = {}

    def load(name: str):
        if name not in loaded:
            spec = importlib.util.spec_from_file_location(f'analysis_tools_{name}',
                                                          osp.join(TOOLS, f'{name}.py'))
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            loaded[name] = module
        return loaded[name]

    return load
