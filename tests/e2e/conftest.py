"""Fixtures of the end-to-end tests: the tools run as a user runs them (a fresh
interpreter per command, one thread) or, where a fresh interpreter is not what a test checks,
in this process; the demo data generated in this process."""
import glob
import json
import os
import select
import subprocess
import sys

import pytest

ROOT = __file__.rsplit('/tests/', 1)[0]
DEMO_CONFIG = f'{ROOT}/configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'


def _run(command, cwd=ROOT, env=None, timeout=900):
    """``command`` in ``cwd`` with this repository and the test hooks importable (as
    ``pip install -e .`` makes the repository) and one thread; returns stdout + stderr,
    failing with their tail when the command fails."""
    full_env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
                    PYTHONPATH=f'{ROOT}:{ROOT}/tests/e2e')
    full_env.update(env or {})  # the caller's entries win (PYTHONPATH included)
    proc = subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope='session')
def run_python():
    """``run_python(args, cwd=ROOT, env=None)``: ``python ARGS`` in a fresh interpreter;
    returns its stdout + stderr (the test fails with their tail when it fails)."""
    return lambda args, **kwargs: _run([sys.executable, *args], **kwargs)


@pytest.fixture(scope='session')
def run_tool():
    """``run_tool('train.py', args, cwd=ROOT, env=None)``: ``python tools/train.py ARGS``
    (``bash tools/NAME.sh ARGS`` for a shell script), as ``run_python``."""

    def run(script, args, **kwargs):
        path = f'{ROOT}/tools/{script}'
        return _run([sys.executable if script.endswith('.py') else 'bash', path, *args],
                    **kwargs)

    return run


_FORK_SERVER = r"""
import atexit, json, os, runpy, sys, traceback
exec(sys.argv[1])  # the preload
print('ready', flush=True)
for line in sys.stdin:
    run = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(run['cwd'])
            os.environ.update(run['env'])
            os.dup2(os.open(run['stdout'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
            os.dup2(os.open(run['stderr'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
            sys.argv = [run['script'], *run['args']]
            sys.path[0] = os.path.dirname(run['script'])  # as `python SCRIPT` has it
            runpy.run_path(run['script'], run_name='__main__')
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else exit.code is not None
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                atexit._run_exitfuncs()
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    print(pid, flush=True)
    print(os.waitpid(pid, 0)[1], flush=True)
"""


class ForkServer:
    """``python SCRIPT ARGS`` without an interpreter start each: one fresh interpreter runs
    ``preload`` (imports) once, then forks a child per run that executes SCRIPT as
    ``__main__`` (its own cwd, environment entries, argv, ``sys.path[0]``, stdout and
    stderr files, atexit handlers): a real process, ended by its exit code or a signal."""

    def __init__(self, preload, folder):
        self.folder, self.runs = folder, 0
        env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
                   PYTHONPATH=f'{ROOT}:{ROOT}/tests/e2e')
        self.proc = subprocess.Popen([sys.executable, '-c', _FORK_SERVER, preload], cwd=ROOT,
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._line(600) == 'ready'

    def _line(self, timeout):
        """The server's next line (read unbuffered: a buffer would hide lines from select)."""
        line = b''
        while not line.endswith(b'\n'):
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            assert ready, f'the fork server did not answer in {timeout} s'
            byte = os.read(self.proc.stdout.fileno(), 1)
            assert byte, 'the fork server ended'
            line += byte
        return line.decode().strip()

    def start(self, script, args, cwd=ROOT, env=None):
        """Fork a run; returns ``(pid, output)``: ``output()`` is its stdout + stderr."""
        self.runs += 1
        out = [f'{self.folder}/run{self.runs}.{stream}' for stream in ('out', 'err')]
        self.proc.stdin.write(json.dumps(dict(
            script=str(script), args=[str(a) for a in args], cwd=str(cwd), env=env or {},
            stdout=out[0], stderr=out[1])).encode() + b'\n')
        self.proc.stdin.flush()

        def output():
            return ''.join(open(path, errors='replace').read() for path in out)

        return int(self._line(60)), output

    def ended(self, pid):
        """Whether the run ``pid`` has ended (then :meth:`wait` returns at once)."""
        try:
            with open(f'/proc/{pid}/stat') as f:
                return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
        except FileNotFoundError:
            return True

    def wait(self, timeout=900):
        """The wait status (``os.waitpid``) of the run started last."""
        return int(self._line(timeout))

    def run(self, script, args, cwd=ROOT, env=None, timeout=900):
        """As ``run_python([script, *args])``: stdout + stderr, failing when it fails."""
        _, output = self.start(script, args, cwd, env)
        status = self.wait(timeout)
        assert status == 0, f'wait status {status}\n{output()[-4000:]}'
        return output()

    def close(self):
        self.proc.kill()  # idle between runs: nothing of it to keep
        self.proc.wait(timeout=60)
        self.proc.stdin.close()
        self.proc.stdout.close()


@pytest.fixture(scope='module')
def fork_server(tmp_path_factory):
    """``fork_server(preload)``: a :class:`ForkServer` that ran the Python code ``preload``
    (closed at the end of the module)."""
    servers = []

    def start(preload):
        servers.append(ForkServer(preload, tmp_path_factory.mktemp('fork_server')))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope='session')
def run_in_process():
    """``run_in_process('train.py', args)``: ``tools/train.py ARGS`` (or ``test.py``) in this
    process, on one thread: the tool's main, without the seconds of an interpreter start
    that imports the toolboxes; returns the log it wrote under ``--work-dir`` (what the
    command prints, from the runner's logger)."""
    import torch
    from mmengine.registry import DefaultScope

    from mpvg_mm import cli
    if f'{ROOT}/tests/e2e' not in sys.path:  # the test hooks (custom_imports)
        sys.path.insert(0, f'{ROOT}/tests/e2e')
    mains = {'train.py': cli.train_main, 'test.py': cli.test_main}

    def run(script, args):
        work_dir = args[args.index('--work-dir') + 1]
        before = set(glob.glob(f'{work_dir}/*/*.log'))
        threads = torch.get_num_threads()
        scopes = dict(DefaultScope._instance_dict)  # the runner's scope ends with it
        torch.set_num_threads(1)
        try:
            mains[script]([str(a) for a in args])
        finally:
            torch.set_num_threads(threads)
            DefaultScope._instance_dict.clear()
            DefaultScope._instance_dict.update(scopes)
        (log, ) = set(glob.glob(f'{work_dir}/*/*.log')) - before
        with open(log) as f:
            return f.read()

    return run


@pytest.fixture(scope='session')
def make_demo_data(tool):
    """``make_demo_data(out_dir, '--formats', 'ade20k', ...)``: tools/make_demo_data.py with
    these arguments, in this process (the same seeded images as its command line, without
    an interpreter start that imports the toolboxes)."""
    return lambda out, *args: tool('make_demo_data').main([str(out), *args])


@pytest.fixture(scope='session')
def demo_cls_config(tmp_path_factory, make_demo_data):
    """The demo classifier's config on 16 generated images a class (4 iterations an epoch),
    recording its losses (RecordLossHook), logging every iteration; generated once."""
    out = tmp_path_factory.mktemp('demo')
    make_demo_data(out, '--formats', 'imagenet', '--num-train', '16', '--num-val', '4')
    root = f'{out}/imagenet'
    config = out / 'demo_cls.py'
    config.write_text(
        f"_base_ = ['{DEMO_CONFIG}']\n"
        "custom_imports = dict(imports=['mpvg_mm', 'mpvg_test_hooks'])\n"
        "custom_hooks = [dict(type='RecordLossHook')]\n"
        "default_hooks = dict(logger=dict(interval=1))\n"
        f"train_dataloader = dict(batch_size=32, dataset=dict(data_root='{root}'))\n"
        f"val_dataloader = dict(dataset=dict(data_root='{root}'))\n"
        f"test_dataloader = dict(dataset=dict(data_root='{root}'))\n")
    return str(config)


_EXIT_PROBE = '''\
import atexit
import os


def _native_threads_at_exit():
    if 'RANK' not in os.environ or 'EXIT_PROBE_DIR' not in os.environ:
        return  # the launcher, or a run without the probe
    with open('/proc/self/status') as status:
        threads = next(line.split()[1] for line in status if line.startswith('Threads:'))
    path = os.path.join(os.environ['EXIT_PROBE_DIR'], 'rank%s.%d' % (os.environ['RANK'],
                                                                   os.getpid()))
    with open(path, 'w') as out:
        out.write(threads)


atexit.register(_native_threads_at_exit)  # registered first: runs after the others
'''


class ExitProbe:
    """Counts each rank's native threads when its interpreter starts finalizing (an
    ``atexit`` handler in a ``sitecustomize`` put first on ``PYTHONPATH``): only the main
    thread may be left. gloo threads still alive then can abort the rank at exit
    (``terminate called without an active exception``; see
    ``mpvg_mm.cli._close_distributed``), in about 1 run of 13; this count shows them on
    every run."""

    def __init__(self, folder):
        self.folder = folder

    def env(self, out_dir, pythonpath=None) -> dict:
        """Environment entries for a launch that records into ``out_dir``."""
        os.makedirs(out_dir, exist_ok=True)
        path = [str(self.folder)] + ([pythonpath] if pythonpath else [])
        return dict(PYTHONPATH=os.pathsep.join(path), EXIT_PROBE_DIR=str(out_dir))

    @staticmethod
    def threads(out_dir) -> dict:
        """``{'rank0': n, 'rank1': n, ...}``: the native threads of each rank at exit."""
        return {name.split('.')[0]: int(open(os.path.join(out_dir, name)).read())
                for name in os.listdir(out_dir)}


@pytest.fixture(scope='session')
def exit_probe(tmp_path_factory):
    folder = tmp_path_factory.mktemp('exit_probe')
    (folder / 'sitecustomize.py').write_text(_EXIT_PROBE)
    return ExitProbe(folder)


@pytest.fixture
def tiny_cls_config(tmp_path, make_demo_data):
    """``tiny_cls_config(base, epochs=2)``: the demo classification config ``base`` on 4
    generated images a class (2 for validation), ``epochs`` epochs validated at the end,
    logging every iteration; returns the new config's path (under ``tmp_path``)."""

    def make(base, epochs=2):
        make_demo_data(tmp_path, '--formats', 'imagenet', '--num-train', '4', '--num-val',
                       '2')
        root = f'{tmp_path}/imagenet'
        config = tmp_path / 'tiny_cls.py'
        config.write_text(
            f"_base_ = ['{base}']\n"
            "default_hooks = dict(logger=dict(interval=1))\n"
            f"train_cfg = dict(max_epochs={epochs}, val_interval={epochs})\n"
            f"train_dataloader = dict(batch_size=16, dataset=dict(data_root='{root}'))\n"
            f"val_dataloader = dict(dataset=dict(data_root='{root}'))\n"
            f"test_dataloader = dict(dataset=dict(data_root='{root}'))\n")
        return str(config)

    return make


@pytest.fixture
def train_then_test(tmp_path, tiny_cls_config, run_in_process):
    """``train_then_test(base)``: ``tools/train.py`` (2 epochs) then ``tools/test.py`` on the
    last checkpoint, on :func:`tiny_cls_config`; asserts that both epochs trained, the
    validation and the test printed top-1, and returns ``(train_log, test_log)``."""
    import re

    def run(base):
        config, wd = tiny_cls_config(base, epochs=2), tmp_path / 'cls'
        out = run_in_process('train.py', [config, '--work-dir', str(wd)])
        assert re.search(r'Epoch\(train\)\s+\[2\]\[\s*(\d+)/\1\].*loss', out), out[-3000:]
        assert re.search(r'Epoch\(val\) \[2\]\[\d+/\d+\]\s+accuracy/top1', out), out[-3000:]
        test = run_in_process('test.py', [config, f'{wd}/epoch_2.pth', '--work-dir',
                                          str(tmp_path / 'test')])
        assert re.search(r'Epoch\(test\).*accuracy/top1', test), test[-3000:]
        return out, test

    return run
