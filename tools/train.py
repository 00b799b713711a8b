"""Train with mmpretrain / mmdet / mmseg (the config's default_scope decides).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [PATH]] [--amp]
        [--auto-scale-lr] [--cfg-options k=v ...] [--launcher none|pytorch|slurm]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from mpvg_mm.cli import train_main  # noqa: E402

if __name__ == '__main__':
    train_main()
