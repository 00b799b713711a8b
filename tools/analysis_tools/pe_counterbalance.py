"""PE counterbalancing diagnostics of a checkpoint (the paper's Fig. 2, 4, 6-7).

    python tools/analysis_tools/pe_counterbalance.py CONFIG CHECKPOINT --out-dir DIR \
        [--num-images 64] [--device cpu] [--no-strict] [--cfg-options k=v ...]

Works for mmpretrain classifiers, mmdet detectors and mmseg segmentors whose
``model.backbone`` is an MPVGViT (or MPVGViTAdapter). Writes correlation.png/.csv,
heatmaps.png/.npz, last_ln.png, token_norms_cosine.png and diagnostics.json; the
definitions are in mpvg_mm/analysis/counterbalance.py.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mpvg_mm.analysis.counterbalance import main  # noqa: E402

if __name__ == '__main__':
    main()
