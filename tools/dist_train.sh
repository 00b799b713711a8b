#!/usr/bin/env bash
# Distributed training with torchrun, as OpenMMLab's scripts:
#   [NNODES=1 NODE_RANK=0 PORT=29500 MASTER_ADDR=127.0.0.1] tools/dist_train.sh CONFIG GPUS [args]
# On CPU, add --cfg-options env_cfg.dist_cfg.backend=gloo.
CONFIG=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DIR=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python}

PYTHONPATH="$(dirname "$DIR")${PYTHONPATH:+:$PYTHONPATH}" \
exec $PYTHON -m torch.distributed.run \
    --nnodes=$NNODES --node_rank=$NODE_RANK --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS --master_port=$PORT \
    "$DIR/train.py" "$CONFIG" --launcher pytorch "$@"
