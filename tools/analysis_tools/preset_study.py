"""Multi-seed study of the PE presets on the demo's position-dependent task: val accuracy
(mean +- std) and the per-layer counterbalancing correlation of every trained model.

    python tools/analysis_tools/preset_study.py [--data-root data/demo/imagenet] \
        [--seeds 0,1,2] [--epochs N] \
        [--presets default,lape,pvg,mpvg,default-gap,default-gap-lastlnpe] \
        [--threads 1] [--out-dir work_dirs/preset_study]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mpvg_mm.analysis.preset_study import main  # noqa: E402

if __name__ == '__main__':
    main()
