import pytest


@pytest.fixture(scope='session')
def analysis_tool(tool):
    """``analysis_tool(name)``: the script ``tools/analysis_tools/<name>.py``."""
    return lambda name: tool(f'analysis_tools/{name}')
