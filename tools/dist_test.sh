#!/usr/bin/env bash
# Distributed testing with torchrun, as OpenMMLab's scripts:
#   [NNODES=1 NODE_RANK=0 PORT=29500 MASTER_ADDR=127.0.0.1] tools/dist_test.sh CONFIG CHECKPOINT GPUS [args]
# On CPU, add --cfg-options env_cfg.dist_cfg.backend=gloo.
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DIR=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}

# the launcher without the current directory first on sys.path (as `python -m` puts it: a
# uuid.py there would shadow the standard library's): -P (Python >= 3.11), else the
# launcher's main called after dropping that entry
if $PYTHON -P -c '' >/dev/null 2>&1; then
    LAUNCHER=(-P -m torch.distributed.run)
else
    LAUNCHER=(-c 'import sys; del sys.path[0]; from torch.distributed.run import main; main()')
fi
PYTHONPATH="$(dirname "$DIR")${PYTHONPATH:+:$PYTHONPATH}" \
exec $PYTHON "${LAUNCHER[@]}" \
    --nnodes=$NNODES --node_rank=$NODE_RANK --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS --master_port=$PORT \
    "$DIR/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
