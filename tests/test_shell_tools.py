"""The shell tools: the launchers put the repository on PYTHONPATH without an empty entry
(an empty entry is the current directory: a sitecustomize.py there would run in every
worker), and run the launcher without the current directory first on sys.path (a uuid.py
there would shadow the standard library's); setup_env.sh installs only listed mmcv wheels."""
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


@pytest.mark.usefixtures('single_thread')
@pytest.mark.parametrize('script, python', [('dist_train.sh', 'python'),
                                            ('dist_test.sh', 'python'),
                                            ('dist_train.sh', 'python without -P')])
def test_a_module_in_the_current_directory_does_not_shadow_the_launchers(script, python,
                                                                        tmp_path):
    """torch.distributed.run imports uuid: a uuid.py in the current directory must not run
    (it would with `python -m`). The launcher then fails fast on --nproc_per_node=x."""
    import sys
    (tmp_path / 'uuid.py').write_text(
        'open(__file__ + ".ran", "w").close()\nraise SystemExit("shadowed")\n')
    exe = sys.executable
    if python == 'python without -P':  # a Python before 3.11: the fallback
        wrapper = tmp_path / 'py'
        wrapper.write_text(f'#!/bin/sh\nfor a; do [ "$a" = -P ] && exit 2; done\n'
                           f'exec {exe} "$@"\n')
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
        exe = str(wrapper)
    args = [*SCRIPTS[script][:-1], 'x']
    proc = subprocess.run(['bash', f'{ROOT}/tools/{script}', *args], cwd=tmp_path,
                          env=dict(os.environ, PYTHON=exe), capture_output=True, text=True,
                          timeout=120)
    assert not (tmp_path / 'uuid.py.ran').exists(), proc.stderr[-2000:]
    assert proc.returncode != 0 and 'nproc' in proc.stderr, proc.stderr[-2000:]


def test_setup_installs_only_listed_mmcv_wheels(tmp_path):
    """tools/setup_env.sh --check-wheel: the decision setup_env.sh makes for every mmcv wheel
    it finds (the repository's list, or this checkout's record of the wheels it built)."""
    import hashlib
    wheel = tmp_path / 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'
    wheel.write_bytes(os.urandom(256))
    local = tmp_path / 'built.sha256'
    env = dict(os.environ, MMCV_LOCAL_WHEELS=str(local))

    def check():
        return subprocess.run(['bash', f'{ROOT}/tools/setup_env.sh', '--check-wheel',
                               str(wheel)], env=env, capture_output=True, text=True)

    refused = check()
    assert refused.returncode == 1 and 'not allowed' in refused.stdout
    local.write_text(f'{hashlib.sha256(wheel.read_bytes()).hexdigest()}  {wheel.name}\n')
    assert check().returncode == 0
    with open(f'{ROOT}/requirements/mmcv-wheels.sha256') as f:
        listed = [line.split()[0] for line in f if not line.startswith('#')]
    assert listed and all(len(s) == 64 for s in listed)


def test_setup_records_and_installs_only_the_wheel_it_built(tmp_path):
    """After a build from the sdist, setup_env.sh takes the wheel from the build's own fresh
    folder: a wheel planted in the cache beside it is neither recorded nor installed."""
    import hashlib
    name = 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl'
    out, cache = tmp_path / 'build', tmp_path / 'cache'
    out.mkdir()
    cache.mkdir()
    (cache / 'mmcv-2.1.0-aaa-planted.whl').write_bytes(b'planted')  # sorts first
    (out / name).write_bytes(b'built')
    local = tmp_path / 'built.sha256'
    proc = subprocess.run(['bash', f'{ROOT}/tools/setup_env.sh', '--take-built-wheel',
                           str(out), str(cache)], env=dict(os.environ, MMCV_LOCAL_WHEELS=str(
                               local)), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == str(out / name)  # the file installed
    assert (cache / name).read_bytes() == b'built'
    assert local.read_text().split()[:2] == [hashlib.sha256(b'built').hexdigest(), name]
    # an empty build folder (a failed build) takes nothing
    (out / name).unlink()
    failed = subprocess.run(['bash', f'{ROOT}/tools/setup_env.sh', '--take-built-wheel',
                             str(out), str(cache)], env=dict(os.environ, MMCV_LOCAL_WHEELS=str(
                                 local)), capture_output=True, text=True)
    assert failed.returncode == 1 and 'found 0' in failed.stderr
    assert len(local.read_text().splitlines()) == 1


@pytest.mark.parametrize('missed', [False, True])
def test_gpu_speed_check_runs_every_target_and_fails_on_a_miss(missed, tmp_path):
    """tools/analysis_tools/gpu_speed_check.sh (python replaced by a probe that logs its
    arguments): the benchmark of the four families on CUDA at batch 64 with
    --check-targets, in fp32 and AMP, then the window attention; a missed target (the
    benchmark's exit 1) is the script's exit 1."""
    log = tmp_path / 'calls'
    probe = tmp_path / 'probe'
    fail = 'case "$*" in *--check-targets*) exit 1;; esac\n' if missed else ''
    probe.write_text(f'#!/bin/sh\necho "$*" >> {log}\n{fail}')
    probe.chmod(probe.stat().st_mode | stat.S_IEXEC)
    run = subprocess.run(['bash', f'{ROOT}/tools/analysis_tools/gpu_speed_check.sh',
                          str(probe)], env={**os.environ, 'OUT': str(tmp_path / 'out')},
                         capture_output=True, text=True)
    assert run.returncode == int(missed), run.stderr
    calls = log.read_text().splitlines()
    assert len(calls) == 3
    for call, amp in zip(calls, (False, True)):
        assert '--archs swin-tiny,ceit-tiny,t2t-vit-7,deit-tiny --device cuda' in call
        assert '--batch-size 64' in call and '--check-targets' in call
        assert ('--amp' in call) == amp
    assert '--window-attention --device cuda' in calls[2]
