"""Fold MPVG's Last-LN PE into the head bias for inference (same logits, PVG's cost).

    python tools/model_converters/fold_mpvg.py CONFIG CHECKPOINT DST

DST loads into the same config with ``model.backbone.pe_cfg.last_ln_pos=None`` (printed);
its meta records the folding (``folded_last_ln_pe``, ``folded_pe_cfg``), from which
``tools/test.py CONFIG DST`` builds the folded model by itself.
Valid at the config's ``img_size`` only (see mpvg_mm/models/folding.py): the meta records
it (``folded_img_size``, pixels ``(H, W)``) and tools/test.py warns at another test size.
"""
import argparse
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('dst')
    args = parser.parse_args(argv)
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    from mpvg_mm.models.folding import fold_img_size, fold_last_ln_pe
    from mpvg_mm.registry import build_model
    model = build_model(Config.fromfile(args.config))
    ckpt = load_checkpoint(model, args.checkpoint, map_location='cpu', strict=True)
    state, update = fold_last_ln_pe(model.eval())
    # what tools/test.py reads to build the folded model from the unfolded config
    meta = dict(ckpt.get('meta', {}), folded_last_ln_pe=True, folded_pe_cfg=update['pe_cfg'],
                folded_img_size=list(fold_img_size(model.backbone)))
    torch.save(dict(state_dict=state, meta=meta), args.dst)
    print(f'wrote {args.dst}; build it with model.backbone.pe_cfg={update["pe_cfg"]}')


if __name__ == '__main__':
    main()
