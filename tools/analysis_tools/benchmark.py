"""Throughput, peak memory, parameters and FLOPs of the PE presets against mmpretrain's
and timm's ViT (protocol: mpvg_mm/analysis/benchmark.py).

    python tools/analysis_tools/benchmark.py [--archs deit-tiny,deit-small,deit-base] \
        [--batch-size 64] [--img-size 224] [--iters 10] [--warmup 3] [--device cpu|cuda] \
        [--amp] [--threads N] [--json OUT.json] [--markdown OUT.md]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mpvg_mm.analysis.benchmark import main  # noqa: E402

if __name__ == '__main__':
    main()
