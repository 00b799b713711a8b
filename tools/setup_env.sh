#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment with the whole OpenMMLab 2.x stack.
#
#   tools/setup_env.sh            # creates .venv, idempotent; a second run takes seconds
#
# Environment knobs:
#   VENV=path          where the environment lives (default: .venv)
#   PYTHON=python3     the interpreter that creates it
#   TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"   what to install when no working pair is found
#   MMCV_WHEEL_DIR=dir a directory holding a prebuilt mmcv-2.1.0 wheel to try first
#   (a wheel is installed only if its sha256 is listed in requirements/mmcv-wheels.sha256
#   or was recorded when this script built it: tools/setup_env.sh --check-wheel FILE says)
#
# torch/torchvision: kept when the venv (or, through --system-site-packages, the base
# interpreter) already imports a working pair, e.g. a cluster's CUDA build.
# mmcv 2.1.0 with compiled ops, first match wins: $MMCV_WHEEL_DIR, ../shared/wheels/<tag>/,
# ~/.cache/mpvg_mm/wheels/<tag>/, else a build from the sdist (25-35 min on 2 cores)
# whose wheel is cached under ~/.cache/mpvg_mm/wheels/<tag>/ for the next time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
MMCV_VERSION=2.1.0
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/mpvg_mm/wheels
log() { printf '[setup] %s\n' "$*"; }
# mmcv wheels are installed only when their sha256 is listed: in the repository
# (requirements/mmcv-wheels.sha256) or, for a wheel built from the sdist by this script, in
# this checkout's record of its own builds (written when it is built; not tracked by git)
WHEEL_LISTS=("$ROOT/requirements/mmcv-wheels.sha256" "${MMCV_LOCAL_WHEELS:-$ROOT/.mmcv-wheels.local.sha256}")
wheel_allowed() {
  local sum listed
  sum=$(sha256sum "$1" | cut -d' ' -f1)
  listed=$(cat "${WHEEL_LISTS[@]}" 2>/dev/null | grep -v '^#' | cut -d' ' -f1 || true)
  grep -qxF "$sum" <<<"$listed"
}
# the wheel a build just wrote into OUT (a fresh, empty folder: exactly one wheel, never one
# planted in the cache), recorded in this checkout's list and copied into CACHE; prints its
# path in OUT (the file to install)
take_built_wheel() {
  local out=$1 cache=$2 built="" n=0 f
  for f in "$out"/mmcv-"$MMCV_VERSION"-*.whl; do
    if [ -f "$f" ]; then n=$((n + 1)); built=$f; fi
  done
  if [ $n != 1 ]; then
    log "ERROR: expected one mmcv $MMCV_VERSION wheel in the build folder $out, found $n" >&2
    return 1
  fi
  mkdir -p "$cache"
  cp -f "$built" "$cache/"
  echo "$(sha256sum "$built" | cut -d' ' -f1)  $(basename "$built")  built here $(date -u +%F) for $(basename "$cache")" \
    >> "${WHEEL_LISTS[1]}"
  echo "$built"
}
if [ "${1:-}" = "--take-built-wheel" ]; then  # OUT CACHE: the step after a build (tests)
  take_built_wheel "$2" "$3"
  exit $?
fi
if [ "${1:-}" = "--check-wheel" ]; then  # tools/setup_env.sh --check-wheel FILE: 0 if allowed
  if wheel_allowed "$2"; then log "allowed: $2"; exit 0; fi
  log "not allowed: $2 (sha256 $(sha256sum "$2" | cut -d' ' -f1) is not listed in ${WHEEL_LISTS[*]})"
  exit 1
fi

stamp_inputs() { cat requirements.txt requirements/*.txt requirements/mmcv-wheels.sha256 pyproject.toml tools/setup_env.sh; }
want_stamp=$(stamp_inputs | sha1sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.mpvg_ready" 2>/dev/null)" = "$want_stamp" ]; then
  exit 0  # everything installed by an earlier run with the same requirements
fi

if [ ! -x "$VENV/bin/python" ]; then
  venv_args=()
  if "$PYTHON" -c 'import torch, torchvision' >/dev/null 2>&1; then
    log "base interpreter has torch + torchvision: reusing them (--system-site-packages)"
    venv_args+=(--system-site-packages)
  fi
  log "creating $VENV"
  "$PYTHON" -m venv "${venv_args[@]}" "$VENV"
fi
PY="$ROOT/$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip 'setuptools<82' wheel

if "$PY" -c 'import torch, torchvision' >/dev/null 2>&1; then
  log "torch $("$PY" -c 'import torch; print(torch.__version__)') + torchvision already work: kept"
else
  log "installing $TORCH_SPEC (several GB on a fresh machine)"
  # shellcheck disable=SC2086
  "${PIP[@]}" install $TORCH_SPEC
fi

log "installing the OpenMMLab stack (mmcv comes next) and test tools (requirements.txt)"
"${PIP[@]}" install -q -r requirements.txt

mmcv_ok() {
  "$PY" - <<PYEOF >/dev/null 2>&1
import mmcv, torch
assert mmcv.__version__ == '$MMCV_VERSION', mmcv.__version__
from mmcv.ops import MultiScaleDeformableAttention, RoIAlign, nms  # compiled ops load
PYEOF
}

if mmcv_ok; then
  log "mmcv $MMCV_VERSION with ops already installed"
else
  tag=$("$PY" -c 'import platform, sys, torch; v=torch.__version__.split("+")[0]; print(f"torch-{v}-py{sys.version_info.major}{sys.version_info.minor}-{platform.machine()}")')
  candidates=()
  [ -n "${MMCV_WHEEL_DIR:-}" ] && candidates+=("$MMCV_WHEEL_DIR")
  candidates+=("$ROOT/../shared/wheels/$tag" "$CACHE_ROOT/$tag")
  installed=0
  for dir in "${candidates[@]}"; do
    for whl in "$dir"/mmcv-"$MMCV_VERSION"-*.whl; do
      [ -f "$whl" ] || continue
      if ! wheel_allowed "$whl"; then
        log "skipping $whl: its sha256 $(sha256sum "$whl" | cut -d' ' -f1) is not listed in ${WHEEL_LISTS[*]}"
        continue
      fi
      log "trying cached mmcv wheel $whl"
      if "${PIP[@]}" install -q --no-deps --force-reinstall "$whl" && mmcv_ok; then
        installed=1; break 2
      fi
      log "  that wheel does not load against this torch ($("$PY" -c 'import mmcv.ops' 2>&1 | tail -n1)); trying the next source"
    done
  done
  if [ $installed = 0 ]; then
    log "no matching mmcv wheel: building mmcv $MMCV_VERSION with ops from the sdist"
    log "this takes 25-35 minutes on 2 cores; the wheel is cached in $CACHE_ROOT/$tag"
    "${PIP[@]}" install -q ninja psutil
    build=$(mktemp -d)
    "${PIP[@]}" download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VERSION" -d "$build"
    tar -xzf "$build"/mmcv-"$MMCV_VERSION".tar.gz -C "$build"
    src="$build/mmcv-$MMCV_VERSION"
    if "$PY" -c 'import sys, torch; v=tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]); sys.exit(0 if v >= (2, 14) else 1)'; then
      log "torch >= 2.14: compiling with -std=c++20 (torch's headers require it)"
      sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
    fi
    build_log="$build/build.log"
    mkdir "$build/wheel"  # fresh and empty: only the wheel this build writes is taken
    # progress: the compiler's [n/N] lines; the whole log stays in $build_log
    if ! (cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
          "${PIP[@]}" wheel -v --no-build-isolation --no-deps . -w "$build/wheel" 2>&1 \
          | tee "$build_log" | grep --line-buffered -E '^ *\[[0-9]+/[0-9]+\]'); then
      :  # grep's status is not the build's; the wheel's presence is checked below
    fi
    if ! whl=$(take_built_wheel "$build/wheel" "$CACHE_ROOT/$tag"); then
      tail -n 40 "$build_log"
      log "ERROR: building mmcv $MMCV_VERSION failed; the last lines of its log are above"
      exit 1
    fi
    "${PIP[@]}" install -q --no-deps --force-reinstall "$whl"
    rm -rf "$build"
    mmcv_ok || { log "ERROR: the freshly built mmcv does not load its ops"; exit 1; }
  fi
  log "mmcv $MMCV_VERSION with ops ready"
fi

"${PIP[@]}" install -q --no-deps -e .
"$PY" -c 'import mmcv, mmengine, mmpretrain, mmdet, mmseg, mpvg_mm' \
  || { log "ERROR: the stack does not import"; exit 1; }
echo "$want_stamp" > "$VENV/.mpvg_ready"
log "environment ready: $VENV"
