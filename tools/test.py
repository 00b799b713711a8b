"""Test a checkpoint with mmpretrain / mmdet / mmseg (the config's default_scope decides).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl] [--non-strict]
        [--show-dir DIR] [--cfg-options k=v ...] [--launcher none|pytorch|slurm]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mpvg_mm.cli import test_main  # noqa: E402

if __name__ == '__main__':
    test_main()
