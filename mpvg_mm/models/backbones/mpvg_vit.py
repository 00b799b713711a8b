"""``MPVGViT``: a plain ViT/DeiT whose position embedding follows a :class:`PEStructure`.

One implementation serves classification (mmpretrain), detection (mmdet) and
segmentation (mmseg); ``mpvg_mm.registry`` registers it into the three ``MODELS``.
Parameter names follow timm's ``vision_transformer.py`` (``patch_embed.proj``,
``blocks.{i}.norm1/attn.qkv/attn.proj/norm2/mlp.fc1/mlp.fc2``, ``norm``), plus
``pe.layer_norms.{i}`` (``LN'_i``) and ``pe.last_norm`` (``LN''``).
"""
import functools
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from ..pos_embed import (PE_PRESETS, LayerwisePositionEmbedding, build_pe_structure,
                         check_positive_number, is_positive_int, resample_pos_embed)

LN_EPS = 1e-6

#: The named architectures (canonical names; see :data:`ARCH_ALIASES` for the others).
ARCH_SETTINGS: Dict[str, dict] = {
    # DeiT (Touvron et al., 2021), Table 1 of the DeiT paper
    'deit-tiny': dict(embed_dims=192, num_layers=12, num_heads=3, mlp_ratio=4.0,
                      patch_size=16, img_size=224),
    'deit-small': dict(embed_dims=384, num_layers=12, num_heads=6, mlp_ratio=4.0,
                       patch_size=16, img_size=224),
    'deit-base': dict(embed_dims=768, num_layers=12, num_heads=12, mlp_ratio=4.0,
                      patch_size=16, img_size=224),
    # ViT-Lite-7/4 (Hassani et al., "Escaping the Big Data Paradigm with Compact
    # Transformers") on 32x32 CIFAR images
    'vit-lite': dict(embed_dims=256, num_layers=7, num_heads=4, mlp_ratio=2.0,
                     patch_size=4, img_size=32),
}
#: Other spellings of the names in :data:`ARCH_SETTINGS` (the papers' and mmpretrain's).
ARCH_ALIASES: Dict[str, str] = {
    'deit-t': 'deit-tiny', 'deit-ti': 'deit-tiny',
    'deit-s': 'deit-small',
    'deit-b': 'deit-base',
    'vit-lite-7/4': 'vit-lite', 'vit-lite-7': 'vit-lite',
}
ARCH_KEYS = ('embed_dims', 'num_layers', 'num_heads')
ARCH_OPTIONAL = dict(mlp_ratio=4.0, patch_size=16, img_size=224)


def resolve_arch_settings(arch: Union[str, dict], settings: Dict[str, dict],
                          required: Sequence[str], optional: dict,
                          aliases: Optional[Dict[str, str]] = None, kind: str = '',
                          positive_ints: Sequence[str] = ()) -> dict:
    """The full settings of an architecture given by name or as a dict: the name-or-dict
    logic of every backbone's arch resolver (:func:`resolve_arch`, ``resolve_ceit_arch``,
    ``resolve_t2t_arch``).

    Args:
        arch: a name of ``settings`` or ``aliases`` (any case), or a dict with every key
            of ``required`` and any of ``optional``.
        settings: the named architectures (canonical name -> settings).
        required: the keys an arch dict must set.
        optional: the keys an arch dict may set, with their defaults (a named arch gets
            them too, under its own settings).
        aliases: other spellings (lower case) -> canonical name.
        kind: the family named in the messages (``'CeiT'`` -> "unknown CeiT arch").
        positive_ints: keys that must be positive ints (checked for a dict; with
            ``mlp_ratio`` above 0 and ``num_heads`` dividing ``embed_dims`` when set).

    Returns:
        a new dict with every key of ``required`` and ``optional``.

    Raises:
        ValueError: an unknown name (naming the known ones and the aliases), not a name
            or dict, a dict with missing or unknown keys (naming both lists), a size that
            is not a positive int, ``mlp_ratio`` not above 0, heads that do not divide
            ``embed_dims``.
    """
    label = f'{kind} arch' if kind else 'arch'
    if isinstance(arch, str):
        key = (aliases or {}).get(arch.lower(), arch.lower())
        if key not in settings:
            also = f' (aliases {sorted(aliases)})' if aliases else ''
            raise ValueError(f'unknown {label} {arch!r}; choose one of {sorted(settings)}'
                             f'{also} or pass a dict with {list(required)}.')
        return dict(optional, **settings[key])
    if not isinstance(arch, dict):
        raise ValueError(f'arch={arch!r} must be one of the {label} names '
                         f'{sorted(settings)} or a dict.')
    missing = sorted(set(required) - set(arch))
    unknown = sorted(set(arch) - set(required) - set(optional))
    if missing or unknown:
        found = ', '.join(f'{what} {keys}' for what, keys in (('missing', missing),
                                                              ('unknown', unknown)) if keys)
        raise ValueError(f'{label} dict: {found}; it needs {list(required)} and may set '
                         f'{sorted(optional)}.')
    cfg = dict(optional, **arch)
    for name in positive_ints:
        if not is_positive_int(cfg[name]):
            raise ValueError(f'{label} {name}={cfg[name]!r} must be a positive int.')
    if positive_ints and 'mlp_ratio' in cfg:
        check_positive_number(f'{label} mlp_ratio', cfg['mlp_ratio'])
    if 'num_heads' in positive_ints and cfg['embed_dims'] % cfg['num_heads']:
        raise ValueError(f'{label} num_heads={cfg["num_heads"]} does not divide '
                         f'embed_dims={cfg["embed_dims"]}.')
    return cfg


def resolve_arch(arch: Union[str, dict]) -> dict:
    """The full settings of an architecture given by name or as a dict.

    Args:
        arch: a name of :data:`ARCH_SETTINGS` or :data:`ARCH_ALIASES` (any case), or a
            dict with ``embed_dims``, ``num_layers``, ``num_heads`` and optionally
            ``mlp_ratio`` (4.0), ``patch_size`` (16), ``img_size`` (224).

    Returns:
        a new dict with all six keys.

    Raises:
        ValueError: an unknown name, a dict with missing or unknown keys, non-positive
            sizes, heads that do not divide ``embed_dims`` (:func:`resolve_arch_settings`).
    """
    return resolve_arch_settings(arch, ARCH_SETTINGS, ARCH_KEYS, ARCH_OPTIONAL, ARCH_ALIASES,
                                 positive_ints=('embed_dims', 'num_layers', 'num_heads'))


OUT_TYPES = ('cls_token', 'avg_featmap', 'featmap')
#: What the last block's output ``x_L`` gets (``MPVGViT(final_norm=...)``): the terms of
#: the Last LN of the paper's Eq. 11, ``y = LN(x_L) + LN''(pos_k)``.
FINAL_NORMS = ('ln+pe', 'ln', 'pe', 'none')


def refuses_switches(**switches: str):
    """Class decorator: building the class with a keyword of ``switches`` (another
    backbone's switch, e.g. ``--cfg-options model.backbone.final_norm=none`` on a
    ViT-Adapter config) raises a ValueError naming the class and the message
    ``switches[keyword]`` (this class's switch for it), instead of Python's bare
    ``TypeError: unexpected keyword argument``."""
    def decorate(cls):
        init = cls.__init__

        @functools.wraps(init)
        def __init__(self, *args, **kwargs):
            for key in sorted(kwargs.keys() & switches.keys()):
                raise ValueError(f'{cls.__name__} has no {key!r} switch: {switches[key]}')
            init(self, *args, **kwargs)

        cls.__init__ = __init__
        return cls
    return decorate


def refuse_cls_token_with_last_ln_pe(pe_mode: str, structure, with_cls: bool) -> None:
    """Refuse a class token together with a Last-LN PE (``LN''(pos_k)`` added after the
    Last LN, ``structure.last_ln_pos`` set): the paper, Sec. 4, calls them incompatible.

    Raises:
        ValueError: naming what conflicts and the fixes that apply to ``pe_mode``.
    """
    if not with_cls or structure.last_ln_pos is None:
        return
    preset = PE_PRESETS.get(pe_mode, (None,))[0]
    if preset is not None and preset.last_ln_pos is None:
        source, fix = f'pe_cfg last_ln_pos={structure.last_ln_pos}', 'drop last_ln_pos from pe_cfg'
    else:
        source = f'pe_mode={pe_mode!r}'
        fix = "set pe_cfg=dict(last_ln_pos=None), or use pe_mode='pvg'/'lape'"
    raise ValueError(
        f"the Last-LN PE (LN''(pos_{structure.last_ln_pos}) added after the Last LN, from "
        f'{source}) is incompatible with a class token (the paper, Sec. 4): use '
        f'with_cls_token=False (GAP), or {fix}.')


def resolve_cls_token_and_out_type(pe_mode: str, structure, preset_cls: bool,
                                   with_cls_token: Optional[bool],
                                   out_type: Optional[str]) -> Tuple[bool, str]:
    """``(with_cls_token, out_type)`` of a backbone: None follows the preset / the class
    token (``'cls_token'`` with one, else ``'avg_featmap'``).

    Raises:
        ValueError: a Last-LN PE with a class token (the paper, Sec. 4: incompatible), an
            unknown ``out_type``, ``'cls_token'`` without a class token.
    """
    with_cls = preset_cls if with_cls_token is None else bool(with_cls_token)
    refuse_cls_token_with_last_ln_pe(pe_mode, structure, with_cls)
    out_type = out_type or ('cls_token' if with_cls else 'avg_featmap')
    if out_type not in OUT_TYPES:
        raise ValueError(f'unknown out_type {out_type!r}; choose one of {OUT_TYPES}.')
    if out_type == 'cls_token' and not with_cls:
        raise ValueError("out_type='cls_token' needs with_cls_token=True; GAP models use "
                         "out_type='avg_featmap'.")
    return with_cls, out_type


def format_output(tokens: torch.Tensor, grid: Tuple[int, int], out_type: str,
                  num_extra_tokens: int) -> torch.Tensor:
    """``(B, E + h*w, D)`` tokens -> ``(B, D)`` (``'cls_token'``: token 0;
    ``'avg_featmap'``: the mean of the patch tokens) or ``(B, D, h, w)`` (``'featmap'``)."""
    if out_type == 'cls_token':
        return tokens[:, 0]
    patches = tokens[:, num_extra_tokens:]
    if out_type == 'avg_featmap':
        return patches.mean(dim=1)
    B, _, D = patches.shape
    return patches.transpose(1, 2).reshape(B, D, grid[0], grid[1])


def gap_last_ln_pe(backbone: nn.Module, neck: Optional[nn.Module]) -> torch.Tensor:
    """The folding interface's ``pooled_last_ln_pe`` (:mod:`mpvg_mm.models.folding`) of a
    ViT-like backbone (``MPVGViT``, ``MPVGCeiT``, ``MPVGT2TViT``): ``c̄ = mean_i
    LN''(pos_k)_i``, ``(D,)``, of a pass at its own ``pe_grid`` (``plan.last`` of
    ``pe(resampled_pos_embed(pe_grid))``, averaged over its tokens).

    Raises:
        ValueError: ``out_type`` is not ``'avg_featmap'`` or the classifier has a neck
            (the Last-LN PE is a constant of the head's input only after GAP).
    """
    if backbone.out_type != 'avg_featmap' or neck is not None:
        # (an MPVG CeiT is always 'avg_featmap': its LCA reads per-layer GAP tokens)
        raise ValueError('folding needs out_type=avg_featmap and no neck: the Last-LN PE is a '
                         'constant only after global average pooling.')
    return backbone.pe(backbone.resampled_pos_embed(backbone.pe_grid)).last[0].mean(0)


def init_linear_and_ln(module: nn.Module, cls_token: Optional[torch.Tensor] = None) -> None:
    """DeiT's (and T2T-ViT's) init: trunc-normal(0.02) Linear weights, zero biases, LN
    weight 1 and bias 0, and trunc-normal(0.02) for the class token if given."""
    if cls_token is not None:
        trunc_normal_(cls_token, std=0.02)
    for m in module.modules():
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def size_pair(value: Union[int, Sequence[int]], name: str = 'img_size') -> Tuple[int, int]:
    """``s -> (s, s)``; ``(h, w) -> (h, w)`` (a tuple or list of two positive ints).

    Raises:
        ValueError: anything else, naming ``name`` and the value: ``(64,)`` (mmseg would
            read it as 64x64, we refuse it), ``(64, 64, 3)``, floats, non-positive sides.
    """
    if is_positive_int(value):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and \
            all(is_positive_int(v) for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f'{name}={value!r}: give one positive int (a square image) or a pair '
                     '(H, W) of positive ints.')


class PatchEmbed(nn.Module):
    """``(B, 3, H, W) -> (B, h*w, D)`` with ``(h, w) = (H/p, W/p)``.

    Sides that are not multiples of the patch size raise an error, unless
    ``pad_to_patch`` is set: then the image is zero-padded at the bottom and right (as
    mmcv's ``AdaptivePadding(padding='corner')``) and ``(h, w) = ceil((H, W) / p)``.
    """

    def __init__(self, patch_size: int, in_channels: int, embed_dims: int,
                 pad_to_patch: bool = False):
        super().__init__()
        self.patch_size = patch_size
        self.pad_to_patch = pad_to_patch
        self.proj = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        if x.dim() != 4 or x.shape[1] != self.proj.in_channels:
            raise ValueError(f'MPVGViT expects images (B, {self.proj.in_channels}, H, W), '
                             f'got a tensor of shape {tuple(x.shape)}.')
        p = self.patch_size
        h, w = x.shape[-2:]
        pad_h, pad_w = (-h) % p, (-w) % p
        if pad_h or pad_w:
            if not self.pad_to_patch:
                raise ValueError(
                    f'input size {h}x{w} is not a multiple of the patch size {p}: resize or '
                    f'pad the images ({pad_divisor_hint(p)}), or build the backbone with '
                    'pad_to_patch=True.')
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.proj(x)
        grid = (x.shape[2], x.shape[3])
        return x.flatten(2).transpose(1, 2), grid


#: the data preprocessor's padding keys of each toolbox: mmpretrain's
#: ``ClsDataPreprocessor`` and mmdet's ``DetDataPreprocessor`` take ``pad_size_divisor``;
#: mmseg's ``SegDataPreProcessor`` takes ``size_divisor`` (training) and
#: ``test_cfg=dict(size_divisor=...)`` (testing); ``{key}``: where the config sets it
PAD_DIVISOR_HINTS = {
    'mmpretrain': '{key}.pad_size_divisor={div}',
    'mmdet': '{key}.pad_size_divisor={div}',
    'mmseg': '{key}.size_divisor={div} and {key}.test_cfg=dict(size_divisor={div})',
}

#: the config key of the data preprocessor of the config in use (set by
#: :func:`record_data_preprocessor_key`; ``tools/train.py`` and ``tools/test.py`` do)
_preprocessor_key = ['model.data_preprocessor']


def record_data_preprocessor_key(cfg) -> str:
    """Remember where ``cfg`` sets its data preprocessor, for :func:`pad_divisor_hint`.

    mmengine's ``Runner`` gives a model without ``data_preprocessor`` the config's top-level
    ``data_preprocessor`` (mmpretrain's dataset configs set it there): for such a config,
    ``--cfg-options model.data_preprocessor.pad_size_divisor=8`` would create a model entry
    that replaces the whole preprocessor (mean/std dropped); the top-level key is the one
    that works. Returns the key (``'data_preprocessor'`` or ``'model.data_preprocessor'``).
    """
    model = cfg.get('model') or {}
    top_level = cfg.get('data_preprocessor') is not None and \
        (not isinstance(model, dict) or model.get('data_preprocessor') is None)
    _preprocessor_key[0] = 'data_preprocessor' if top_level else 'model.data_preprocessor'
    return _preprocessor_key[0]


def pad_divisor_hint(divisor: int) -> str:
    """How to pad to a multiple of ``divisor`` with the data preprocessor of the toolbox in
    use (mmengine's current default scope) at the key where the config in use sets it
    (:func:`record_data_preprocessor_key`); every toolbox's keys when no scope is set."""
    from mmengine.registry import DefaultScope
    current = DefaultScope.get_current_instance()
    scope = current.scope_name if current is not None else None
    key = _preprocessor_key[0]
    if scope in PAD_DIVISOR_HINTS:
        return (f'--cfg-options {PAD_DIVISOR_HINTS[scope].format(key=key, div=divisor)} in '
                f'this {scope} config')
    return '; '.join(f'{name}: {hint.format(key=key, div=divisor)}'
                     for name, hint in PAD_DIVISOR_HINTS.items())


class Attention(nn.Module):
    """Multi-head self-attention on ``(B, N, D)`` with PyTorch's fused SDPA kernel."""

    def __init__(self, dims: int, num_heads: int, qkv_bias: bool = True,
                 attn_drop: float = 0.0, scale: Optional[float] = None):
        super().__init__()
        if dims % num_heads:
            raise ValueError(f'embed_dims={dims} is not divisible by num_heads={num_heads}.')
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.scale = scale  # None: head_dims ** -0.5
        self.qkv = nn.Linear(dims, dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(dims, dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.attend(self.qkv(x)))

    def attend(self, qkv: torch.Tensor) -> torch.Tensor:
        """``(B, N, 3D)`` projected q, k, v -> ``(B, N, D)`` attention output (before
        ``proj``)."""
        B, N, D3 = qkv.shape
        qkv = qkv.reshape(B, N, 3, self.num_heads, D3 // (3 * self.num_heads))
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0, scale=self.scale)
        return x.transpose(1, 2).reshape(B, N, D3 // 3)


class Mlp(nn.Module):
    """``fc1 -> GELU -> fc2`` on ``(B, N, D)``."""

    def __init__(self, dims: int, hidden_dims: int):
        super().__init__()
        self.fc1 = nn.Linear(dims, hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dims, dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class DropPath(nn.Module):
    """Stochastic depth per sample."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0], ) + (1, ) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


def window_partition(x: torch.Tensor, grid: Tuple[int, int], size: int):
    """``(B, h*w, D)`` -> ``(B * nW, size*size, D)`` windows (zero-padded to multiples)."""
    B, _, D = x.shape
    h, w = grid
    x = x.reshape(B, h, w, D)
    pad_h, pad_w = (-h) % size, (-w) % size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    H, W = h + pad_h, w + pad_w
    x = x.reshape(B, H // size, size, W // size, size, D).transpose(2, 3)
    return x.reshape(-1, size * size, D), (H, W)


def window_unpartition(x: torch.Tensor, grid: Tuple[int, int], padded: Tuple[int, int],
                       size: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, size*size, D)`` -> ``(B, h*w, D)``."""
    (h, w), (H, W) = grid, padded
    D = x.shape[-1]
    x = x.reshape(-1, H // size, W // size, size, size, D).transpose(2, 3)
    x = x.reshape(-1, H, W, D)[:, :h, :w]
    return x.reshape(x.shape[0], h * w, D)


class Block(nn.Module):
    """Pre-norm transformer block with an optional PE on the attention input.

    ``x = x + Attn(LN1(x) [+ pos]); x = x + MLP(LN2(x))``: the PE reaches Q, K and V
    only, never the residual stream or the MLP (LaPE / PVG). ``x`` is ``(B, N, D)``,
    ``pos`` is ``(1, N, D)`` or None. With ``window_size > 0`` attention runs inside
    non-overlapping windows of the ``(h, w)`` token grid (ViTDet / ViT-Adapter for COCO).

    Two switches for wrappers that reproduce other implementations (off by default; see
    ``MPVGViTAdapter``): ``window_pad_after_qkv`` zero-pads the windows after the qkv
    projection (padded queries/keys/values are 0, ViT-Adapter's ``WindowedAttention``),
    instead of padding the normed tokens before it (padded keys/values equal the qkv bias,
    detectron2's ViTDet); :meth:`enable_layer_scale` adds per-channel ``gamma1`` /
    ``gamma2`` (init 1) on the attention and MLP branches (ViT-Adapter's ``layer_scale``).
    ``norm_eps`` (LN1, LN2) and ``qk_scale`` (None: ``head_dims ** -0.5``) serve backbones
    with other settings (``MPVGT2TViT``: eps 1e-5; released T2T-ViT weights: ``D ** -0.5``).
    """

    def __init__(self, dims: int, num_heads: int, mlp_ratio: float, qkv_bias: bool = True,
                 drop_path: float = 0.0, window_size: int = 0, norm_eps: float = LN_EPS,
                 qk_scale: Optional[float] = None):
        super().__init__()
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(dims, eps=norm_eps)
        self.attn = Attention(dims, num_heads, qkv_bias, scale=qk_scale)
        self.norm2 = nn.LayerNorm(dims, eps=norm_eps)
        self.mlp = Mlp(dims, int(dims * mlp_ratio))
        self.drop_path = DropPath(drop_path)
        self.window_pad_after_qkv = False
        self.gamma1 = self.gamma2 = None

    def enable_layer_scale(self) -> None:
        """Add ``gamma1``, ``gamma2`` ``(D,)``, initialised to 1 (an identity)."""
        dims = self.norm1.normalized_shape[0]
        self.gamma1 = nn.Parameter(torch.ones(dims))
        self.gamma2 = nn.Parameter(torch.ones(dims))

    def forward(self, x: torch.Tensor, pos: Optional[torch.Tensor] = None,
                grid: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        h = self.norm1(x)
        if pos is not None:
            h = h + pos
        size = self.window_size
        if size and self.window_pad_after_qkv:
            windows, padded = window_partition(self.attn.qkv(h), grid, size)
            h = self.attn.proj(window_unpartition(self.attn.attend(windows), grid, padded, size))
        elif size:
            windows, padded = window_partition(h, grid, size)
            h = window_unpartition(self.attn(windows), grid, padded, size)
        else:
            h = self.attn(h)
        if self.gamma1 is not None:
            h = self.gamma1 * h
        x = x + self.drop_path(h)
        h = self.mlp(self.norm2(x))
        return x + self.drop_path(h if self.gamma2 is None else self.gamma2 * h)


@refuses_switches(**{
    key: (f'that is a ViT-Adapter switch (MPVGViTAdapter). What the last block\'s output '
          f"gets (the Last LN and MPVG's LN''(pos_0)) is MPVGViT's final_norm, one of "
          f'{FINAL_NORMS}, e.g. --cfg-options model.backbone.final_norm=ln+pe.')
    for key in ('last_ln_pe_port', 'vit_output_norm')})
class MPVGViT(BaseModule):
    """Vision Transformer with the position-embedding structures of MPVG (AAAI 2025).

    Args:
        arch: ``'deit-tiny' | 'deit-small' | 'deit-base' | 'vit-lite'`` or a dict with
            ``embed_dims, num_layers, num_heads, mlp_ratio, patch_size, img_size``.
        pe_mode: ``'default' | 'lape' | 'pvg' | 'mpvg'`` (``mpvg_mm.models.pos_embed``).
        pe_cfg: overrides of the preset's switches, e.g. ``dict(hierarchical=False)``.
        with_cls_token: None follows the preset (Default, LaPE: yes; PVG, MPVG: no).
        out_type: ``'cls_token'`` -> ``(B, D)``; ``'avg_featmap'`` -> ``(B, D)``, the
            mean over the patch tokens after the Last LN (Eq. 4, 11); ``'featmap'`` ->
            ``(B, D, h, w)``. None: ``'cls_token'`` with a class token, else
            ``'avg_featmap'``.
        out_indices: blocks whose outputs are returned (negative counts from the end).
            The last block's output gets what ``final_norm`` says; earlier ones are the
            raw residual stream.
        final_norm: what the last block's output ``x_L`` (``(B, N, D)``) gets before it is
            returned (any ``out_type``), i.e. which terms of the paper's Last LN (Sec. 4,
            Eq. 11: ``y = LN(x_L) + LN''(pos_k)``, ``k = last_ln_pos``) are kept:

            * ``'ln+pe'`` (default): ``LN(x_L) + LN''(pos_k)``, the classifier's output;
              for structures without a Last-LN PE (Default, LaPE, PVG) ``LN(x_L)``.
            * ``'ln'``: ``LN(x_L)``; the Last-LN PE is dropped (built without ``LN''``,
              as the structure with ``last_ln_pos=None``: MPVG -> PVG).
            * ``'pe'``: ``x_L + LN''(pos_k)``: MPVG's PE term on the un-normalised
              tokens; ``x_L`` for structures without it. No Last LN is built.
            * ``'none'``: ``x_L``, as ViTDet feeds its simple pyramid (mmdet
              ``projects/ViTDet``: ``final_norm=False``). No Last LN, no ``LN''``.

            Unused norms are not built (no unused parameter under DDP); a classifier
            checkpoint's ``norm.*`` / ``pe.last_norm.*`` are then reported as unexpected
            keys and ignored. ``True``/``False`` (mmpretrain's boolean ``final_norm``)
            mean ``'ln+pe'``/``'none'``. The plain-ViT Mask R-CNN configs choose by the
            study in the README ("Plain-ViT detection: where the Last LN goes").
        img_size: the size ``pos_embed`` is defined for (the arch's by default): an int
            ``s`` (``s x s``) or ``(H, W)``, multiples of the patch size; anything else
            raises ``ValueError``. Other input sizes work: ``pos_0`` is resampled to the
            actual patch grid (bicubic) before the ``LN'`` chain, and checkpoints of other
            grids are resampled on load (see "Loading checkpoints" below).
        pretrained_img_size: the input size (int or ``(H, W)``) a checkpoint was trained
            at, for checkpoints that do not record their grid (no ``pos_embed_grid`` key:
            timm/DeiT/mmpretrain files, and mpvg_mm checkpoints saved before the grid was
            recorded), e.g. ``224`` for a standard DeiT. Ignored for checkpoints that
            record their grid (the record is a fact about the file; the argument is not).
        patch_size: overrides the arch's.
        pad_to_patch: zero-pad inputs whose sides are not multiples of the patch size
            (bottom/right) instead of raising an error.
        drop_path_rate: stochastic depth, linearly increasing over the blocks.
        window_size: window attention size for the blocks in ``window_block_indexes``
            (ViT-Adapter / ViTDet on COCO use 14 on all but every third block); the
            others attend globally. Needs ``with_cls_token=False``.
        window_block_indexes: blocks that use window attention.
        with_cp: activation checkpointing of every block.
        frozen_stages: freeze the patch embedding, ``pos_0``, the class token and the
            first ``frozen_stages`` blocks (with their ``LN'``); all of them also freezes
            the Last LN and ``LN''``. -1 freezes nothing.
        init_cfg: mmengine init config (e.g. ``dict(type='Pretrained', ...)``).

    Loading checkpoints (:meth:`_resample_pos_embed_on_load`, run by every
    ``load_state_dict``, mmengine's ``Pretrained`` init with ``prefix='backbone.'``
    included). The buffer ``pos_embed_grid`` (``(2,)`` int64, ``(h, w)`` of
    ``pos_embed``'s patch rows; not a parameter, so parameter counts, optimizers and
    layer decay ignore it) rides in every state dict this model saves. A checkpoint's
    ``pos_embed`` of shape ``(1, E + h*w, D)`` is read from facts only:

    * ``E``, its extra leading rows, from its keys: ``cls_token`` present -> the class
      row; ``dist_token`` too -> a distillation row after it (distilled DeiT);
    * ``(h, w)`` from its ``pos_embed_grid``, else from ``pretrained_img_size``, else the
      load is refused with a ``ValueError`` that names ``pretrained_img_size`` (and its
      value for a square grid, e.g. ``pretrained_img_size=224``);
    * the rows must add up, ``N = E + h*w``, else ``ValueError`` with what was found.

    The class row is kept for a class-token model and dropped (with a warning) for a GAP
    model; a distillation row is always dropped (warning; the loader reports the
    ``dist_token`` key as unexpected); a class-token model refuses a checkpoint without
    ``cls_token``. The patch rows are resampled bicubically from ``(h, w)`` to this
    model's grid (:func:`resample_pos_embed`). The checkpoint's ``pos_embed_grid`` is read,
    never copied: the buffer always holds this model's grid (and a state dict without it
    reports no missing key).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'deit-tiny',
                 pe_mode: str = 'mpvg',
                 pe_cfg: Optional[dict] = None,
                 with_cls_token: Optional[bool] = None,
                 out_type: Optional[str] = None,
                 out_indices: Union[int, Sequence[int]] = -1,
                 final_norm: Union[str, bool] = 'ln+pe',
                 img_size: Optional[Union[int, Sequence[int]]] = None,
                 patch_size: Optional[int] = None,
                 in_channels: int = 3,
                 qkv_bias: bool = True,
                 pad_to_patch: bool = False,
                 pretrained_img_size: Optional[Union[int, Sequence[int]]] = None,
                 drop_path_rate: float = 0.0,
                 window_size: int = 0,
                 window_block_indexes: Sequence[int] = (),
                 with_cp: bool = False,
                 frozen_stages: int = -1,
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        arch_cfg = resolve_arch(arch)
        self.embed_dims = arch_cfg['embed_dims']
        self.num_layers = arch_cfg['num_layers']
        self.patch_size = int(patch_size or arch_cfg['patch_size'])
        self.img_size = size_pair(arch_cfg['img_size'] if img_size is None else img_size)
        self.pe_grid = self._grid_of(self.img_size, 'img_size')
        self.pretrained_img_size = (None if pretrained_img_size is None else
                                    size_pair(pretrained_img_size, 'pretrained_img_size'))
        self.pretrained_grid = (None if pretrained_img_size is None else
                                self._grid_of(self.pretrained_img_size, 'pretrained_img_size'))

        self.final_norm = self._resolve_final_norm(final_norm)
        if 'pe' not in self.final_norm.split('+'):
            # the structure without the Last-LN PE (the deprecated key goes too)
            pe_cfg = {k: v for k, v in (pe_cfg or {}).items() if k != 'last_ln_pe'}
            pe_cfg['last_ln_pos'] = None
        structure, preset_cls = build_pe_structure(pe_mode, pe_cfg)
        self.pe_mode = pe_mode
        self.with_cls_token, self.out_type = resolve_cls_token_and_out_type(
            pe_mode, structure, preset_cls, with_cls_token, out_type)
        self.num_extra_tokens = int(self.with_cls_token)
        window_blocks = set(window_block_indexes) if window_size else set()
        if window_blocks and self.with_cls_token:
            raise ValueError('window attention works on the patch grid: it needs '
                             'with_cls_token=False.')
        if not window_blocks <= set(range(self.num_layers)):
            raise ValueError(f'window_block_indexes {sorted(window_blocks)} are outside the '
                             f'{self.num_layers} blocks.')

        self.out_indices = self._resolve_out_indices(out_indices)
        self.with_cp = with_cp
        self.frozen_stages = frozen_stages

        D = self.embed_dims
        self.patch_embed = PatchEmbed(self.patch_size, in_channels, D, pad_to_patch)
        num_patches = self.pe_grid[0] * self.pe_grid[1]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D)) if self.with_cls_token else None
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + self.num_extra_tokens, D))
        # the grid of pos_embed's patch rows, saved with every checkpoint (read on load)
        self.register_buffer('pos_embed_grid', torch.tensor(self.pe_grid, dtype=torch.long))
        self.pe = LayerwisePositionEmbedding(structure, self.num_layers, D)
        dpr = [drop_path_rate * i / max(self.num_layers - 1, 1) for i in range(self.num_layers)]
        self.blocks = nn.ModuleList([
            Block(D, arch_cfg['num_heads'], arch_cfg['mlp_ratio'], qkv_bias, dpr[i],
                  window_size if i in window_blocks else 0) for i in range(self.num_layers)
        ])
        # the Last LN (None when final_norm leaves it out)
        self.norm = (nn.LayerNorm(D, eps=LN_EPS) if 'ln' in self.final_norm.split('+')
                     else None)
        self._register_load_state_dict_pre_hook(self._resample_pos_embed_on_load)
        self._init_deit()
        self._freeze_stages()

    # ------------------------------------------------------------------ construction
    def _grid_of(self, size: Tuple[int, int], name: str) -> Tuple[int, int]:
        p = self.patch_size
        if size[0] % p or size[1] % p:
            raise ValueError(f'{name}={size} is not a multiple of the patch size {p}.')
        return size[0] // p, size[1] // p

    @staticmethod
    def _resolve_final_norm(final_norm: Union[str, bool]) -> str:
        if isinstance(final_norm, bool):
            return 'ln+pe' if final_norm else 'none'
        if final_norm not in FINAL_NORMS:
            raise ValueError(f'unknown final_norm {final_norm!r}; choose one of {FINAL_NORMS} '
                             "('ln+pe': LN(x_L) + LN''(pos), the classifier's; 'none': x_L, "
                             "ViTDet's).")
        return final_norm

    def _resolve_out_indices(self, out_indices) -> Tuple[int, ...]:
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        resolved = []
        for i in indices:
            j = i + self.num_layers if i < 0 else i
            if not 0 <= j < self.num_layers:
                raise ValueError(f'out_indices entry {i} is outside the {self.num_layers} '
                                 'blocks.')
            resolved.append(j)
        return tuple(resolved)

    def _init_deit(self) -> None:
        """DeiT's init: trunc-normal(0.02) for PE, class token and Linear weights."""
        trunc_normal_(self.pos_embed, std=0.02)
        init_linear_and_ln(self, self.cls_token)

    def init_weights(self) -> None:
        """DeiT init at construction; ``init_cfg`` (e.g. Pretrained) applies on top."""
        if self.init_cfg:
            super().init_weights()

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embed, self.pos_embed, self.cls_token]
        for i in range(min(self.frozen_stages, self.num_layers)):
            frozen.append(self.blocks[i])
            if str(i) in self.pe.layer_norms:
                frozen.append(self.pe.layer_norms[str(i)])
        if self.frozen_stages >= self.num_layers:
            frozen += [self.norm, self.pe.last_norm]
        for item in frozen:
            if item is None:
                continue
            if isinstance(item, nn.Parameter):
                item.requires_grad = False
                continue
            item.eval()
            for p in item.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        return self

    # ------------------------------------------------------------------ position embedding
    def _resample_pos_embed_on_load(self, state_dict, prefix, *args, **kwargs) -> None:
        """Load-state-dict pre-hook: fit a checkpoint's ``pos_embed`` to this model.

        Reads ``prefix + 'pos_embed'`` (``(1, N, D)``), ``prefix + 'pos_embed_grid'``
        and the presence of ``prefix + 'cls_token'`` / ``prefix + 'dist_token'`` in
        ``state_dict``; replaces ``pos_embed`` by ``(1, [1 +] h'*w', D)`` on this model's
        grid and ``pos_embed_grid`` by this model's grid. The rules are in the class
        docstring ("Loading checkpoints").

        First refuses foreign layouts from the keys (a ``model`` wrapper, mmpretrain /
        mmseg / ViT-Adapter names, timm's ``fc_norm``, missing core weights next to
        unknown keys: :func:`~mpvg_mm.models.checkpoint_layout.refuse_foreign_backbone_keys`),
        which mmengine's non-strict ``Pretrained`` load would only warn about.

        Raises:
            ValueError: a foreign layout (named, with ``convert.py SRC DST``);
                ``pos_embed`` is not ``(1, N, D)``; ``dist_token`` without
                ``cls_token``; a class-token model and no ``cls_token``; no recorded grid
                and no ``pretrained_img_size``; a malformed ``pos_embed_grid``; or
                ``N`` is not the extra rows plus ``h*w``.
        """
        from ..checkpoint_layout import refuse_foreign_backbone_keys
        refuse_foreign_backbone_keys(state_dict, prefix, self.state_dict().keys())
        key, grid_key = prefix + 'pos_embed', prefix + 'pos_embed_grid'
        recorded = state_dict.pop(grid_key, None)
        state_dict[grid_key] = self.pos_embed_grid.detach().clone()
        if key in state_dict:
            state_dict[key] = self._fit_checkpoint_pos_embed(state_dict, prefix, recorded)

    def _fit_checkpoint_pos_embed(self, state_dict, prefix: str,
                                  recorded: Optional[torch.Tensor]) -> torch.Tensor:
        key, grid_key = prefix + 'pos_embed', prefix + 'pos_embed_grid'
        ckpt, D = state_dict[key], self.embed_dims
        if ckpt.dim() != 3 or ckpt.shape[0] != 1 or ckpt.shape[-1] != D:
            raise ValueError(f'checkpoint {key} has shape {tuple(ckpt.shape)}; this model '
                             f'needs (1, N, {D}).')
        extra_names = [n for n in ('cls_token', 'dist_token') if prefix + n in state_dict]
        if extra_names == ['dist_token']:
            raise ValueError(
                f'the checkpoint has {prefix}dist_token but no {prefix}cls_token, so the '
                f'layout of its {key} rows is unknown (a distilled DeiT has class, '
                'distillation, then patch rows): keep cls_token in the state dict.')
        from ..checkpoint_layout import refuse_missing_cls_token
        refuse_missing_cls_token(state_dict, prefix, self.with_cls_token)
        extra, rows = len(extra_names), ckpt.shape[1]
        if rows <= extra:
            raise ValueError(f'checkpoint {key} has {rows} rows, none left for patches after '
                             f'its {extra} extra rows ({" + ".join(extra_names)}).')
        by_keys = (f'{extra} extra row(s) by its keys ({", ".join(extra_names)})' if extra
                   else '0 extra rows by its keys (no cls_token or dist_token)')
        if recorded is not None:
            src = self._read_recorded_grid(recorded, grid_key)
            source = f'recorded in {grid_key}'
        elif self.pretrained_grid is not None:
            src = self.pretrained_grid
            source = f'from pretrained_img_size={self.pretrained_img_size}'
        else:
            raise ValueError(self._no_grid_message(key, grid_key, rows, extra, by_keys))
        if rows - extra != src[0] * src[1]:
            fix = ('the state dict does not match the saved model (were cls_token / dist_token '
                   'removed? keep them: they tell the extra rows)' if recorded is not None else
                   f'set pretrained_img_size to the size the checkpoint was trained at '
                   f'((H/{self.patch_size}) * (W/{self.patch_size}) must be {rows - extra})')
            raise ValueError(
                f'checkpoint {key} has {rows} rows: {by_keys} leave {rows - extra} patch rows, '
                f'but its grid {src[0]}x{src[1]} ({source}) has {src[0] * src[1]}: {fix}.')
        logger = MMLogger.get_current_instance()
        dropped = extra_names[self.num_extra_tokens:]
        if dropped:
            has = 'a class token but no distillation token' if self.with_cls_token else \
                'no class token (GAP)'
            logger.warning(f'{key}: dropping the checkpoint\'s {" and ".join(dropped)} '
                           f'row(s): this model has {has}.')
        ckpt = torch.cat([ckpt[:, :self.num_extra_tokens], ckpt[:, extra:]], dim=1)
        if src != self.pe_grid:
            logger.info(f'{key}: resampling the checkpoint\'s {src[0]}x{src[1]} grid ({source}) '
                        f'to {self.pe_grid[0]}x{self.pe_grid[1]} (bicubic).')
        return resample_pos_embed(ckpt, src, self.pe_grid, self.num_extra_tokens)

    @staticmethod
    def _read_recorded_grid(recorded, grid_key: str) -> Tuple[int, int]:
        if not isinstance(recorded, torch.Tensor) or recorded.numel() != 2 or \
                recorded.is_floating_point() or recorded.is_complex() or \
                recorded.dtype == torch.bool or bool((recorded <= 0).any()):
            raise ValueError(f'checkpoint {grid_key} should be the (h, w) grid of pos_embed, '
                             f'two positive ints; got {recorded!r}.')
        h, w = recorded.flatten().tolist()
        return int(h), int(w)

    def _no_grid_message(self, key: str, grid_key: str, rows: int, extra: int,
                         by_keys: str) -> str:
        """The refusal for a checkpoint that does not record its grid. A square number of
        patch rows only shapes the example in the message; the grid is never assumed."""
        patches, p = rows - extra, self.patch_size
        side = math.isqrt(patches)
        if side * side == patches:
            example = (f', e.g. pretrained_img_size={side * p} if it was trained on '
                       f'{side * p}x{side * p} images ({side}x{side} patches of {p})')
        else:
            example = f' ((H/{p}) * (W/{p}) must be {patches})'
        return (f'checkpoint {key} has {rows} rows ({by_keys}, {patches} patch rows) and does '
                f'not record the grid they form (no {grid_key}: a timm/DeiT/mmpretrain '
                'checkpoint, or one saved by mpvg_mm before the grid was recorded). Build the '
                'backbone with pretrained_img_size=<the (H, W) it was trained at>' + example +
                '; in a config: model.backbone.pretrained_img_size=... '
                '(timm-layout files: tools/model_converters/timm2mpvg.py records the grid).')

    def resampled_pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        """``pos_0`` on the patch grid ``(h, w)``: ``(1, [1 +] h*w, D)``."""
        return resample_pos_embed(self.pos_embed, self.pe_grid, grid, self.num_extra_tokens)

    # ------------------------------------------------------------------ forward
    def prepare_tokens(self, x: torch.Tensor):
        """Images ``(B, 3, H, W)`` -> ``(tokens, grid, plan)`` ready for block 0.

        ``tokens`` is ``(B, [1 +] h*w, D)`` (class token first, input PE added when the
        structure says so), ``grid = (h, w)``, ``plan`` the :class:`PEPlan` of this pass,
        computed once on the batch-free ``pos_0``. Wrappers (ViT-Adapter) drive the blocks
        themselves with :meth:`forward_block` and :meth:`forward_last_ln`.
        """
        tokens, grid = self.patch_embed(x)
        plan = self.pe(self.resampled_pos_embed(grid))
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], 1)
        if plan.input is not None:
            tokens = tokens + plan.input
        return tokens, grid, plan

    def forward_block(self, index: int, tokens: torch.Tensor, plan,
                      grid: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        """Run block ``index`` on ``(B, N, D)`` tokens with its layer-wise PE.

        ``grid`` (the ``(h, w)`` patch grid) is needed by window-attention blocks only.
        """
        block, pos = self.blocks[index], plan.blocks[index]
        if self.with_cp and self.training and tokens.requires_grad:
            return cp.checkpoint(block, tokens, pos, grid, use_reentrant=False)
        return block(tokens, pos, grid)

    def forward_last_ln(self, tokens: torch.Tensor, plan) -> torch.Tensor:
        """``(B, N, D)`` -> ``(B, N, D)``: the terms of the Last LN that ``final_norm``
        keeps: ``LN(x_L)`` (or ``x_L``), plus MPVG's ``LN''(pos_k)`` when built."""
        if self.norm is not None:
            tokens = self.norm(tokens)
        return tokens if plan.last is None else tokens + plan.last

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Images ``(B, 3, H, W)`` -> one output per ``out_indices`` entry (see out_type)."""
        tokens, grid, plan = self.prepare_tokens(x)
        outs = []
        for i in range(self.num_layers):
            tokens = self.forward_block(i, tokens, plan, grid)
            if i == self.num_layers - 1:
                tokens = self.forward_last_ln(tokens, plan)
            if i in self.out_indices:
                outs.append(self._format_output(tokens, grid))
        return tuple(outs)

    def _format_output(self, tokens: torch.Tensor, grid: Tuple[int, int]) -> torch.Tensor:
        return format_output(tokens, grid, self.out_type, self.num_extra_tokens)

    # ------------------------------------------------------------------ diagnostics
    def counterbalance_norms(self) -> Tuple[List[nn.Module], nn.Module]:
        """The modules the counterbalance diagnostics hook (the interface of
        :mod:`mpvg_mm.analysis.counterbalance`): ``LN1`` of every block (``blocks[l].norm1``,
        the norm whose output block ``l``'s layer-wise PE is added to) and the Last LN
        (``norm``, whose output ``plan.last`` is added to).

        Raises:
            ValueError: a backbone built without the Last LN (``final_norm`` 'pe'/'none').
        """
        if self.norm is None:
            raise ValueError(
                f'the diagnostics read the Last LN, which this backbone does not have '
                f'(final_norm={self.final_norm!r}): run them on the classifier checkpoint '
                'it was fine-tuned from.')
        return [block.norm1 for block in self.blocks], self.norm

    # ------------------------------------------------------------------ folding
    def pooled_last_ln_pe(self, neck: Optional[nn.Module]) -> torch.Tensor:
        """``c̄``, ``(D,)`` (the interface of :mod:`mpvg_mm.models.folding`;
        :func:`gap_last_ln_pe`)."""
        return gap_last_ln_pe(self, neck)

    def fold_img_size(self) -> Tuple[int, int]:
        """The input size ``(H, W)`` a fold is valid at: ``pe_grid`` times the patch size
        (the interface of :mod:`mpvg_mm.models.folding`)."""
        return self.pe_grid[0] * self.patch_size, self.pe_grid[1] * self.patch_size

    # ------------------------------------------------------------------ lr decay
    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer depth for layer-wise lr decay (mmpretrain's constructor interface).

        Patch embedding, ``pos_0`` and the class token are depth 0; block ``i`` and its
        ``LN'_i`` are ``i + 1``; the Last LN and ``LN''`` are ``num_layers + 1``.

        Returns:
            ``(layer_depth, num_layers + 2)``.
        """
        num_depths = self.num_layers + 2
        if not param_name.startswith(prefix):
            return num_depths - 1, num_depths
        name = param_name[len(prefix):]
        if name in ('cls_token', 'pos_embed') or name.startswith('patch_embed'):
            return 0, num_depths
        for head in ('blocks.', 'pe.layer_norms.'):
            if name.startswith(head):
                return int(name[len(head):].split('.')[0]) + 1, num_depths
        return num_depths - 1, num_depths
