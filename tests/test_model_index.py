"""model-index.yml, the metafiles and the .mim folder, as openmim reads them.

* every metafile model names an existing config and carries FLOPs and Parameters written
  by tools/misc/metafile_complexity.py; one of them is recomputed here with mmengine's
  counter and must match;
* ``mpvg_mm/.mim/`` links to configs/, tools/, demo/, model-index.yml and README.md;
* openmim's checker ``mi check model-index.yml`` passes and ``mim search mpvg_mm`` lists
  the models of a regular install (slow: in a throwaway venv, never the project's: openmim
  pins old versions of common packages). The venv is ``$MPVG_MIM_VENV``, else
  ``~/.cache/mpvg_mm/mimvenv``, created with ``pip install openmim model-index`` when
  missing; the test is skipped, saying why, when that cannot be done (no network).
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import yaml

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _models():
    with open(f'{ROOT}/model-index.yml') as f:
        metafiles = yaml.safe_load(f)['Import']
    found = []
    for metafile in metafiles:
        with open(osp.join(ROOT, metafile)) as f:
            found += yaml.safe_load(f)['Models']
    return found


def test_every_model_has_a_config_and_computed_complexity():
    models = _models()
    assert len({m['Name'] for m in models}) == len(models)
    for model in models:
        assert osp.isfile(osp.join(ROOT, model['Config'])), model['Name']
        for key in ('FLOPs', 'Parameters'):
            assert isinstance(model['Metadata'].get(key), int), (model['Name'], key)


def test_one_model_recomputed_matches_its_metafile(tool):
    model = next(m for m in _models() if m['Name'] == 'deit-tiny_mpvg_8xb128_in1k')
    measured = tool('misc/metafile_complexity').measure(model['Config'])
    assert measured == {k: model['Metadata'][k] for k in ('FLOPs', 'Parameters')}
    # DeiT-Ti at 224 px: about 1.3 G multiply-adds and 5.7 M parameters (DeiT, Table 1)
    assert 1.2e9 < measured['FLOPs'] < 1.3e9 and 5.6e6 < measured['Parameters'] < 5.8e6


def test_set_metadata_replaces_only_the_named_model(tool):
    set_metadata = tool('misc/metafile_complexity').set_metadata
    text = ('Models:\n  - Name: a\n    Metadata:\n      Parameters: 1  # typed\n'
            '      Epochs: 3\n  - Name: b\n    Metadata:\n      Epochs: 4\n')
    got = set_metadata(text, 'a', dict(FLOPs=10, Parameters=2))
    assert yaml.safe_load(got)['Models'] == [
        dict(Name='a', Metadata=dict(FLOPs=10, Parameters=2, Epochs=3)),
        dict(Name='b', Metadata=dict(Epochs=4))]
    with pytest.raises(ValueError, match='model c not found'):
        set_metadata(text, 'c', {})


def test_mim_folder_links_the_repository():
    for name in ('configs', 'tools', 'demo', 'model-index.yml', 'README.md'):
        path = osp.join(ROOT, 'mpvg_mm', '.mim', name)
        assert osp.realpath(path) == osp.join(osp.realpath(ROOT), name), name


@pytest.fixture(scope='module')
def mim_venv():
    venv = os.environ.get('MPVG_MIM_VENV') or osp.expanduser('~/.cache/mpvg_mm/mimvenv')
    if not osp.isfile(f'{venv}/bin/mi') or not osp.isfile(f'{venv}/bin/mim'):
        try:
            subprocess.run([sys.executable, '-m', 'venv', venv], check=True,
                           capture_output=True, timeout=300)
            subprocess.run([f'{venv}/bin/pip', 'install', '-q', 'openmim', 'model-index'],
                           check=True, capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as err:
            pytest.skip(f'no throwaway venv with openmim at {venv} ({err}); set '
                        'MPVG_MIM_VENV to one')
    return venv


@pytest.mark.slow
def test_openmim_checks_and_searches_the_index(mim_venv, tmp_path):
    check = subprocess.run([f'{mim_venv}/bin/mi', 'check', 'model-index.yml'], cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and 'All good!' in check.stdout, check.stdout + check.stderr
    # mim finds <site-packages>/mpvg_mm/.mim/model-index.yml of a regular install (an
    # editable install has no package folder there)
    install = subprocess.run([f'{mim_venv}/bin/pip', 'install', '-q', '--no-deps', ROOT],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    search = subprocess.run([f'{mim_venv}/bin/mim', 'search', 'mpvg_mm'], cwd=str(tmp_path),
                            capture_output=True, text=True, timeout=300)
    assert search.returncode == 0, search.stdout[-3000:] + search.stderr[-3000:]
    for model in _models():
        assert model['Name'] in search.stdout, model['Name']
