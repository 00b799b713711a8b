"""Checkpoint interchange between the timm layout and mmpretrain's ``ImageClassifier``.

The timm layout (DeiT ``.pth`` files, the official LaPE code): ``patch_embed.proj.*``,
``cls_token``, ``pos_embed``, ``blocks.{i}.(norm1|attn.qkv|attn.proj|norm2|mlp.fc1|mlp.fc2).*``,
``norm.*`` (the Last LN), ``head.*``; layer-wise PE LNs ``blocks.{i}.pe_norm.*``; MPVG's
LN'' on ``pos_0`` ``last_pe_norm.*``. ``MPVGViT`` uses the same names except
``pe.layer_norms.{i}.*`` and ``pe.last_norm.*``, so the conversion is a renaming.

The converted checkpoint records the grid of ``pos_embed`` (``backbone.pos_embed_grid``,
see ``MPVGViT``), which a timm file does not: the file's own ``pos_embed_grid`` if it has
one, else the given ``img_size``, else the named arch's ``img_size`` (DeiT: 224, ViT-Lite:
32); the patch rows must add up to that grid, or the conversion is refused.
"""
import re
from typing import Dict, Optional, Tuple

import torch

from .backbones.mpvg_vit import ARCH_SETTINGS, resolve_arch, size_pair
from .pos_embed import PE_PRESETS

_BLOCK_PARTS = ('norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1', 'mlp.fc2')
_BLOCK_KEY = re.compile(r'^blocks\.(\d+)\.(' + '|'.join(map(re.escape, _BLOCK_PARTS)) +
                        r')\.(weight|bias)$')
_PE_NORM_KEY = re.compile(r'^blocks\.(\d+)\.pe_norm\.(weight|bias)$')
_TOP_KEYS = {'cls_token', 'pos_embed', 'pos_embed_grid', 'patch_embed.proj.weight',
             'patch_embed.proj.bias', 'norm.weight', 'norm.bias'}


def unwrap_state_dict(ckpt: dict) -> Dict[str, torch.Tensor]:
    """The tensors of a checkpoint saved as ``{'model': ...}``, ``{'state_dict': ...}`` or
    a bare state dict; a ``module.`` prefix (DDP) is removed."""
    for key in ('model', 'state_dict', 'model_ema'):
        if isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
            break
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in ckpt.items()}


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
    depth = 1 + max(int(m.group(1)) for m in map(_BLOCK_KEY.match, sd) if m)
    pe_blocks = sorted(int(m.group(1)) for m in map(_PE_NORM_KEY.match, sd)
                       if m and m.group(2) == 'weight')
    with_cls = 'cls_token' in sd
    has_last = 'last_pe_norm.weight' in sd
    if pe_blocks and pe_blocks != list(range(pe_blocks[0], depth)):
        raise ValueError(f'layer-wise PE norms on blocks {pe_blocks}: not a contiguous run '
                         'to the last block, which no PE structure here produces.')
    observed = dict(layerwise_from=pe_blocks[0] if pe_blocks else None,
                    last_ln_pos=0 if has_last else None)
    pe_mode = _closest_preset(observed, with_cls)
    preset = PE_PRESETS[pe_mode][0]
    pe_cfg = {k: v for k, v in observed.items() if getattr(preset, k) != v}
    patch = sd['patch_embed.proj.weight'].shape[-1]
    arch = next((name for name, a in ARCH_SETTINGS.items()
                 if (a['embed_dims'], a['num_layers'], a['patch_size']) == (dims, depth, patch)),
                None)  # None: the head count cannot be read off the weights
    cfg = dict(arch=arch, pe_mode=pe_mode, with_cls_token=with_cls)
    if pe_cfg:
        cfg['pe_cfg'] = pe_cfg
    return cfg


def timm_to_mpvg(sd: Dict[str, torch.Tensor], head_prefix: str = 'head.fc.') -> Dict[str, torch.Tensor]:
    """Rename timm-layout keys to ``backbone.*`` / ``head.fc.*`` of an ``ImageClassifier``."""
    out, unknown = {}, []
    for key, value in sd.items():
        m = _PE_NORM_KEY.match(key)
        if m:
            out[f'backbone.pe.layer_norms.{m.group(1)}.{m.group(2)}'] = value
        elif key.startswith('last_pe_norm.'):
            out['backbone.pe.last_norm.' + key[len('last_pe_norm.'):]] = value
        elif key in _TOP_KEYS or _BLOCK_KEY.match(key):
            out['backbone.' + key] = value
        elif key in ('head.weight', 'head.bias'):
            out[head_prefix + key[len('head.'):]] = value
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f'keys with no place in MPVGViT: {unknown[:8]}'
                         f'{" ..." if len(unknown) > 8 else ""}')
    return out


def record_pos_embed_grid(sd: Dict[str, torch.Tensor], cfg: dict) -> Tuple[int, int]:
    """The ``(h, w)`` grid of a timm-layout ``pos_embed`` (``(1, [1 +] h*w, D)``).

    From the file's ``pos_embed_grid`` when it has one (``cfg['img_size']``, if set, must
    agree), else from ``cfg['img_size']``, else from the arch's ``img_size``; the patch
    size is the weights' (``patch_embed.proj.weight``). The class row is counted from the
    ``cls_token`` key.

    Raises:
        ValueError: the size is not a multiple of the patch, or the rows do not add up
            (the message names ``--img-size``).
    """
    rows = sd['pos_embed'].shape[1]
    extra = int('cls_token' in sd)
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
    if rows - extra != grid[0] * grid[1]:
        raise ValueError(
            f'pos_embed has {rows} rows ({extra} class row by the keys, {rows - extra} patch '
            f'rows), but the grid {grid[0]}x{grid[1]} ({source}, patch {patch}) has '
            f'{grid[0] * grid[1]}: give the size the checkpoint was trained at (--img-size '
            f'H W, or img_size in the overrides).')
    return grid


def _check_fits_backbone(state_dict: Dict[str, torch.Tensor], cfg: dict) -> None:
    """Build the ``MPVGViT`` that ``cfg`` describes (on the meta device) and refuse, naming
    the keys, when the converted backbone weights are not exactly its state dict (e.g. a
    ``pe_mode`` override whose ``LN'``/``LN''`` the file has no weights for)."""
    from .backbones.mpvg_vit import MPVGViT
    with torch.device('meta'):
        model = MPVGViT(**cfg)  # ValueError for a combination that defines no network
    want = set(model.state_dict())
    have = {k[len('backbone.'):] for k in state_dict if k.startswith('backbone.')}
    missing, unexpected = sorted(want - have), sorted(have - want)
    if missing or unexpected:
        raise ValueError(
            f'the converted weights do not fit MPVGViT({cfg}): missing {missing[:6]}, '
            f'unexpected {unexpected[:6]}; leave --pe-mode/--pe-cfg/--with-cls-token to what '
            'the keys show (printed without them), or use a checkpoint that has these keys.')


def convert_timm_checkpoint(ckpt: dict, overrides: Optional[dict] = None) -> Tuple[dict, dict]:
    """``(mmpretrain checkpoint, inferred model cfg)`` for a loaded timm-layout checkpoint.

    ``overrides`` may set any ``MPVGViT`` kwarg; ``img_size`` there is also the size the
    file was trained at (see :func:`record_pos_embed_grid`). The checkpoint's
    ``state_dict`` holds ``backbone.pos_embed_grid`` and its ``meta['pos_embed_grid']``.
    """
    sd = unwrap_state_dict(ckpt)
    cfg = infer_model_cfg(sd)
    cfg.update(overrides or {})
    if cfg['arch'] is None:
        raise ValueError(f'no known arch has {sd["pos_embed"].shape[-1]} channels, patch '
                         f'{sd["patch_embed.proj.weight"].shape[-1]} and this depth; the number '
                         'of heads cannot be read off the weights: give the arch (--arch JSON).')
    grid = record_pos_embed_grid(sd, cfg)
    state_dict = timm_to_mpvg(sd)
    state_dict['backbone.pos_embed_grid'] = torch.tensor(grid, dtype=torch.long)
    _check_fits_backbone(state_dict, cfg)
    num_classes = sd['head.weight'].shape[0] if 'head.weight' in sd else None
    meta = dict(mpvg_backbone=cfg, num_classes=num_classes, converted_from='timm',
                pos_embed_grid=list(grid))
    return dict(state_dict=state_dict, meta=meta), cfg
