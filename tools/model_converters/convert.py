"""Convert a checkpoint of another layout to MPVGViT / MPVGT2TViT / MPVGCeiT (mmpretrain / mmseg).

    python tools/model_converters/convert.py SRC.pth DST.pth [--layout LAYOUT]
        [--pe-mode lape] [--pe-cfg '{"input_pe": false}'] [--with-cls-token {0,1}]
        [--arch NAME|JSON] [--img-size H [W]]

Layouts (detected from the keys unless ``--layout`` forces one):

* ``timm``: timm / DeiT / LaPE / MPVG ``.pth`` (``blocks.{i}.attn.qkv``, ``pe_norm``,
  ``last_pe_norm``) -> ``ImageClassifier(MPVGViT, LinearClsHead)``;
* ``mmpretrain``: mmpretrain ``VisionTransformer`` classifiers / backbones
  (``backbone.layers.{i}.ln1``, ``attn.qkv``, ``ffn.layers.0.0``, final ``ln1``; layer
  scale folded; ``VisionTransformerClsHead`` without hidden layer -> ``head.fc``);
* ``mmseg``: mmseg ``VisionTransformer`` segmentors / backbones
  (``layers.{i}.attn.attn.in_proj_weight``); decode / auxiliary heads kept as they are;
* ``vit-adapter``: the official ViT-Adapter (``czczup/ViT-Adapter``) backbone or mmdet 2.x /
  mmseg 0.x model (``spm``, ``interactions.{i}.injector``, ...) -> ``MPVGViTAdapter(
  pe_mode='default', vit_output_norm=False, window_padding='qkv', layer_scale=True)``
  (``--fold-layer-scale``: gammas folded, ``layer_scale=False``); heads kept as they are;
* ``t2t-vit``: the reference T2T-ViT (``yitu-opensource/T2T-ViT``, Performer tokenizer;
  ``tokens_to_token.attention1/2``, ``blocks.{i}``, ``norm``, ``head``) ->
  ``ImageClassifier(MPVGT2TViT, LinearClsHead)`` (``qk_scale=embed_dims ** -0.5``, as the
  reference loads its released weights);
* ``ceit``: the reference CeiT (``coeusguo/ceit`` ``ceit_model.py``; ``i2t.backbone.conv/bn``,
  ``i2t.proj``, ``blocks.{i}.leff``, ``pos_layer_embed``, ``lca``, ``norm``, ``head``) ->
  ``ImageClassifier(MPVGCeiT, LinearClsHead)``, Default; the arch (``ceit-tiny``/``-small``/
  ``-base``) from the shapes; ``*_384`` files: ``--img-size 384``.

The result loads with strict key matching; the preset is inferred from the keys unless
given, and printed with every inference the conversion made; keys with no place are
refused by name. The grid of ``pos_embed`` is recorded (``backbone.pos_embed_grid``):
``--img-size``, the size the file was trained at, or else the arch's (DeiT: 224).
``--with-cls-token 0`` converts to a model without class token: ``cls_token`` and the class
row of ``pos_embed`` are dropped, each where the file has it (rows against the grid tell a
class row whose token is missing, or a class token without a PE row; without the flag
both are refused by name). A file already in this project's layout (``backbone.*`` of
MPVGViT, MPVGCeiT, MPVGT2TViT, MPVGSwin, MPVGViTAdapter) is refused, naming the backbone:
load it directly.
"""
import argparse
import json
import os.path as osp
import sys

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from mpvg_mm.models.checkpoint_layout import LAYOUTS, convert_checkpoint  # noqa: E402
from mpvg_mm.compat import (CorruptCheckpointError, UnsafeCheckpointError,  # noqa: E402
                            load_checkpoint_file)


def _arch(text: str):
    """``--arch``: a JSON dict, or a name (checked later by ``resolve_arch``)."""
    return json.loads(text) if text.lstrip().startswith('{') else text


def main(argv=None, default_layout=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--layout', choices=LAYOUTS, default=default_layout,
                        help='the layout of SRC (default: detected from its keys)')
    parser.add_argument('--pe-mode', choices=['default', 'lape', 'pvg', 'mpvg'])
    parser.add_argument('--pe-cfg', type=json.loads, help='JSON dict of PE switches')
    parser.add_argument('--with-cls-token', type=int, choices=[0, 1],
                        help='0: a model without class token (drops cls_token and the class '
                        'row of pos_embed where the file has them)')
    parser.add_argument('--arch', type=_arch,
                        help='an arch name (deit-tiny, vit-lite, t2t-vit-7, ceit-tiny, ...) '
                        'or a JSON arch dict, for sizes the keys do not name')
    parser.add_argument('--img-size', type=int, nargs='+', metavar='SIZE',
                        help='the size the checkpoint was trained at: S or H W '
                             "(default: the arch's, e.g. 224 for DeiT)")
    parser.add_argument('--fold-layer-scale', action='store_true',
                        help='vit-adapter: fold gamma1/gamma2 into attn.proj/mlp.fc2')
    parser.add_argument('--vit-feature', choices=['last', 'per_group'],
                        help="vit-adapter: 'per_group' for a bare official segmentation/ "
                        'backbone (a segmentor is recognised by its decode_head)')
    args = parser.parse_args(argv)
    overrides = {}
    if args.pe_mode:
        overrides['pe_mode'] = args.pe_mode
    if args.pe_cfg is not None:
        overrides['pe_cfg'] = args.pe_cfg
    if args.arch is not None:
        overrides['arch'] = args.arch
    if args.img_size is not None:
        overrides['img_size'] = args.img_size[0] if len(args.img_size) == 1 else args.img_size
    if args.with_cls_token is not None:
        overrides['with_cls_token'] = bool(args.with_cls_token)
    if args.vit_feature:
        overrides['vit_feature'] = args.vit_feature
    if args.fold_layer_scale:
        overrides['fold_layer_scale'] = True
    if not osp.isfile(args.src):
        parser.error(f'{args.src}: no such checkpoint file.')
    try:
        # weights only; importing mpvg_mm allow-listed mmengine's checkpoint types
        ckpt = load_checkpoint_file(args.src, map_location='cpu')
        converted, cfg, notes = convert_checkpoint(ckpt, args.layout, overrides)
    except (CorruptCheckpointError, UnsafeCheckpointError, ValueError) as err:
        sys.exit(f'refused: {err}')  # one line: what is wrong with SRC and the fix
    torch.save(converted, args.dst)
    for line in notes:
        print(line)
    print(f'inferred backbone: {cfg}')  # the keys' facts, the overrides, and the defaults
    grid = converted['meta']['pos_embed_grid']
    print(f'recorded pos_embed grid: {grid[0]}x{grid[1]}')
    print(f'head classes: {converted["meta"]["num_classes"]}')
    print(f'wrote {len(converted["state_dict"])} tensors to {args.dst}')


if __name__ == '__main__':
    main()
