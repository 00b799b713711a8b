"""``convert.py --layout timm`` under its former name (kept for existing commands).

    python tools/model_converters/timm2mpvg.py SRC.pth DST.pth [convert.py's flags]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from convert import main  # noqa: E402

if __name__ == '__main__':
    main(default_layout='timm')
