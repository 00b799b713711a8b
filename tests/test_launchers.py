"""The launcher scripts put the repository on PYTHONPATH without an empty entry (an empty
entry is the current directory: a sitecustomize.py there would run in every worker)."""
import os
import stat
import subprocess

import pytest

ROOT = __file__.rsplit('/tests/', 1)[0]
SCRIPTS = {'dist_train.sh': ['cfg.py', '2'], 'dist_test.sh': ['cfg.py', 'ckpt.pth', '2'],
           'slurm_train.sh': ['part', 'job', 'cfg.py'],
           'slurm_test.sh': ['part', 'job', 'cfg.py', 'ckpt.pth']}


@pytest.mark.parametrize('script', list(SCRIPTS))
@pytest.mark.parametrize('inherited', [None, '/opt/site'])
def test_pythonpath_has_no_empty_entry(script, inherited, tmp_path):
    # python (dist_*) and srun (slurm_*) replaced by a probe printing the PYTHONPATH it gets
    probe = tmp_path / 'probe'
    probe.write_text('#!/bin/sh\necho "PYTHONPATH=[$PYTHONPATH]"\n')
    probe.chmod(probe.stat().st_mode | stat.S_IEXEC)
    os.symlink(probe, tmp_path / 'srun')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(PYTHON=str(probe), PATH=f'{tmp_path}:{env["PATH"]}')
    if inherited:
        env['PYTHONPATH'] = inherited
    out = subprocess.run(['bash', f'{ROOT}/tools/{script}', *SCRIPTS[script]], env=env,
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    value = out.split('PYTHONPATH=[', 1)[1].split(']', 1)[0]
    assert value.split(':') == [ROOT] + ([inherited] if inherited else [])
