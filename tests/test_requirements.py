"""The environment `tools/setup_env.sh` made satisfies requirements/*.txt (runtime, tools):
e.g. matplotlib < 3.11 (3.11 breaks mmpretrain's browse_dataset.py) and seaborn (the
`tools` extra, for the toolboxes' analyze_logs.py)."""
import importlib.metadata
import os.path as osp

import pytest
from packaging.requirements import Requirement

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _requirements(name):
    with open(f'{ROOT}/requirements/{name}.txt') as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [Requirement(line) for line in lines if line]


@pytest.mark.parametrize('req', _requirements('runtime') + _requirements('tools'), ids=str)
def test_installed_versions_satisfy_requirements(req):
    version = importlib.metadata.version(req.name)
    assert req.specifier.contains(version, prereleases=True), (
        f'{req.name} {version} installed, {req} required: rerun tools/setup_env.sh')


def test_matplotlib_is_pinned_below_3_11():
    pins = {r.name: r.specifier for r in _requirements('runtime')}
    assert not pins['matplotlib'].contains('3.11.0') and pins['matplotlib'].contains('3.10.9')
