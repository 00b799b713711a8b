"""Checkpoints of other layouts -> ``MPVGViT`` / ``MPVGViTAdapter`` / ``MPVGT2TViT`` /
``MPVGCeiT`` models.

:func:`convert_checkpoint` is the entry point (``tools/model_converters/convert.py``): it
detects the layout from the keys (:func:`detect_layout`; a file already in one of this
project's backbone layouts is refused, naming the backbone), maps mmpretrain's and mmseg's
``VisionTransformer`` to the timm layout first (:func:`openmmlab_vit_to_timm`), and the
official ViT-Adapter to ``MPVGViTAdapter`` (:func:`vit_adapter_to_mpvg`), the reference
T2T-ViT to ``MPVGT2TViT`` (:func:`convert_t2t_vit`) and the reference CeiT
(``coeusguo/ceit``) to ``MPVGCeiT`` (:func:`convert_ceit`).

The load-time check shared by every backbone is :func:`refuse_foreign_checkpoint`: each
backbone describes its layout with a :class:`BackboneKeyLayout` (``MPVGViT``:
:func:`vit_key_layout`; ``MPVGSwin``: ``MPVGSwin.checkpoint_key_layout``) and its
load-state-dict pre-hook calls the check before anything is loaded.

The timm layout (DeiT ``.pth`` files, the official LaPE code): ``patch_embed.proj.*``,
``cls_token``, ``pos_embed``, ``blocks.{i}.(norm1|attn.qkv|attn.proj|norm2|mlp.fc1|mlp.fc2).*``,
``norm.*`` (the Last LN), ``head.*``; layer-wise PE LNs ``blocks.{i}.pe_norm.*``; MPVG's
LN'' on ``pos_0`` ``last_pe_norm.*``. ``MPVGViT`` uses the same names except
``pe.layer_norms.{i}.*`` and ``pe.last_norm.*``, so the conversion is a renaming.

The converted checkpoint records the grid of ``pos_embed`` (``backbone.pos_embed_grid``,
see ``MPVGViT``), which a timm file does not: the file's own ``pos_embed_grid`` if it has
one, else the given ``img_size``, else the named arch's ``img_size`` (DeiT: 224, ViT-Lite:
32); the patch rows must add up to that grid, or the conversion is refused, naming a
class row without ``cls_token`` or a ``cls_token`` without its row when the count shows one.
"""
import math
import re
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import torch

from .backbones.mpvg_vit import ARCH_SETTINGS, resolve_arch, size_pair
from .pos_embed import PE_PRESETS

_BLOCK_PARTS = ('norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1', 'mlp.fc2')
_BLOCK_KEY = re.compile(r'^blocks\.(\d+)\.(' + '|'.join(map(re.escape, _BLOCK_PARTS)) +
                        r')\.(weight|bias)$')
_PE_NORM_KEY = re.compile(r'^blocks\.(\d+)\.pe_norm\.(weight|bias)$')
_TOP_KEYS = {'cls_token', 'pos_embed', 'pos_embed_grid', 'patch_embed.proj.weight',
             'patch_embed.proj.bias', 'norm.weight', 'norm.bias'}


def unwrap_state_dict(ckpt: dict, notes: Optional[list] = None) -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint saved as ``{'state_dict': ...}`` (mmengine),
    ``{'model': ..., 'model_ema': ...}`` (DeiT's main.py), nested (``{'state_dict':
    {'model': ...}}``) or bare; a ``module.`` prefix (DDP) is removed.

    Deterministic: at each level the first of ``state_dict``, ``model``, ``model_ema``
    that holds a non-empty dict is taken (the trained weights before the EMA, as DeiT
    validates them); ``notes`` receives which key path was used and which other wrapper
    keys were present and not used.

    Raises:
        ValueError: the file is not a dict (a pickled list or tensor), or no tensors are
            left (e.g. ``{'state_dict': {}}``).
    """
    if not isinstance(ckpt, dict):
        raise ValueError(f'the file holds a {type(ckpt).__name__}, not a checkpoint dict '
                         '(a state dict, or one under state_dict / model / model_ema).')
    path = []
    while True:
        found = [k for k in ('state_dict', 'model', 'model_ema')
                 if isinstance(ckpt.get(k), dict)]
        used = next((k for k in found if ckpt[k]), None)
        if used is None:
            break
        path.append(used)
        others = [k for k in found if k != used]
        if notes is not None:
            notes.append(f"weights from checkpoint{''.join(f'[{k!r}]' for k in path)}"
                         + (f' (also present, not used: {others})' if others else ''))
        ckpt = ckpt[used]
    sd = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in ckpt.items()
          if isinstance(v, torch.Tensor)}
    if not sd:
        raise ValueError(f'no tensors in the checkpoint (keys at the level read: '
                         f'{sorted(map(str, ckpt))[:6]}).')
    return sd


def _closest_preset(observed: dict, with_cls: bool) -> str:
    """The preset of :data:`PE_PRESETS` that needs the fewest overrides to match what a
    checkpoint's keys show (which blocks own an ``LN'``; whether ``LN''`` exists; the
    class token), the ``LN'`` blocks weighing most. ``input_pe``, ``hierarchical`` and
    the ``k`` of ``LN''(pos_k)`` leave no trace in the keys: they are the preset's."""
    def score(item):
        structure, preset_cls = item[1]
        return (2 * (structure.layerwise_from == observed['layerwise_from']) +
                ((structure.last_ln_pos is None) == (observed['last_ln_pos'] is None)) +
                0.5 * (preset_cls == with_cls))
    return max(PE_PRESETS.items(), key=score)[0]


def infer_model_cfg(sd: Dict[str, torch.Tensor]) -> dict:
    """Guess ``MPVGViT`` kwargs from timm-layout keys; raises on what it cannot map."""
    if 'dist_token' in sd:
        raise ValueError('this is a distilled DeiT (it has dist_token); MPVGViT has no '
                         'distillation token: use the non-distilled checkpoint.')
    if 'pos_embed' not in sd or 'patch_embed.proj.weight' not in sd:
        raise ValueError('not a timm-layout ViT checkpoint: pos_embed / patch_embed.proj.weight '
                         f'missing (first keys: {sorted(sd)[:6]}).')
    dims = sd['pos_embed'].shape[-1]
    depth = _depth(sd)
    patch = sd['patch_embed.proj.weight'].shape[-1]
    arch = next((name for name, a in ARCH_SETTINGS.items()
                 if (a['embed_dims'], a['num_layers'], a['patch_size']) == (dims, depth, patch)),
                None)  # None: the head count cannot be read off the weights
    return dict(arch=arch, **_inferred_pe_cfg(sd, depth))


def _depth(sd: Dict[str, torch.Tensor]) -> int:
    """The number of ``blocks.{i}`` in a timm-named state dict."""
    return 1 + max(int(m.group(1)) for m in map(re.compile(r'^blocks\.(\d+)\.').match, sd) if m)


def _inferred_pe_cfg(sd: Dict[str, torch.Tensor], depth: int) -> dict:
    """``pe_mode``, ``with_cls_token`` and (if needed) ``pe_cfg`` from timm-named keys: the
    blocks with an ``LN'`` (``blocks.{i}.pe_norm``), ``LN''`` (``last_pe_norm``) and
    ``cls_token`` give the nearest preset (:func:`_closest_preset`) and its overrides.

    Raises:
        ValueError: ``LN'`` on blocks that are not a contiguous run to the last block.
    """
    pe_blocks = sorted(int(m.group(1)) for m in map(_PE_NORM_KEY.match, sd)
                       if m and m.group(2) == 'weight')
    if pe_blocks and pe_blocks != list(range(pe_blocks[0], depth)):
        raise ValueError(f'layer-wise PE norms on blocks {pe_blocks}: not a contiguous run '
                         'to the last block, which no PE structure here produces.')
    with_cls = 'cls_token' in sd
    observed = dict(layerwise_from=pe_blocks[0] if pe_blocks else None,
                    last_ln_pos=0 if 'last_pe_norm.weight' in sd else None)
    pe_mode = _closest_preset(observed, with_cls)
    pe_cfg = {k: v for k, v in observed.items() if getattr(PE_PRESETS[pe_mode][0], k) != v}
    return dict(pe_mode=pe_mode, with_cls_token=with_cls, **({'pe_cfg': pe_cfg} if pe_cfg else {}))


def _to_classifier_keys(sd: Dict[str, torch.Tensor], is_backbone_key: Callable[[str], bool],
                        name: str, head_prefix: str = 'head.fc.') -> Dict[str, torch.Tensor]:
    """Keys named as the backbone's (``is_backbone_key``) -> ``backbone.*``, ``head.*`` ->
    ``head_prefix``, the timm layout's ``LN'`` / ``LN''`` (``blocks.{i}.pe_norm``,
    ``last_pe_norm``) -> ``backbone.pe.layer_norms.{i}`` / ``backbone.pe.last_norm``.

    Raises:
        ValueError: keys with no place in ``name`` (named).
    """
    out, unknown = {}, []
    for key, value in sd.items():
        m = _PE_NORM_KEY.match(key)
        if m:
            out[f'backbone.pe.layer_norms.{m.group(1)}.{m.group(2)}'] = value
        elif key.startswith('last_pe_norm.'):
            out['backbone.pe.last_norm.' + key[len('last_pe_norm.'):]] = value
        elif is_backbone_key(key):
            out['backbone.' + key] = value
        elif key in ('head.weight', 'head.bias'):
            out[head_prefix + key[len('head.'):]] = value
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f'keys with no place in {name}: {unknown[:8]}'
                         f'{" ..." if len(unknown) > 8 else ""}; nothing was written.')
    return out


def timm_to_mpvg(sd: Dict[str, torch.Tensor], head_prefix: str = 'head.fc.') -> Dict[str, torch.Tensor]:
    """Rename timm-layout keys to ``backbone.*`` / ``head.fc.*`` of an ``ImageClassifier``."""
    return _to_classifier_keys(sd, lambda k: k in _TOP_KEYS or bool(_BLOCK_KEY.match(k)),
                               'MPVGViT', head_prefix)


def _pos_embed_grid_source(sd: Dict[str, torch.Tensor], cfg: dict) -> Tuple[tuple, str]:
    """``((h, w), where it came from)`` for a timm-layout ``pos_embed``: the file's
    ``pos_embed_grid``, else ``cfg['img_size']``, else the arch's (see
    :func:`record_pos_embed_grid`)."""
    patch = sd['patch_embed.proj.weight'].shape[-1]
    given = cfg.get('img_size')
    if given is not None:
        size, source = size_pair(given, 'img_size'), f'img_size={given}'
    else:
        size = size_pair(resolve_arch(cfg['arch'])['img_size'])
        source = f"the arch's img_size {size[0]}x{size[1]}"
    if size[0] % patch or size[1] % patch:
        raise ValueError(f'{source} is not a multiple of the patch size {patch}.')
    grid = (size[0] // patch, size[1] // patch)
    if 'pos_embed_grid' in sd:
        recorded = tuple(int(v) for v in sd['pos_embed_grid'].flatten().tolist())
        if given is not None and recorded != grid:
            raise ValueError(f'the checkpoint records a {recorded[0]}x{recorded[1]} grid '
                             f'(pos_embed_grid), but {source} gives {grid[0]}x{grid[1]}.')
        grid, source = recorded, 'recorded in pos_embed_grid'
    return grid, f'{source}, patch {patch}'


def record_pos_embed_grid(sd: Dict[str, torch.Tensor], cfg: dict) -> Tuple[int, int]:
    """The ``(h, w)`` grid of a timm-layout ``pos_embed`` (``(1, [1 +] h*w, D)``).

    From the file's ``pos_embed_grid`` when it has one (``cfg['img_size']``, if set, must
    agree), else from ``cfg['img_size']``, else from the arch's ``img_size``; the patch
    size is the weights' (``patch_embed.proj.weight``). The class row is counted from the
    ``cls_token`` key.

    Raises:
        ValueError: the size is not a multiple of the patch, or the rows do not add up.
            One row more than the grid without ``cls_token`` (a class row whose token is
            missing), or exactly the grid's rows with ``cls_token`` (a class token without
            a PE row, timm's ``no_embed_class``), is named as such, with
            ``--with-cls-token 0``; any other count names ``--img-size``.
    """
    rows = sd['pos_embed'].shape[1]
    extra = int('cls_token' in sd)
    grid, source = _pos_embed_grid_source(sd, cfg)
    cells = grid[0] * grid[1]
    if rows - extra == cells:
        return grid
    counted = (f'pos_embed has {rows} rows and the grid {grid[0]}x{grid[1]} ({source}) '
               f'has {cells}')
    if not extra and rows == cells + 1:
        raise ValueError(
            f'{counted}: the one more is a class row, but the file has no cls_token (its '
            'class token is missing). Convert the file that has cls_token (e.g. the training '
            'file), or, to drop the unused class row (a model without class token), give '
            '--with-cls-token 0.')
    if extra and rows == cells:
        raise ValueError(
            f'{counted}: the file has cls_token, but pos_embed has no row for it (a class '
            "token without PE, timm's no_embed_class), which MPVGViT does not build; "
            '--with-cls-token 0 drops the class token (a GAP model: fine-tune it).')
    raise ValueError(
        f'{counted} ({extra} class row by the cls_token key): give the size the checkpoint '
        'was trained at (--img-size H W, or img_size in the overrides).')


def _drop_class_token(sd: Dict[str, torch.Tensor], cfg: dict, notes: list) -> dict:
    """``with_cls_token=False`` on a timm-layout file: drop ``cls_token`` and the class row
    of ``pos_embed``, told by the rows against the grid (:func:`_pos_embed_grid_source`):
    a file may have the token without its row or the row without the token."""
    rows = sd['pos_embed'].shape[1]
    cells = math.prod(_pos_embed_grid_source(sd, cfg)[0])
    sd, dropped = dict(sd), []
    if sd.pop('cls_token', None) is not None:
        dropped.append('cls_token')
    if rows == cells + 1:
        sd['pos_embed'] = sd['pos_embed'][:, 1:]
        dropped.append('the class row of pos_embed')
    if dropped:
        notes.append(f'with_cls_token=False: dropped {" and ".join(dropped)}')
    return sd


def _check_fits_backbone(state_dict: Dict[str, torch.Tensor], cfg: dict) -> None:
    """Build the ``MPVGViT`` that ``cfg`` describes (on the meta device) and refuse, naming
    the keys, when the converted backbone weights are not exactly its state dict (e.g. a
    ``pe_mode`` override whose ``LN'``/``LN''`` the file has no weights for)."""
    from .backbones.mpvg_vit import MPVGViT
    with torch.device('meta'):
        model = MPVGViT(**cfg)  # ValueError for a combination that defines no network
    _refuse_misfit(state_dict, model, cfg)


def _refuse_misfit(state_dict: Dict[str, torch.Tensor], model: torch.nn.Module,
                   cfg: dict) -> None:
    """Refuse, naming the keys, converted ``backbone.*`` weights that are not exactly
    ``model``'s state dict (keys, and shapes: what a strict load needs).

    Raises:
        ValueError: missing, unexpected or misshapen keys.
    """
    want = model.state_dict()
    have = {k[len('backbone.'):]: v for k, v in state_dict.items() if k.startswith('backbone.')}
    missing, unexpected = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    shapes = [f'{k} {tuple(have[k].shape)} (needs {tuple(want[k].shape)})' for k in sorted(want)
              if k in have and have[k].shape != want[k].shape]
    if missing or unexpected or shapes:
        raise ValueError(
            f'the converted weights do not fit {type(model).__name__}({cfg}): missing '
            f'{missing[:6]}, unexpected {unexpected[:6]}'
            + (f', other shapes: {shapes[:3]}' if shapes else '') +
            '; leave --pe-mode/--pe-cfg/--with-cls-token to what the keys show (printed '
            'without them), or use a checkpoint that has these keys.')


def convert_timm_checkpoint(ckpt: dict, overrides: Optional[dict] = None,
                            notes: Optional[list] = None) -> Tuple[dict, dict]:
    """``(mmpretrain checkpoint, inferred model cfg)`` for a loaded timm-layout checkpoint.

    ``overrides`` may set any ``MPVGViT`` kwarg; ``img_size`` there is also the size the
    file was trained at (see :func:`record_pos_embed_grid`); ``with_cls_token=False`` drops
    a file's ``cls_token`` and the class row of its ``pos_embed`` (each if present; the row
    told by the row count against the grid), said in ``notes``. The checkpoint's
    ``state_dict`` holds ``backbone.pos_embed_grid`` and its ``meta['pos_embed_grid']``.
    """
    sd = unwrap_state_dict(ckpt)
    cfg = infer_model_cfg(sd)
    cfg.update(overrides or {})
    if cfg['arch'] is None:
        raise ValueError(f'no known arch has {sd["pos_embed"].shape[-1]} channels, patch '
                         f'{sd["patch_embed.proj.weight"].shape[-1]} and this depth; the number '
                         'of heads cannot be read off the weights: give the arch (--arch JSON).')
    if (overrides or {}).get('with_cls_token') is False:
        sd = _drop_class_token(sd, cfg, [] if notes is None else notes)
    grid = record_pos_embed_grid(sd, cfg)
    state_dict = timm_to_mpvg(sd)
    state_dict['backbone.pos_embed_grid'] = torch.tensor(grid, dtype=torch.long)
    _check_fits_backbone(state_dict, cfg)
    num_classes = sd['head.weight'].shape[0] if 'head.weight' in sd else None
    meta = dict(mpvg_backbone=cfg, num_classes=num_classes, converted_from='timm',
                pos_embed_grid=list(grid))
    return dict(state_dict=state_dict, meta=meta), cfg


# ---------------------------------------------------------------------------------------
# mmpretrain / mmseg VisionTransformer layouts
#
# mmpretrain ``VisionTransformer`` (``mmpretrain/models/backbones/vision_transformer.py``):
# ``patch_embed.projection``, ``layers.{i}.(ln1|attn.qkv|attn.proj|ln2|ffn.layers.0.0|
# ffn.layers.1)``, layer scale ``layers.{i}.attn.gamma1.weight`` /
# ``layers.{i}.ffn.gamma2.weight``, the Last LN ``ln1``. mmseg ``VisionTransformer``
# (``mmseg/models/backbones/vit.py``) has the same names except the attention, torch's
# ``nn.MultiheadAttention`` inside mmcv's wrapper: ``layers.{i}.attn.attn.in_proj_weight``
# (q, k, v stacked as timm's ``qkv``) and ``attn.attn.out_proj``; its patch projection
# has no bias by default (``patch_bias=False``).

#: The checkpoint layouts :func:`convert_checkpoint` reads.
LAYOUTS = ('timm', 'mmpretrain', 'mmseg', 'vit-adapter', 't2t-vit', 'ceit')

_MM_COMMON = (('ln1.', 'norm1.'), ('ln2.', 'norm2.'),
              ('ffn.layers.0.0.', 'mlp.fc1.'), ('ffn.layers.1.', 'mlp.fc2.'))
_MM_BLOCK_RENAMES = {  # (name inside layers.{i}, timm name inside blocks.{i})
    'mmpretrain': _MM_COMMON + (('attn.qkv.', 'attn.qkv.'), ('attn.proj.', 'attn.proj.')),
    'mmseg': _MM_COMMON + (('attn.attn.in_proj_weight', 'attn.qkv.weight'),
                           ('attn.attn.in_proj_bias', 'attn.qkv.bias'),
                           ('attn.attn.out_proj.', 'attn.proj.')),
}
_MM_TOP_RENAMES = {'cls_token': 'cls_token', 'pos_embed': 'pos_embed',
                   'dist_token': 'dist_token', 'pos_embed_grid': 'pos_embed_grid',
                   'patch_embed.projection.weight': 'patch_embed.proj.weight',
                   'patch_embed.projection.bias': 'patch_embed.proj.bias',
                   'ln1.weight': 'norm.weight', 'ln1.bias': 'norm.bias'}
#: mmpretrain heads whose one Linear layer is a ``LinearClsHead``'s ``fc``.
_MM_HEAD_RENAMES = {'head.fc.weight': 'head.weight', 'head.fc.bias': 'head.bias',
                    'head.layers.head.weight': 'head.weight',
                    'head.layers.head.bias': 'head.bias'}
_MM_WHY = {  # what an unplaceable mmpretrain/mmseg key is, for the refusal
    'ln2': "the LN after the average of out_type='avg_featmap' (MPVGViT averages after the "
           'Last LN and has no LN after it)',
    'pre_norm': 'the LN before the blocks (pre_norm=True, CLIP); MPVGViT has none',
    'pre_ln': 'the LN before the blocks (pre_norm=True); MPVGViT has none',
    'head.layers.pre_logits': "VisionTransformerClsHead's hidden layer (hidden_dim); "
                              'LinearClsHead has none',
    'head.layers.head_dist': "DeiT's distillation head; MPVGViT has no distillation token",
}


def _fold_gammas(sd: Dict[str, torch.Tensor], rules, notes: list) -> dict:
    """Layer-scale vectors folded into the Linear before them, exactly:
    ``gamma * (W x + b) = (gamma[:, None] * W) x + gamma * b``. ``rules`` pairs a regex
    whose group 1 is the block's key prefix with the Linear's name under it."""
    sd = dict(sd)
    folded = []
    for pattern, linear in rules:
        for key in [k for k in sd if re.match(pattern, k)]:
            base = re.match(pattern, key).group(1)
            gamma = sd.pop(key)
            sd[base + linear + '.weight'] = gamma[:, None] * sd[base + linear + '.weight']
            if base + linear + '.bias' in sd:
                sd[base + linear + '.bias'] = gamma * sd[base + linear + '.bias']
            folded.append(key)
    if folded:
        notes.append(f'folded {len(folded)} layer-scale vectors into attn.proj / mlp.fc2 '
                     f'(exact): {folded[:2]}{" ..." if len(folded) > 2 else ""}')
    return sd


def _layer_scale_folded(sd: Dict[str, torch.Tensor], prefix: str, notes: list) -> dict:
    """mmpretrain's ``layers.{i}.attn.gamma1.weight`` / ``ffn.gamma2.weight`` folded."""
    p = re.escape(prefix)
    return _fold_gammas(sd, [(rf'^({p}layers\.\d+\.)attn\.gamma1\.weight$', 'attn.proj'),
                             (rf'^({p}layers\.\d+\.)ffn\.gamma2\.weight$', 'ffn.layers.1')],
                        notes)


def fold_layer_scale(state_dict: Dict[str, torch.Tensor], prefix: str = 'backbone.',
                     notes: Optional[list] = None) -> Dict[str, torch.Tensor]:
    """A state dict of ``MPVGViT`` / ``MPVGViTAdapter`` with ``blocks.{i}.gamma1`` /
    ``gamma2`` (``layer_scale=True``) folded exactly into ``blocks.{i}.attn.proj`` /
    ``mlp.fc2``, for the same model built without layer scale (inference: the same
    outputs, fewer multiplies; not for training, where the gammas have their own lr and
    weight decay). A new dict; the input is unchanged."""
    p = re.escape(prefix)
    return _fold_gammas(state_dict, [(rf'^({p}blocks\.\d+\.)gamma1$', 'attn.proj'),
                                     (rf'^({p}blocks\.\d+\.)gamma2$', 'mlp.fc2')],
                        [] if notes is None else notes)


def openmmlab_vit_to_timm(sd: Dict[str, torch.Tensor], layout: str,
                          notes: Optional[list] = None) -> Tuple[dict, dict]:
    """An mmpretrain / mmseg ViT checkpoint in the timm layout.

    Args:
        sd: the state dict; the backbone's keys under ``backbone.`` (a whole classifier /
            segmentor) or at the top (a bare backbone).
        layout: ``'mmpretrain'`` or ``'mmseg'``.
        notes: a list that receives one line per inference made (layer scale folded, a
            bias filled with zeros, keys passed through).

    Returns:
        ``(timm_sd, passthrough)``: the backbone (and, for mmpretrain, its one-Linear
        head as ``head.*``) in the timm layout, and the keys that stay as they are: the
        decode / auxiliary heads and necks of an mmseg segmentor (mmseg 1.x keeps their
        names).

    Raises:
        ValueError: keys that have no place (named, with what they are when known), e.g.
            ``ln2`` of ``out_type='avg_featmap'``, ``pre_norm``, a hidden head layer.
    """
    notes = [] if notes is None else notes
    prefix = 'backbone.' if any(k.startswith('backbone.') for k in sd) else ''
    if layout == 'mmpretrain':  # mmseg's ViT has no layer scale
        sd = _layer_scale_folded(sd, prefix, notes)
    out, passthrough, unplaced = {}, {}, []
    block = re.compile('^' + re.escape(prefix) + r'layers\.(\d+)\.(.+)$')
    for key, value in sd.items():
        m = block.match(key)
        if m:
            rest = m.group(2)
            new = next((t + rest[len(s):] for s, t in _MM_BLOCK_RENAMES[layout]
                        if rest.startswith(s)),
                       None)
            if new is not None and _BLOCK_KEY.match(f'blocks.{m.group(1)}.{new}'):
                out[f'blocks.{m.group(1)}.{new}'] = value
            else:
                unplaced.append(key)
        elif key.startswith(prefix) and key[len(prefix):] in _MM_TOP_RENAMES:
            out[_MM_TOP_RENAMES[key[len(prefix):]]] = value
        elif layout == 'mmpretrain' and key in _MM_HEAD_RENAMES:
            out[_MM_HEAD_RENAMES[key]] = value
        elif layout == 'mmseg' and prefix and not key.startswith(prefix):
            passthrough[key] = value
        else:
            unplaced.append(key)
    if unplaced:
        why = sorted({f'{name}: {text}' for k in unplaced for name, text in _MM_WHY.items()
                      if k[len(prefix):].startswith(name + '.') or k.startswith(name + '.')})
        raise ValueError(f'{len(unplaced)} {layout} keys have no place in MPVGViT / '
                         f'LinearClsHead: {unplaced[:8]}{" ..." if len(unplaced) > 8 else ""}'
                         + (f' ({"; ".join(why)})' if why else '') + '; nothing was written.')
    if 'patch_embed.proj.weight' in out and 'patch_embed.proj.bias' not in out:
        out['patch_embed.proj.bias'] = out['patch_embed.proj.weight'].new_zeros(
            out['patch_embed.proj.weight'].shape[0])
        notes.append('patch_embed.projection has no bias (patch_bias=False): filled with '
                     'zeros (the same function)')
    if passthrough:
        heads = sorted({k.split('.')[0] for k in passthrough})
        notes.append(f'kept {len(passthrough)} keys of {heads} unchanged (mmseg 1.x names)')
    return out, passthrough


#: this project's own backbones, told by ``backbone.*`` keys that no converted layout has:
#: ``(pattern, backbone, the keys in the message)``; ``MPVGViT``'s (``backbone.blocks.{i}.
#: attn.qkv``, which official ViT-Adapter files share) is tried last, in :func:`detect_layout`
_OWN_LAYOUTS = (
    (r'^backbone\.(i2t\.|lca\.|pos_layer_embed$|blocks\.\d+\.leff\.)', 'MPVGCeiT',
     'backbone.i2t.*, backbone.blocks.{i}.leff.*, backbone.lca.*'),
    (r'^backbone\.tokens_to_token\.', 'MPVGT2TViT', 'backbone.tokens_to_token.*'),
    (r'^backbone\.stages\.\d+\.blocks\.\d+\.attn\.w_msa\.', 'MPVGSwin',
     "backbone.stages.{i}.blocks.{j}.attn.w_msa.*, OpenMMLab's SwinTransformer names"),
    (r'^backbone\.spatial_prior\.', 'MPVGViTAdapter', 'backbone.spatial_prior.*'),
)


def _refuse_own_layout(sd: Dict[str, torch.Tensor], patterns=_OWN_LAYOUTS) -> None:
    """Refuse a checkpoint already in one of this project's backbone layouts
    (``patterns``, as :data:`_OWN_LAYOUTS`), naming the backbone."""
    for pattern, backbone, keys in patterns:
        if any(re.match(pattern, k) for k in sd):
            raise ValueError(
                f'this checkpoint is already in the {backbone} layout ({keys}): nothing to '
                f'convert; load it directly into {backbone} (init_cfg=dict(type=\'Pretrained\', '
                "checkpoint=SRC, prefix='backbone.')), or a whole model with load_from.")


def detect_layout(sd: Dict[str, torch.Tensor]) -> str:
    """The layout of a state dict, from its keys: ``'timm'`` (``blocks.{i}.attn.qkv``
    at the top), ``'mmpretrain'`` (``[backbone.]layers.{i}.attn.qkv``), ``'mmseg'``
    (``[backbone.]layers.{i}.attn.attn.in_proj_weight``), ``'vit-adapter'`` (official
    ViT-Adapter: ``[backbone.]spm.*``, ``interactions.{i}.injector.*``), ``'t2t-vit'``
    (reference T2T-ViT: ``tokens_to_token.*`` next to timm-named ``blocks``), ``'ceit'``
    (reference CeiT: ``i2t.*``, ``blocks.{i}.leff.*``, ``lca.*``, ``pos_layer_embed``).

    Raises:
        ValueError: this project's own layout (``backbone.*`` of ``MPVGCeiT``,
            ``MPVGT2TViT``, ``MPVGSwin``, ``MPVGViTAdapter`` or ``MPVGViT``: the message
            names the backbone and says to load it directly), or none / several of the
            above (the message shows some keys and ``--layout``).
    """
    _refuse_own_layout(sd)
    found = set()
    for key in sd:
        if re.match(r'^(backbone\.)?(spm\.|interactions\.\d+\.injector\.)', key):
            found.add('vit-adapter')
        elif key.startswith('tokens_to_token.'):
            found.add('t2t-vit')
        elif re.match(r'^(i2t\.|lca\.|pos_layer_embed$|blocks\.\d+\.leff\.)', key):
            found.add('ceit')
        elif re.match(r'^blocks\.\d+\.attn\.qkv\.weight$', key):
            found.add('timm')
        elif re.match(r'^(backbone\.)?layers\.\d+\.attn\.qkv\.weight$', key):
            found.add('mmpretrain')
        elif re.match(r'^(backbone\.)?layers\.\d+\.attn\.attn\.in_proj_weight$', key):
            found.add('mmseg')
    if found & {'vit-adapter', 't2t-vit', 'ceit'}:  # their ViT blocks have timm's names
        found.discard('timm')
    if not found:
        _refuse_own_layout(sd, [(r'^backbone\.blocks\.\d+\.attn\.qkv\.weight$', 'MPVGViT',
                                 'backbone.blocks.{i}.attn.qkv.*')])
    if len(found) != 1:
        raise ValueError(f'cannot tell the layout from the keys (matches: {sorted(found) or "none"}'
                         f'; first keys: {sorted(sd)[:6]}): give --layout, one of {LAYOUTS}.')
    return found.pop()


def _meta_backbone(meta) -> Optional[dict]:
    """``model.backbone`` of the config an mmengine ``Runner`` saved in a checkpoint's
    ``meta['cfg']`` (its ``pretty_text``), or None (no config, or unreadable)."""
    text = meta.get('cfg') if isinstance(meta, dict) else None
    if not isinstance(text, str):
        return None
    from mmengine.config import Config
    try:
        backbone = Config.fromstring(text, '.py').model.backbone
    except Exception:  # noqa: BLE001 -- any unreadable config: decide from the flags
        return None
    return backbone.to_dict() if hasattr(backbone, 'to_dict') else dict(backbone)


def _settle_from_meta_cfg(meta, overrides: dict, notes: list) -> None:
    """``with_cls_token`` and ``img_size`` of an mmseg ViT from the training config a
    Runner checkpoint carries (``meta['cfg']``; mmseg's defaults: ``True``, 224): filled
    in ``overrides`` when not given, refused when a given flag contradicts them (mmseg
    keeps ``cls_token`` even with ``with_cls_token=False``, so the keys cannot tell)."""
    backbone = _meta_backbone(meta)
    if not backbone:
        return
    recorded = dict(with_cls_token=bool(backbone.get('with_cls_token', True)),
                    img_size=size_pair(backbone.get('img_size', 224)))
    flags = dict(with_cls_token='--with-cls-token', img_size='--img-size')
    for name, value in recorded.items():
        given = overrides.get(name)
        if given is None:
            overrides[name] = list(value) if name == 'img_size' else value
            notes.append(f"{name}={value} from the checkpoint's training config (meta['cfg'])")
        elif (size_pair(given) if name == 'img_size' else given) != value:
            raise ValueError(f"{flags[name]} gives {name}={given}, but the checkpoint's "
                             f"training config (meta['cfg']) has {name}={value}: drop "
                             f'{flags[name]} (the config is a fact about the file).')


def _layout_example(sd: Dict[str, torch.Tensor], layout: str) -> str:
    """A key of ``sd`` that shows ``layout`` (for messages)."""
    marks = {'timm': r'blocks\.\d+\.attn\.qkv', 'mmpretrain': r'layers\.\d+\.attn\.qkv',
             'mmseg': r'layers\.\d+\.attn\.attn\.', 'vit-adapter': r'spm\.|interactions\.',
             't2t-vit': r'^tokens_to_token\.', 'ceit': r'^(i2t|lca)\.'}
    return next((f'e.g. {k}' for k in sorted(sd) if re.search(marks[layout], k)), 'keys')


def convert_checkpoint(ckpt: dict, layout: Optional[str] = None,
                       overrides: Optional[dict] = None) -> Tuple[dict, dict, list]:
    """Any layout of :data:`LAYOUTS` -> ``(checkpoint, inferred MPVGViT cfg, notes)``.

    ``'t2t-vit'`` gives an ``MPVGT2TViT`` cfg instead (see :func:`convert_t2t_vit`), and
    ``'ceit'`` an ``MPVGCeiT`` cfg (see :func:`convert_ceit`).

    ``'vit-adapter'`` gives an ``MPVGViTAdapter`` cfg instead (see
    :func:`vit_adapter_to_mpvg`; ``overrides`` may set its kwargs, and
    ``fold_layer_scale=True`` folds the gammas, :func:`fold_layer_scale`).

    ``layout`` None detects it (:func:`detect_layout`); ``overrides`` as in
    :func:`convert_timm_checkpoint`. The checkpoint has ``backbone.*`` (MPVGViT),
    ``head.fc.*`` (a classifier's one-Linear head, as ``LinearClsHead``) and, for an mmseg
    segmentor, its other keys unchanged; ``meta['converted_from']`` is the layout. With
    ``with_cls_token=False`` in the overrides, a file's ``cls_token`` and the class row of
    its ``pos_embed`` are dropped (said in the notes). ``notes`` lists every inference and
    fill (printed by ``tools/model_converters/convert.py``).

    Raises:
        ValueError: the layout is unknown or cannot be detected, or a key has no place.
    """
    notes, passthrough = [], {}
    sd = unwrap_state_dict(ckpt, notes)
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f'unknown layout {layout!r}; choose one of {LAYOUTS}.')
    try:
        detected = detect_layout(sd)
    except ValueError:
        if layout is None:
            raise
        detected = layout  # --layout is what the keys could not settle
    if layout is not None and layout != detected:
        raise ValueError(f'--layout {layout}, but the keys are the {detected} layout '
                         f'({_layout_example(sd, detected)}): drop --layout (detected: '
                         f'{detected}) or use --layout {detected}.')
    layout = detected
    notes.insert(0, f'layout: {layout}')
    if layout == 'vit-adapter':
        return _convert_vit_adapter(sd, dict(overrides or {}), notes)
    if layout == 't2t-vit':
        return convert_t2t_vit(sd, dict(overrides or {}), notes)
    if layout == 'ceit':
        return convert_ceit(sd, dict(overrides or {}), notes)
    if layout != 'timm':
        sd, passthrough = openmmlab_vit_to_timm(sd, layout, notes)
        if layout == 'mmseg' and 'cls_token' in sd and 'with_cls_token' not in (
                overrides or {}) and not _meta_backbone(ckpt.get('meta')):
            notes.append('mmseg keeps cls_token even when built with with_cls_token=False '
                         '(it then drops the token before the blocks): if the model was, '
                         'convert with --with-cls-token 0')
    overrides = dict(overrides or {})
    if layout == 'mmseg':
        _settle_from_meta_cfg(ckpt.get('meta'), overrides, notes)
    converted, cfg = convert_timm_checkpoint(sd, overrides, notes)
    converted['state_dict'].update(passthrough)
    converted['meta']['converted_from'] = layout
    return converted, cfg, notes


# ---------------------------------------------------------------------------------------
# Official ViT-Adapter (czczup/ViT-Adapter, detection/ and segmentation/
# mmdet_custom|mmseg_custom/models/backbones/vit_adapter.py, adapter_modules.py, base/vit.py)

#: The renaming rules official ``ViTAdapter`` -> ``MPVGViTAdapter`` (after ``backbone.``):
#: ``(regex, replacement)``; the replacement is a function of the match or a template.
_ADAPTER_RULES = (
    (r'^patch_embed\.proj\.(weight|bias)$', r'patch_embed.proj.\1'),
    (r'^blocks\.(\d+)\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)$',
     r'blocks.\1.\2.\3'),
    (r'^blocks\.(\d+)\.(gamma[12])$', r'blocks.\1.\2'),
    (r'^level_embed$', 'level_embed'),
    (r'^spm\.stem\.([036])\.(weight)$',
     lambda m: f'spatial_prior.stem.{int(m.group(1)) // 3}.0.{m.group(2)}'),
    (r'^spm\.stem\.([147])\.(.+)$',
     lambda m: f'spatial_prior.stem.{int(m.group(1)) // 3}.1.{m.group(2)}'),
    (r'^spm\.conv([234])\.([01])\.(.+)$',
     lambda m: f'spatial_prior.to_stride{2 ** (int(m.group(1)) + 1)}.{m.group(2)}.{m.group(3)}'),
    (r'^spm\.fc([1-4])\.(weight|bias)$',
     lambda m: f'spatial_prior.projections.{int(m.group(1)) - 1}.{m.group(2)}'),
    (r'^up\.(weight|bias)$', r'stride4_up.\1'),
    (r'^norm([1-4])\.(.+)$', lambda m: f'output_norms.{int(m.group(1)) - 1}.{m.group(2)}'),
    (r'^(interactions\.\d+\.(?:extractor|extra_extractors\.\d+)\.ffn)\.dwconv\.dwconv\.'
     r'(weight|bias)$', r'\1.dwconv.\2'),
    (r'^(interactions\.\d+\.(?:injector|extractor|extra_extractors\.\d+)\.'
     r'(?:query_norm|feat_norm|ffn_norm|ffn\.fc[12]|attn\.(?:sampling_offsets|'
     r'attention_weights|value_proj|output_proj))\.(?:weight|bias))$', r'\1'),
    (r'^(interactions\.\d+\.injector\.gamma)$', r'\1'),
    (r'^pos_embed$', 'pos_embed'),  # its class row is dropped (see vit_adapter_to_mpvg)
)
#: Top-level modules of an mmdet 2.x detector / mmseg 0.x segmentor around the adapter:
#: Mask R-CNN (FPN, RPN, RoI heads) and UperNet (decode + auxiliary heads) keep their key
#: names in mmdet 3.x / mmseg 1.x, so they pass through.
_ADAPTER_PASSTHROUGH = ('neck.', 'rpn_head.', 'roi_head.', 'decode_head.', 'auxiliary_head.')


def _adapter_cfg(bb: Dict[str, torch.Tensor], notes: list) -> dict:
    """``MPVGViTAdapter`` kwargs read off the official weights (``backbone.`` removed)."""
    from .backbones.vit_adapter import default_interaction_indexes
    dims = bb['pos_embed'].shape[-1]
    depth = 1 + max(int(k.split('.')[1]) for k in bb if k.startswith('blocks.'))
    groups = 1 + max(int(k.split('.')[1]) for k in bb if k.startswith('interactions.'))
    last = f'interactions.{groups - 1}.extra_extractors.'
    extra = len({k[len(last):].split('.')[0] for k in bb if k.startswith(last)})
    patch = bb['patch_embed.proj.weight'].shape[-1]
    arch = dict(embed_dims=dims, num_layers=depth, num_heads=None,
                mlp_ratio=bb['blocks.0.mlp.fc1.weight'].shape[0] / dims, patch_size=patch)
    named = next((n for n, a in ARCH_SETTINGS.items() if all(
        a[k] == arch[k] for k in ('embed_dims', 'num_layers', 'mlp_ratio', 'patch_size'))), None)
    cffn = 'interactions.0.extractor.ffn.fc1.weight'
    cfg = dict(arch=named, pe_mode='default', vit_output_norm=False, window_padding='qkv',
               layer_scale='blocks.0.gamma1' in bb,
               spatial_prior_channels=bb['spm.stem.0.weight'].shape[0],
               deform_value_ratio=bb['interactions.0.injector.attn.value_proj.weight'].shape[0]
               / dims,
               with_cffn=cffn in bb, num_extra_extractors=extra,
               interaction_indexes=default_interaction_indexes(depth, groups))
    if cffn in bb:
        cfg['cffn_ratio'] = bb[cffn].shape[0] / dims
    notes.append(f'{groups} interaction groups of the official default split '
                 f'{cfg["interaction_indexes"]}, {extra} extra extractors; not in the '
                 'weights (set them as the official config if it differs): '
                 'deform_num_heads (6), deform_num_points (4), window_size / '
                 'window_block_indexes (COCO: 14 on all blocks but 2, 5, 8, 11)')
    return cfg


def vit_adapter_to_mpvg(sd: Dict[str, torch.Tensor], notes: Optional[list] = None,
                        img_size=None) -> Tuple[Dict[str, torch.Tensor], dict]:
    """An official ViT-Adapter checkpoint (bare backbone or mmdet 2.x / mmseg 0.x model)
    -> ``(state dict, MPVGViTAdapter kwargs)`` for ``MPVGViTAdapter(pe_mode='default',
    vit_output_norm=False, window_padding='qkv', layer_scale=...)``.

    The backbone's keys are renamed by :data:`_ADAPTER_RULES` to ``backbone.*``; the
    official ``pos_embed`` ``(1, 1 + s*s, D)`` keeps a class row its forward never reads
    (``pos_embed[:, 1:]``): it is dropped (noted). Its patch rows form the square
    ``pretrain_size // 16`` grid (the official ``_get_pos_embed`` reshapes them so), which
    is recorded in ``backbone.pos_embed_grid``; ``img_size`` (the official
    ``pretrain_size``), if given, must agree. Heads and necks (:data:`_ADAPTER_PASSTHROUGH`)
    pass through unchanged. The heads tell the official variant: ``decode_head`` (mmseg,
    ``segmentation/``) -> ``vit_feature='per_group'``; otherwise ``'last'``
    (``detection/``), said in the notes.

    Raises:
        ValueError: keys no rule places (named), or patch rows that do not form the grid.
    """
    notes = [] if notes is None else notes
    prefix = 'backbone.' if any(k.startswith('backbone.') for k in sd) else ''
    bb = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    out, unplaced, passthrough = {}, [], {}
    for key, value in sd.items():
        if prefix and key.startswith(_ADAPTER_PASSTHROUGH):
            passthrough[key] = value
            continue
        name = key[len(prefix):] if key.startswith(prefix) else None
        for pattern, repl in _ADAPTER_RULES:
            m = re.match(pattern, name) if name is not None else None
            if m:
                out['backbone.' + (repl(m) if callable(repl) else m.expand(repl))] = value
                break
        else:
            unplaced.append(key)
    if unplaced:
        raise ValueError(f'{len(unplaced)} keys have no place in MPVGViTAdapter or the '
                         f'detector/segmentor heads: {unplaced[:8]}'
                         f'{" ..." if len(unplaced) > 8 else ""}; nothing was written.')
    cfg = _adapter_cfg(bb, notes)
    pos = out['backbone.pos_embed'][:, 1:]
    side, patch = math.isqrt(pos.shape[1]), bb['patch_embed.proj.weight'].shape[-1]
    grid = (side, side)
    if img_size is not None:
        size = size_pair(img_size)
        grid = (size[0] // patch, size[1] // patch)
    if grid[0] * grid[1] != pos.shape[1]:
        raise ValueError(f'the official pos_embed has {pos.shape[1]} patch rows (after its class '
                         f'row), which do not form the grid {grid[0]}x{grid[1]}'
                         f'{" of img_size=" + str(img_size) if img_size else ""}: give the '
                         "official config's pretrain_size as --img-size.")
    out['backbone.pos_embed'] = pos
    out['backbone.pos_embed_grid'] = torch.tensor(grid, dtype=torch.long)
    notes.append(f'dropped the class row of pos_embed (the official forward reads '
                 f'pos_embed[:, 1:]); its grid {grid[0]}x{grid[1]} (pretrain_size '
                 f'{grid[0] * patch}) recorded')
    if passthrough:
        heads = sorted({k.split('.')[0] for k in passthrough})
        notes.append(f'kept {len(passthrough)} keys of {heads} unchanged (mmdet 2.x / mmseg 0.x '
                     'head names are those of mmdet 3.x / mmseg 1.x)')
    out.update(passthrough)
    if any(k.startswith('decode_head.') for k in passthrough):
        cfg['vit_feature'] = 'per_group'
        notes.append("a segmentor (decode_head): vit_feature='per_group', the official "
                     'segmentation/ adapter adds group i\'s ViT tokens to output level i')
    elif any(k.startswith(('rpn_head.', 'roi_head.')) for k in passthrough):
        notes.append("a detector (rpn_head/roi_head): vit_feature='last', as the official "
                     'detection/ adapter')
    else:
        notes.append("a bare backbone: vit_feature='last' (official detection/); a "
                     "segmentation/ adapter needs vit_feature='per_group' (--vit-feature)")
    cfg['img_size'] = grid[0] * patch if grid[0] == grid[1] else [g * patch for g in grid]
    return out, cfg


def _convert_vit_adapter(sd: Dict[str, torch.Tensor], overrides: dict,
                         notes: list) -> Tuple[dict, dict, list]:
    """:func:`convert_checkpoint` for the official ViT-Adapter; the weights are checked
    against the ``MPVGViTAdapter`` the cfg builds (every key, both ways)."""
    from .backbones.vit_adapter import MPVGViTAdapter
    fold = overrides.pop('fold_layer_scale', False)
    state_dict, cfg = vit_adapter_to_mpvg(sd, notes, overrides.get('img_size'))
    if fold and cfg['layer_scale']:
        state_dict = fold_layer_scale(state_dict, 'backbone.', notes)
        cfg['layer_scale'] = False
    cfg.update(overrides)
    if cfg['arch'] is None:
        raise ValueError('no known arch has these widths and depth; the number of heads '
                         'cannot be read off the weights: give the arch (--arch JSON).')
    model = MPVGViTAdapter(**cfg, norm_cfg=dict(type='BN'))
    want = set(model.state_dict())
    have = {k[len('backbone.'):] for k in state_dict if k.startswith('backbone.')}
    missing, unexpected = sorted(want - have), sorted(have - want)
    if missing or unexpected:
        raise ValueError(f'the converted weights do not fit MPVGViTAdapter({cfg}): missing '
                         f'{missing[:6]}, unexpected {unexpected[:6]}.')
    grid = state_dict['backbone.pos_embed_grid'].tolist()
    meta = dict(mpvg_backbone=dict(type='MPVGViTAdapter', **cfg), converted_from='vit-adapter',
                pos_embed_grid=grid, num_classes=None)
    return dict(state_dict=state_dict, meta=meta), cfg, notes


# ---------------------------------------------------------------------------------------
# The load hooks' key check, shared by the backbones (``MPVGViT._resample_pos_embed_on_load``,
# ``MPVGSwin._prepare_abs_pos_embed``)

#: Wrapper keys of training files (DeiT's main.py: ``model``, ``model_ema``); mmengine's
#: ``Pretrained`` / ``load_checkpoint`` unwraps only ``state_dict``.
WRAPPER_KEYS = ('model', 'model_ema', 'state_dict', 'module')
_FOREIGN_HINT = ('convert it first: python tools/model_converters/convert.py SRC DST '
                 "(then init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.'))")
_CORE_KEY = re.compile(r'^(patch_embed\.proj\.weight|norm\.(weight|bias)|blocks\.\d+\.('
                       + '|'.join(map(re.escape, _BLOCK_PARTS)) + r')\.weight)$')
#: keys of a backbone-level checkpoint that may go unused without changing the function:
#: a classifier's head, DeiT's distillation token and head, the class token (and its
#: ``pos_embed`` row) of a class-token file in a GAP model, our own PE-structure keys,
#: the Last LN in a model without one (``MPVGViTAdapter(vit_output_norm=False)``).
_IGNORABLE_KEY = re.compile(
    r'^(head\.|head_dist\.|dist_token$|cls_token$|pos_embed_grid$|pe\.|norm\.)')


@dataclass(frozen=True)
class BackboneKeyLayout:
    """What :func:`refuse_foreign_checkpoint` knows of a backbone's checkpoint layout.

    Attributes:
        name: the backbone's name in the refusals (``'MPVGViT'``).
        own_keys: the backbone's state-dict keys (without prefix).
        hint: how to get a file of this layout; ends the refusal of a wrapped file.
        foreign_layouts: ``(pattern, refusal)`` pairs, tried in order: the first
            ``pattern`` that ``re.match``-es a key that is not one of ``own_keys`` refuses
            the file with ``refusal`` (a known layout that is not this backbone's).
        misfit: ``misfit(sub) -> refusal or None``: the backbone's own rule for a state
            dict ``sub`` (keys without prefix) that would place too few of its weights.
    """

    name: str
    own_keys: frozenset
    hint: str
    foreign_layouts: Tuple[Tuple[str, str], ...] = ()
    misfit: Callable[[dict], Optional[str]] = lambda sub: None


def refuse_foreign_checkpoint(state_dict: dict, prefix: str, layout: BackboneKeyLayout) -> None:
    """The load-time check shared by the backbones (``MPVGViT``, ``MPVGSwin``): refuse a
    state dict that is not ``layout``'s, before mmengine's non-strict ``Pretrained`` load,
    which would load the matching fraction and only warn. Decided from the keys (and the
    backbone's ``misfit`` rule), in this order:

    1. no key under ``prefix``: a load of other parts of a model; passes.
    2. a training-file wrapper (``model`` / ``model_ema`` / ``state_dict`` / ``module``
       holding a dict, e.g. DeiT's and the official Swin's files), which mmengine does
       not unwrap: refused with ``layout.hint``.
    3. a key (not the backbone's own) of a known foreign layout
       (``layout.foreign_layouts``): refused with that layout's refusal.
    4. ``layout.misfit``: the backbone's rule for too few of its weights placed.

    Args:
        state_dict: the state dict being loaded (the whole model's keys).
        prefix: this backbone's prefix in it (``''`` for mmengine's ``Pretrained`` with
            ``prefix='backbone.'``, which strips it; ``'backbone.'`` for a classifier).
        layout: the backbone's :class:`BackboneKeyLayout`.

    Raises:
        ValueError: naming the layout found and the fix.
    """
    sub = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not sub:
        return
    wrappers = [k for k in WRAPPER_KEYS if isinstance(sub.get(k), dict)]
    if wrappers:
        raise ValueError(
            f"the checkpoint wraps its weights in {{'{wrappers[0]}': ...}} (a training "
            "file, e.g. timm/DeiT's or the official Swin's), which mmengine does not unwrap "
            f"(it unwraps 'state_dict' only), so no weight would load: {layout.hint}.")
    foreign = [k for k in sub if k not in layout.own_keys]
    for pattern, refusal in layout.foreign_layouts:
        if any(re.match(pattern, k) for k in foreign):
            raise ValueError(refusal)
    refusal = layout.misfit(sub)
    if refusal:
        raise ValueError(refusal)


def placement_misfit(name: str, own_shapes: dict,
                     hint: str) -> Callable[[dict], Optional[str]]:
    """A ``BackboneKeyLayout.misfit`` rule: refuse a state dict that places fewer than
    half of ``own_shapes`` (parameter name -> shape) by name and shape, which mmengine's
    non-strict load would only warn about (e.g. another backbone's whole checkpoint, or a
    classifier's loaded without ``prefix='backbone.'``); ``hint`` ends the refusal.
    Used by ``MPVGT2TViT`` and ``MPVGCeiT``."""
    def misfit(sub: dict) -> Optional[str]:
        placed = [k for k, shape in own_shapes.items()
                  if k in sub and tuple(sub[k].shape) == tuple(shape)]
        if 2 * len(placed) >= len(own_shapes):
            return None
        missing = [k for k in own_shapes if k not in placed]
        return (f'the checkpoint places {len(placed)} of {name}\'s {len(own_shapes)} '
                f'weights (by name and shape; e.g. not {", ".join(missing[:3])}); its keys '
                f'begin {", ".join(list(sub)[:3])}: a non-strict load would leave the rest '
                f'random: {hint}.')
    return misfit


def refuse_missing_cls_token(state_dict: dict, prefix: str, with_cls_token: bool) -> None:
    """The class-token rule shared by the backbones' load hooks: a checkpoint with a
    ``pos_embed`` but no ``cls_token`` (a GAP model's: PVG, MPVG) into a model with a
    class token would leave the class token random.

    Raises:
        ValueError: naming both fixes (``with_cls_token=False``, or a class-token file).
    """
    key = prefix + 'pos_embed'
    if with_cls_token and key in state_dict and prefix + 'cls_token' not in state_dict:
        raise ValueError(
            f'the checkpoint has no {prefix}cls_token, so its {key} has no class-token '
            'row, but this model has a class token: build it with with_cls_token=False '
            '(GAP), or load a class-token checkpoint (keeping its cls_token key).')


def _vit_layout_refusal(layout: str) -> str:
    return (f'the checkpoint is in the {layout} layout, not MPVGViT\'s (blocks.{{i}}.*): '
            'mmengine would load only the few keys whose names agree and leave the rest '
            f'random; {_FOREIGN_HINT}.')


#: the layouts ``MPVGViT`` recognises and refuses (:func:`vit_key_layout`)
_VIT_FOREIGN_LAYOUTS = (
    (r'(spm\.|interactions\.\d+\.)',
     _vit_layout_refusal('official ViT-Adapter (spm.*, interactions.*)')),
    (r'layers\.\d+\.attn\.attn\.',
     _vit_layout_refusal('mmseg VisionTransformer (layers.{i}.attn.attn.in_proj_weight)')),
    (r'layers\.\d+\.',
     _vit_layout_refusal('mmpretrain VisionTransformer (layers.{i}.ln1, attn.qkv, '
                         'ffn.layers.0.0)')),
    (r'fc_norm\.weight$',
     "the checkpoint is a timm GAP ViT with fc_norm (global_pool='avg'): an LN after "
     'the average, which MPVGViT does not have (it averages after the Last LN, '
     'norm.*, which this file lacks); it cannot be loaded as the same function. Use '
     "a checkpoint trained with fc_norm=False, or a class-token one."),
)


def _vit_misfit(sub: dict, own: frozenset) -> Optional[str]:
    """``MPVGViT``'s rule: a file that lacks some of its core weights (patch projection,
    block Linear / LN weights, the Last LN) while it has keys it does not know, or only
    some of them, or unknown block / patch-embedding keys."""
    foreign = set(sub) - own
    missing = sorted(k for k in own - set(sub) if _CORE_KEY.match(k))
    unknown = sorted(k for k in foreign if not _IGNORABLE_KEY.match(k))
    partial = missing and (unknown or any(_CORE_KEY.match(k) for k in sub))
    if partial or any(k.startswith(('blocks.', 'patch_embed.')) for k in unknown):
        return (
            f'the checkpoint does not fit this backbone: it lacks {len(missing)} of its own '
            f'weights ({missing[:4]}{" ..." if len(missing) > 4 else ""}) and has '
            f'{len(unknown)} keys MPVGViT does not know ({unknown[:4]}'
            f'{" ..." if len(unknown) > 4 else ""}); a non-strict load would leave those '
            'weights random or drop trained ones (another layout, depth or structure). '
            f'Build the backbone the checkpoint was trained as, or {_FOREIGN_HINT} '
            '(it detects the layout, or names what it cannot place).')
    return None


def vit_key_layout(own_keys) -> BackboneKeyLayout:
    """``MPVGViT``'s :class:`BackboneKeyLayout` (``own_keys``: its state-dict keys):
    the mmpretrain / mmseg ``layers.{i}.*`` and official ViT-Adapter (``spm.*``,
    ``interactions.*``) layouts, timm's ``fc_norm`` of a GAP model (an LN after the
    average, which ``MPVGViT`` does not have), and in general a file that lacks any of the
    backbone's own core weights while it has keys ``MPVGViT`` does not know
    (``MPVGViTAdapter``'s own keys have the official names, so they are not foreign)."""
    own = frozenset(own_keys)
    return BackboneKeyLayout('MPVGViT', own, _FOREIGN_HINT, _VIT_FOREIGN_LAYOUTS,
                             lambda sub: _vit_misfit(sub, own))


def refuse_foreign_backbone_keys(state_dict: dict, prefix: str, own_keys) -> None:
    """:func:`refuse_foreign_checkpoint` with ``MPVGViT``'s layout
    (:func:`vit_key_layout`); run by ``MPVGViT``'s load hook.

    Raises:
        ValueError: naming the layout found and the fix (``convert.py SRC DST``).
    """
    refuse_foreign_checkpoint(state_dict, prefix, vit_key_layout(own_keys))


# ---------------------------------------------------------------------------------------
# Reference T2T-ViT (yitu-opensource/T2T-ViT models/t2t_vit.py, tokens_type='performer'):
# ``tokens_to_token.attention1/2.(kqv|proj|norm1|norm2|mlp.0|mlp.2).*`` and ``.w`` (the
# fixed Performer features), ``tokens_to_token.project``, ``cls_token``, ``pos_embed``
# (the fixed sinusoid), ``blocks.{i}.(norm1|attn.qkv|attn.proj|norm2|mlp.fc1|mlp.fc2)``,
# ``norm``, ``head``. ``MPVGT2TViT`` keeps these names, so the conversion is a prefix.

_T2T_KEY = re.compile(r'^(tokens_to_token\.(attention[12]\.(kqv|proj|norm1|norm2|mlp\.0|mlp\.2)'
                      r'\.(weight|bias)|attention[12]\.w|project\.(weight|bias))'
                      r'|cls_token|pos_embed)$')


def convert_t2t_vit(sd: Dict[str, torch.Tensor], overrides: Optional[dict] = None,
                    notes: Optional[list] = None) -> Tuple[dict, dict, list]:
    """A reference T2T-ViT (Performer) state dict -> ``(checkpoint, MPVGT2TViT cfg, notes)``.

    The keys give the width, depth and token width (``'t2t-vit-7'`` when they are
    256 / 7 / 64; otherwise ``arch`` must be given: the head count is not in the weights),
    the class token and the ``LN'`` / ``LN''`` (``blocks.{i}.pe_norm``, ``last_pe_norm``,
    as in the timm layout) and so the preset. ``qk_scale`` is ``embed_dims ** -0.5``
    unless given: the reference builds its released weights' models so
    (``t2t_vit_7(pretrained=True)``), said in the notes. ``pos_embed`` must have the rows of
    the grid of ``img_size`` (the arch's, 224, unless given; the message names
    ``--img-size``); a structure without the class token takes its own sinusoid table.

    Raises:
        ValueError: keys with no place (named), an unknown arch, rows that do not add up,
            or weights that do not fit the model the cfg builds.
    """
    from .backbones.mpvg_t2t_vit import (T2T_ARCH_SETTINGS, MPVGT2TViT, resolve_t2t_arch,
                                         t2t_token_grid)
    notes = [] if notes is None else notes
    overrides = dict(overrides or {})
    state = _to_classifier_keys(
        sd, lambda k: bool(_T2T_KEY.match(k) or _BLOCK_KEY.match(k)) or k in ('norm.weight',
                                                                              'norm.bias'),
        'MPVGT2TViT (Performer T2T-ViT)')
    dims = sd['pos_embed'].shape[-1]
    depth = _depth(sd)
    token_dims = sd['tokens_to_token.project.weight'].shape[1] // 9
    with_cls = 'cls_token' in sd
    arch = next((name for name, a in T2T_ARCH_SETTINGS.items()
                 if (a['embed_dims'], a['num_layers'], a['token_dims']) ==
                 (dims, depth, token_dims)), None)
    cfg = dict(arch=arch, **_inferred_pe_cfg(sd, depth))
    cfg.update(overrides)
    if cfg['arch'] is None:
        raise ValueError(f'no known T2T arch has width {dims}, {depth} blocks and token width '
                         f'{token_dims}; the number of heads cannot be read off the weights: '
                         'give the arch (--arch JSON with embed_dims, num_layers, num_heads, '
                         'token_dims).')
    arch_cfg = resolve_t2t_arch(cfg['arch'])
    if 'qk_scale' not in cfg:
        cfg['qk_scale'] = arch_cfg['embed_dims'] ** -0.5
        notes.append(f"qk_scale={cfg['qk_scale']:.6g} (embed_dims ** -0.5), as the reference "
                     'builds the models of its released weights (t2t_vit_7(pretrained=True)); '
                     'fine-tuning from scratch-trained weights of this project: drop it')
    size = size_pair(cfg.get('img_size', arch_cfg['img_size']), 'img_size')
    grid = t2t_token_grid(size)
    rows = sd['pos_embed'].shape[1]
    if rows - int(with_cls) != grid[0] * grid[1]:
        raise ValueError(f'pos_embed has {rows} rows ({int(with_cls)} class row by the keys), '
                         f'but {size[0]}x{size[1]} images give {grid[0]}x{grid[1]} tokens: give '
                         'the size the checkpoint was trained at (--img-size H W).')
    if 'with_cls_token' in overrides and not cfg['with_cls_token'] and with_cls:
        state.pop('backbone.cls_token')
        notes.append('with_cls_token=False: dropped cls_token')
    model = MPVGT2TViT(**cfg)
    if state['backbone.pos_embed'].shape != model.pos_embed.shape:
        state['backbone.pos_embed'] = model.pos_embed.detach().clone()
        notes.append(f'pos_embed: the fixed sinusoid table for this structure\'s '
                     f'{model.pos_embed.shape[1]} rows')
    _refuse_misfit(state, model, cfg)
    num_classes = sd['head.weight'].shape[0] if 'head.weight' in sd else None
    meta = dict(mpvg_backbone=cfg, num_classes=num_classes, converted_from='t2t-vit',
                pos_embed_grid=list(grid))
    return dict(state_dict=state, meta=meta), cfg, notes


# ---------------------------------------------------------------------------------------
# Reference CeiT (coeusguo/ceit ceit_model.py, ``CeIT`` with the ``Image2Tokens`` stem,
# ``ceit_{tiny,small,base}_patch16_{224,384}``): ``i2t.backbone.conv`` / ``i2t.backbone.bn``
# and ``i2t.proj`` (``HybridEmbed``), ``cls_token``, ``pos_embed``,
# ``blocks.{i}.(norm1|attn.qkv|attn.proj|norm2)``, ``blocks.{i}.leff.(conv|bn)[123]``,
# ``pos_layer_embed``, ``lca.(norm1|attn.qkv|attn.proj|norm2|feedforward.fc1|fc2)``,
# ``norm``, ``head``. ``MPVGCeiT`` keeps these names, so the conversion is a prefix. The
# reference's LCA block (``Block(feedforward_type='lca')``) runs self-attention over the L
# layer tokens and keeps the last row: ``MPVGCeiT``'s last-token query, exactly.

_BN_PARTS = r'\.(weight|bias|running_mean|running_var|num_batches_tracked)'
_CEIT_KEY = re.compile(
    r'^(i2t\.backbone\.(conv\.weight|bn' + _BN_PARTS + r')|i2t\.proj\.(weight|bias)'
    r'|cls_token|pos_embed|pos_layer_embed|norm\.(weight|bias)'
    r'|blocks\.\d+\.(norm1|norm2|attn\.qkv|attn\.proj|leff\.conv[123])\.(weight|bias)'
    r'|blocks\.\d+\.leff\.bn[123]' + _BN_PARTS +
    r'|lca\.(norm1|norm2|attn\.qkv|attn\.proj|feedforward\.fc[12])\.(weight|bias))$')
#: the keys whose shapes give the arch
_CEIT_ARCH_KEYS = ('pos_embed', 'i2t.backbone.conv.weight', 'i2t.proj.weight',
                   'blocks.0.leff.conv1.weight', 'blocks.0.leff.conv2.weight')


def convert_ceit(sd: Dict[str, torch.Tensor], overrides: Optional[dict] = None,
                 notes: Optional[list] = None) -> Tuple[dict, dict, list]:
    """A reference CeiT state dict -> ``(checkpoint, MPVGCeiT cfg, notes)`` for
    ``ImageClassifier(MPVGCeiT, LinearClsHead)`` (strict load).

    The keys give the arch (``'ceit-tiny'`` / ``-small`` / ``-base`` when width, depth,
    stem channels, token patch, LeFF kernel and ratio are the reference's; otherwise
    ``arch`` must be given: the head count is not in the weights), the class token and the
    ``LN'`` / ``LN''`` if present (``blocks.{i}.pe_norm``, ``last_pe_norm``, as the timm
    layout) and so the preset (the reference: Default). ``pos_embed`` must have the rows of
    the token grid of ``img_size`` (224 unless given; the reference's ``*_384`` files need
    ``--img-size 384``, which the message computes from the square grid the reference
    uses). ``with_cls_token=False`` drops ``cls_token`` and the class row (noted).

    Raises:
        ValueError: keys with no place (named), a CeiT key missing, an unknown arch, rows
            that do not add up, or weights that do not fit the model the cfg builds.
    """
    from .backbones.mpvg_ceit import CEIT_ARCH_OPTIONAL, CEIT_ARCH_SETTINGS, MPVGCeiT
    notes = [] if notes is None else notes
    overrides = dict(overrides or {})
    state = _to_classifier_keys(sd, lambda k: bool(_CEIT_KEY.match(k)), 'MPVGCeiT (CeiT)')
    absent = [k for k in _CEIT_ARCH_KEYS if k not in sd]
    if absent:
        raise ValueError(f'not a whole CeiT checkpoint: {absent} missing; nothing was written.')
    depth, dims = _depth(sd), sd['pos_embed'].shape[-1]
    found = dict(embed_dims=dims, num_layers=depth,
                 mlp_ratio=sd['blocks.0.leff.conv1.weight'].shape[0] / dims,
                 stem_channels=sd['i2t.backbone.conv.weight'].shape[0],
                 patch_size=sd['i2t.proj.weight'].shape[-1],
                 leff_kernel_size=sd['blocks.0.leff.conv2.weight'].shape[-1])
    arch = next((name for name, a in CEIT_ARCH_SETTINGS.items()
                 if all(dict(CEIT_ARCH_OPTIONAL, **a)[k] == v for k, v in found.items())), None)
    cfg = dict(arch=arch, **_inferred_pe_cfg(sd, depth))
    cfg.update(overrides)
    if cfg['arch'] is None:
        raise ValueError(f'no named CeiT arch has {found}; the number of heads cannot be read '
                         'off the weights: give the arch (--arch JSON with these and num_heads).')
    if cfg['with_cls_token'] is False and 'backbone.cls_token' in state:
        state.pop('backbone.cls_token')
        state['backbone.pos_embed'] = state['backbone.pos_embed'][:, 1:]
        notes.append('with_cls_token=False: dropped cls_token and the class row of pos_embed')
    with torch.device('meta'):
        model = MPVGCeiT(**cfg)  # ValueError for a combination that defines no network
    grid, extra = model.pe_grid, int('backbone.cls_token' in state)
    patch_rows = state['backbone.pos_embed'].shape[1] - extra
    if patch_rows != grid[0] * grid[1]:
        side = math.isqrt(patch_rows)
        square = (f'; its {patch_rows} patch rows form the {side}x{side} grid of '
                  f'{4 * side * found["patch_size"]}x{4 * side * found["patch_size"]} images '
                  f'(--img-size {4 * side * found["patch_size"]})' if side * side == patch_rows
                  else '')
        raise ValueError(f'pos_embed has {patch_rows} patch rows (after {extra} class row, '
                         'by the cls_token key), '
                         f'but img_size {model.img_size[0]}x{model.img_size[1]} gives the '
                         f'{grid[0]}x{grid[1]} token grid: give the size the checkpoint was '
                         f'trained at (--img-size H W){square}.')
    state['backbone.pos_embed_grid'] = torch.tensor(grid, dtype=torch.long)
    _refuse_misfit(state, model, cfg)
    num_classes = sd['head.weight'].shape[0] if 'head.weight' in sd else None
    meta = dict(mpvg_backbone=cfg, num_classes=num_classes, converted_from='ceit',
                pos_embed_grid=list(grid))
    return dict(state_dict=state, meta=meta), cfg, notes
