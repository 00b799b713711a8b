"""``MPVGCeiT``: CeiT (Convolution-enhanced image Transformer) whose position embedding
follows a :class:`PEStructure`.

CeiT: K. Yuan et al., "Incorporating Convolution Designs into Visual Transformers", ICCV
2021; reference code ``coeusguo/ceit`` ``ceit_model.py`` (``ceit_tiny_patch16_224``,
DeiT-based). The MPVG paper (AAAI 2025, Table 1) reports the four PE structures on
CeiT-Ti. Parameter names follow the reference code (``i2t.backbone.conv/bn``,
``i2t.proj``, ``cls_token``, ``pos_embed``, ``blocks.{i}.norm1/attn.qkv/attn.proj/norm2``,
``blocks.{i}.leff.conv1/bn1/conv2/bn2/conv3/bn3``, ``pos_layer_embed``,
``lca.norm1/attn/norm2/feedforward.fc1/fc2``, ``norm``), plus ``pe.layer_norms.{i}``
(``LN'_i``) and ``pe.last_norm`` (``LN''``) of
:class:`~mpvg_mm.models.pos_embed.LayerwisePositionEmbedding`.

The network (reference ``CeIT.forward_features``), for an image ``(B, 3, H, W)``:

* Image-to-Tokens (I2T): conv 7x7/2 (pad 3, no bias, ``stem_channels``), BN, max-pool
  3x3/2 (pad 1), then a ``patch_size`` x ``patch_size`` conv to ``D`` (with bias): a
  ``(h, w)`` token grid, 14x14 at 224 (total stride 16);
* ``x_0 = [cls;] tokens [+ pos_0]``;
* ``L`` blocks: ``x = x + MSA(LN1(x) [+ pos_l]); x = x + LeFF(LN2(x))``. LeFF runs on the
  patch tokens on their grid: 1x1 conv ``D -> rD`` + BN + GELU, depthwise 3x3 + BN + GELU,
  1x1 conv ``rD -> D`` + BN. A class token bypasses the convolutions: LeFF returns its
  ``LN2``'d value, so it gets ``x_cls + LN2(x)_cls`` (the reference's quirk, kept);
* Layer-wise Class-token Attention (LCA): the ``L`` per-layer tokens ``t_l`` (each block's
  output class token; with ``out_type='avg_featmap'`` the mean of its patch tokens) plus
  ``pos_layer_embed`` (``(1, L, D)``, zero-initialised); ``u = LN1(t)``; the query is
  ``u_L`` alone, keys and values all ``u``: ``z = t_L + Attn(u_L, u)``,
  ``z = z + MLP(LN2(z))`` (no drop path);
* Last LN on the single LCA output: ``y = LN(z)``; MPVG adds ``c = mean_i LN''(pos_k)_i``,
  ``y = LN(z) + c``. CeiT's Last LN acts on one pooled vector, not on tokens, so this is
  MPVG's term after GAP (``mean_i [LN(x)_i + LN''(pos)_i] = mean_i LN(x)_i + c``).

The four structures (the presets of :data:`~mpvg_mm.models.pos_embed.PE_PRESETS`, as
``MPVGViT``): Default (class token, ``pos_0`` at the input, 6,356,904 parameters for
CeiT-Ti with a 1000-class head); LaPE (class token kept, no input PE, ``LN'`` on all
blocks over the ``1 + h*w`` PE rows: 6,361,512); PVG (class token and its PE row removed,
LeFF on all tokens, ``LN'`` on blocks 1..L-1, the LCA reads per-layer GAP tokens:
6,360,744); MPVG (PVG + ``c``: 6,361,128). The paper prints 6.356 / 6.361 / 6.361 /
6.361 M (floored): PVG's 6.360 is one unit apart.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule

from ..pos_embed import (LayerwisePositionEmbedding, build_pe_structure,
                         check_drop_path_rate, resample_pos_embed)
from .mpvg_vit import (LN_EPS, Attention, DropPath, Mlp, MPVGViT, gap_last_ln_pe,
                       refuse_cls_token_with_last_ln_pe, resolve_arch_settings, size_pair)

#: The named CeiT architectures (reference ``ceit_{tiny,small,base}_patch16_224``).
CEIT_ARCH_SETTINGS: Dict[str, dict] = {
    'ceit-tiny': dict(embed_dims=192, num_layers=12, num_heads=3),
    'ceit-small': dict(embed_dims=384, num_layers=12, num_heads=6),
    'ceit-base': dict(embed_dims=768, num_layers=12, num_heads=12),
}
CEIT_ARCH_ALIASES = {'ceit-t': 'ceit-tiny', 'ceit-ti': 'ceit-tiny', 'ceit-s': 'ceit-small',
                     'ceit-b': 'ceit-base'}
CEIT_ARCH_KEYS = ('embed_dims', 'num_layers', 'num_heads')
#: optional arch keys and their (reference) values
CEIT_ARCH_OPTIONAL = dict(mlp_ratio=4.0, stem_channels=64, patch_size=4, img_size=224,
                          leff_kernel_size=3)
CEIT_OUT_TYPES = ('cls_token', 'avg_featmap')


def resolve_ceit_arch(arch: Union[str, dict]) -> dict:
    """The full settings of a CeiT architecture given by name or as a dict.

    Args:
        arch: ``'ceit-tiny' | 'ceit-small' | 'ceit-base'`` (or ``'ceit-t'``, ``'ceit-ti'``,
            ...), or a dict with ``embed_dims``, ``num_layers``, ``num_heads`` and
            optionally ``mlp_ratio`` (4), ``stem_channels`` (64), ``patch_size`` (4, the
            token conv on the stem's stride-4 map), ``img_size`` (224),
            ``leff_kernel_size`` (3).

    Returns:
        a new dict with every key.

    Raises:
        ValueError: an unknown name, missing or unknown keys, non-positive sizes, heads
            that do not divide ``embed_dims``, an even LeFF kernel.
    """
    cfg = resolve_arch_settings(
        arch, CEIT_ARCH_SETTINGS, CEIT_ARCH_KEYS, CEIT_ARCH_OPTIONAL, CEIT_ARCH_ALIASES,
        kind='CeiT', positive_ints=('embed_dims', 'num_layers', 'num_heads', 'stem_channels',
                                    'patch_size', 'leff_kernel_size'))
    if cfg['leff_kernel_size'] % 2 == 0:
        raise ValueError(f'CeiT arch leff_kernel_size={cfg["leff_kernel_size"]} must be odd '
                         '(the depthwise conv keeps the token grid).')
    return cfg


def ceit_grid(size: Tuple[int, int], patch_size: int) -> Tuple[int, int]:
    """The token grid of an ``(H, W)`` image: conv 7x7/2 pad 3 and max-pool 3x3/2 pad 1
    give ``ceil(ceil(s / 2) / 2)``, the ``patch_size`` conv (stride ``patch_size``,
    no padding) then ``floor(. / patch_size)`` (the reference's convolutions; the
    stem map's last rows/columns beyond a multiple of ``patch_size`` are not used)."""
    return tuple(-(-(-(-s // 2)) // 2) // patch_size for s in size)


class Image2Tokens(nn.Module):
    """CeiT's I2T stem: ``(B, 3, H, W) -> ((B, h*w, D), (h, w))``.

    ``backbone``: conv 7x7/2 (no bias) + BN (``norm_cfg``) + max-pool 3x3/2;
    ``proj``: conv ``patch_size``/``patch_size`` to ``D`` (the reference ``HybridEmbed``).
    """

    def __init__(self, in_channels: int, stem_channels: int, embed_dims: int,
                 patch_size: int, norm_cfg: dict):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.conv = nn.Conv2d(in_channels, stem_channels, 7, stride=2, padding=3,
                                       bias=False)
        self.backbone.bn = build_norm_layer(norm_cfg, stem_channels)[1]
        self.backbone.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.patch_size = patch_size
        self.proj = nn.Conv2d(stem_channels, embed_dims, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        in_channels = self.backbone.conv.in_channels
        if x.dim() != 4 or x.shape[1] != in_channels:
            raise ValueError(f'MPVGCeiT expects images (B, {in_channels}, H, W), got a '
                             f'tensor of shape {tuple(x.shape)}.')
        grid = ceit_grid(x.shape[-2:], self.patch_size)
        if min(grid) < 1:
            p = self.patch_size
            raise ValueError(f'input size {tuple(x.shape[-2:])} is too small for CeiT: the '
                             f'stem (stride 4) and the {p}x{p} token conv need sides of at '
                             f'least {4 * p - 3} pixels.')
        b = self.backbone
        x = self.proj(b.maxpool(b.bn(b.conv(x))))
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


class LeFF(nn.Module):
    """Locally-enhanced feed-forward (reference ``LocallyEnhancedFeedForward``, with BN).

    ``(B, E + h*w, D) -> (B, E + h*w, D)``: the ``h*w`` patch tokens go through
    1x1 conv + BN + GELU, depthwise ``k x k`` conv + BN + GELU, 1x1 conv + BN on their
    grid; the ``E`` leading (class) rows are returned unchanged.
    """

    def __init__(self, dims: int, hidden_dims: int, kernel_size: int, norm_cfg: dict):
        super().__init__()
        self.conv1 = nn.Conv2d(dims, hidden_dims, 1)
        self.bn1 = build_norm_layer(norm_cfg, hidden_dims)[1]
        self.conv2 = nn.Conv2d(hidden_dims, hidden_dims, kernel_size,
                               padding=kernel_size // 2, groups=hidden_dims)
        self.bn2 = build_norm_layer(norm_cfg, hidden_dims)[1]
        self.conv3 = nn.Conv2d(hidden_dims, dims, 1)
        self.bn3 = build_norm_layer(norm_cfg, dims)[1]
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor, grid: Tuple[int, int],
                num_extra_tokens: int = 0) -> torch.Tensor:
        extra, tokens = x[:, :num_extra_tokens], x[:, num_extra_tokens:]
        B, _, D = tokens.shape
        y = tokens.transpose(1, 2).reshape(B, D, grid[0], grid[1])
        y = self.act(self.bn1(self.conv1(y)))
        y = self.act(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y)).flatten(2).transpose(1, 2)
        return torch.cat([extra, y], dim=1) if num_extra_tokens else y


class CeiTBlock(nn.Module):
    """``x = x + MSA(LN1(x) [+ pos]); x = x + LeFF(LN2(x))`` on ``(B, E + h*w, D)``."""

    def __init__(self, dims: int, num_heads: int, mlp_ratio: float, kernel_size: int,
                 drop_path: float, norm_cfg: dict):
        super().__init__()
        self.norm1 = nn.LayerNorm(dims, eps=LN_EPS)
        self.attn = Attention(dims, num_heads, qkv_bias=True)
        self.norm2 = nn.LayerNorm(dims, eps=LN_EPS)
        self.leff = LeFF(dims, int(dims * mlp_ratio), kernel_size, norm_cfg)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, pos: Optional[torch.Tensor], grid: Tuple[int, int],
                num_extra_tokens: int) -> torch.Tensor:
        h = self.norm1(x)
        if pos is not None:
            h = h + pos
        x = x + self.drop_path(self.attn(h))
        return x + self.drop_path(self.leff(self.norm2(x), grid, num_extra_tokens))


class LayerClassTokenAttention(nn.Module):
    """CeiT's LCA (reference ``Block(feedforward_type='lca')`` + ``AttentionLCA``).

    ``t`` ``(B, L, D)`` -> ``(B, 1, D)``: ``u = LN1(t)``, the last token's query against
    all keys/values, ``z = t_L + proj(Attn)``, ``z = z + MLP(LN2(z))``.
    """

    def __init__(self, dims: int, num_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dims, eps=LN_EPS)
        self.attn = Attention(dims, num_heads, qkv_bias=True)
        self.norm2 = nn.LayerNorm(dims, eps=LN_EPS)
        self.feedforward = Mlp(dims, int(dims * mlp_ratio))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        B, L, D = t.shape
        u = self.norm1(t)
        weight, bias = self.attn.qkv.weight, self.attn.qkv.bias
        q = F.linear(u[:, -1:], weight[:D], bias[:D])
        kv = F.linear(u, weight[D:], bias[D:])
        heads = self.attn.num_heads
        q = q.reshape(B, 1, heads, D // heads).transpose(1, 2)
        k, v = kv.reshape(B, L, 2, heads, D // heads).permute(2, 0, 3, 1, 4).unbind(0)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, 1, D)
        z = t[:, -1:] + self.attn.proj(a)
        return z + self.feedforward(self.norm2(z))


class MPVGCeiT(BaseModule):
    """CeiT with the position-embedding structures of MPVG (AAAI 2025, Table 1: CeiT-Ti).

    The network and the structures are in the module docstring. Open choices of the paper
    (it gives CeiT's numbers only) are switches, with the proposed default:

    * class token in PVG/MPVG: removed with its PE row (``with_cls_token=None`` follows the
      preset: Default/LaPE keep it, PVG/MPVG drop it, as the paper's "we remove the class
      token as we adapt GAP"); ``with_cls_token=True`` keeps it (not with MPVG's Last-LN PE,
      which is incompatible with a class token, the paper's conclusion);
    * what the LCA reads (``out_type``): ``'cls_token'`` the per-layer class tokens (the
      reference; needs a class token), ``'avg_featmap'`` the per-layer GAP tokens
      ``g_l = mean_i x_{l+1,i}`` over the patch tokens of each block's output, un-normalised
      as the class tokens are (default without a class token). ``'featmap'`` is refused:
      CeiT's head reads the one LCA token;
    * ``LN'`` at block 0 in PVG/MPVG: off (``pe_cfg=dict(layerwise_from=0)`` turns it on, the
      spec's design A', which also prints 6.361 M for PVG);
    * MPVG's PE in the Last LN: ``pos_0`` (``pe_cfg=dict(last_ln_pos=k)``: ``pos_k``),
      averaged over its rows and added after the Last LN.

    Args:
        arch: ``'ceit-tiny'`` (``'ceit-small'``, ``'ceit-base'``) or a dict
            (:func:`resolve_ceit_arch`).
        pe_mode: ``'default' | 'lape' | 'pvg' | 'mpvg'``.
        pe_cfg: overrides of the preset's switches (:class:`PEStructure` fields).
        with_cls_token: None follows the preset.
        out_type: ``'cls_token'`` or ``'avg_featmap'`` (what the LCA reads, above); None:
            ``'cls_token'`` with a class token, else ``'avg_featmap'``. Output: a tuple with
            one ``(B, D)`` tensor, ``LN(z) [+ c]``.
        img_size: the size ``pos_embed`` is defined for (the arch's, 224: a 14x14 grid).
            Any input size of at least ``4 * patch_size - 3`` pixels runs: ``pos_0`` is
            resampled bicubically to the actual token grid (:func:`ceit_grid`) before the
            ``LN'`` chain; checkpoints of other grids are resampled on load.
        pretrained_img_size: the input size a checkpoint without a recorded
            ``pos_embed_grid`` was trained at (the reference's files: 224).
        in_channels: image channels.
        drop_path_rate: stochastic depth, linear over the blocks (the LCA has none).
        norm_cfg: the BN of the stem and LeFF (``dict(type='SyncBN')`` for multi-GPU BN).
        init_cfg: mmengine init config.

    Loading: the rules of ``MPVGViT`` (its class docstring, "Loading checkpoints"): the
    class-token row of ``pos_embed`` is told by the ``cls_token`` key, the grid by
    ``pos_embed_grid`` or ``pretrained_img_size``, and the patch rows are resampled.

    Raises:
        ValueError: an unknown arch, preset or switch; a structure that does not define a
            network; a Last-LN PE with a class token; ``out_type`` unknown, ``'featmap'``,
            or ``'cls_token'`` without a class token; an ``img_size`` too small.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'ceit-tiny',
                 pe_mode: str = 'mpvg',
                 pe_cfg: Optional[dict] = None,
                 with_cls_token: Optional[bool] = None,
                 out_type: Optional[str] = None,
                 img_size: Optional[Union[int, Sequence[int]]] = None,
                 pretrained_img_size: Optional[Union[int, Sequence[int]]] = None,
                 in_channels: int = 3,
                 drop_path_rate: float = 0.0,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        cfg = resolve_ceit_arch(arch)
        check_drop_path_rate(drop_path_rate)
        D = self.embed_dims = cfg['embed_dims']
        self.num_layers = L = cfg['num_layers']
        #: the token conv's stride on the stem's stride-4 map
        self.token_patch_size = cfg['patch_size']
        #: the total stride (the messages of the shared loading rules)
        self.patch_size = 4 * cfg['patch_size']
        self.img_size = size_pair(cfg['img_size'] if img_size is None else img_size)
        self.pe_grid = self._grid_of(self.img_size, 'img_size')
        self.pretrained_img_size = (None if pretrained_img_size is None else
                                    size_pair(pretrained_img_size, 'pretrained_img_size'))
        self.pretrained_grid = (None if pretrained_img_size is None else
                                self._grid_of(self.pretrained_img_size, 'pretrained_img_size'))

        structure, preset_cls = build_pe_structure(pe_mode, pe_cfg)
        self.pe_mode = pe_mode
        self.with_cls_token = preset_cls if with_cls_token is None else bool(with_cls_token)
        refuse_cls_token_with_last_ln_pe(pe_mode, structure, self.with_cls_token)
        self.out_type = out_type or ('cls_token' if self.with_cls_token else 'avg_featmap')
        if self.out_type not in CEIT_OUT_TYPES:
            raise ValueError(f'unknown out_type {self.out_type!r} for MPVGCeiT; choose one of '
                             f'{CEIT_OUT_TYPES} (what the LCA reads: the per-layer class '
                             'tokens or GAP tokens; its output is one token, no feature map).')
        if self.out_type == 'cls_token' and not self.with_cls_token:
            raise ValueError("out_type='cls_token' needs with_cls_token=True; GAP models use "
                             "out_type='avg_featmap' (the LCA reads per-layer GAP tokens).")
        self.num_extra_tokens = E = int(self.with_cls_token)

        self.i2t = Image2Tokens(in_channels, cfg['stem_channels'], D, cfg['patch_size'],
                                norm_cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D)) if self.with_cls_token else None
        self.pos_embed = nn.Parameter(torch.zeros(1, E + self.pe_grid[0] * self.pe_grid[1], D))
        self.register_buffer('pos_embed_grid', torch.tensor(self.pe_grid, dtype=torch.long))
        self.pe = LayerwisePositionEmbedding(structure, L, D)
        dpr = [drop_path_rate * i / max(L - 1, 1) for i in range(L)]
        self.blocks = nn.ModuleList([
            CeiTBlock(D, cfg['num_heads'], cfg['mlp_ratio'], cfg['leff_kernel_size'], dpr[i],
                      norm_cfg) for i in range(L)
        ])
        self.pos_layer_embed = nn.Parameter(torch.zeros(1, L, D))
        self.lca = LayerClassTokenAttention(D, cfg['num_heads'], cfg['mlp_ratio'])
        self.norm = nn.LayerNorm(D, eps=LN_EPS)
        self._register_load_state_dict_pre_hook(self._resample_pos_embed_on_load)
        self._init_reference()

    def _grid_of(self, size: Tuple[int, int], name: str) -> Tuple[int, int]:
        grid = ceit_grid(size, self.token_patch_size)
        if min(grid) < 1:
            raise ValueError(f'{name}={size} gives no token (sides of at least '
                             f'{4 * self.token_patch_size - 3} pixels are needed).')
        return grid

    #: the reference init is DeiT's (coeusguo/ceit ``CeIT._init_weights``): trunc-normal
    #: (0.02) PE, class token and Linear weights (zero biases), LN 1/0; ``pos_layer_embed``
    #: stays zero, convolutions and BN as PyTorch's
    _init_reference = MPVGViT._init_deit

    def init_weights(self) -> None:
        """The reference init at construction; ``init_cfg`` (e.g. Pretrained) on top."""
        if self.init_cfg:
            super().init_weights()

    # the loading rules of MPVGViT (the class-token row from the keys, the grid from
    # pos_embed_grid or pretrained_img_size), shared as they are
    _fit_checkpoint_pos_embed = MPVGViT._fit_checkpoint_pos_embed
    _read_recorded_grid = staticmethod(MPVGViT._read_recorded_grid)
    _no_grid_message = MPVGViT._no_grid_message

    def checkpoint_key_layout(self):
        """This backbone's layout for the load-time check shared with ``MPVGViT`` /
        ``MPVGSwin`` (:func:`~mpvg_mm.models.checkpoint_layout.refuse_foreign_checkpoint`):
        a training-file wrapper (``{'model': ...}``, as DeiT-based code saves) is refused,
        and so is a state dict that places fewer than half of this backbone's weights by
        name and shape (``pos_embed``, which is resampled, and the ``LN'``/``LN''`` not
        counted).

        Returns:
            a :class:`~mpvg_mm.models.checkpoint_layout.BackboneKeyLayout`.
        """
        from ..checkpoint_layout import BackboneKeyLayout, placement_misfit
        own = {n: p.shape for n, p in self.named_parameters()
               if n != 'pos_embed' and not n.startswith('pe.')}
        hint = ("save its inner dict (e.g. torch.save(ckpt['model'], DST)), from a CeiT of "
                "this arch (a classifier's with prefix='backbone.')")
        return BackboneKeyLayout('MPVGCeiT', frozenset(self.state_dict()), hint,
                                 misfit=placement_misfit('MPVGCeiT', own, hint))

    def _resample_pos_embed_on_load(self, state_dict, prefix, *args, **kwargs) -> None:
        """Load-state-dict pre-hook: fit a checkpoint's ``pos_embed`` ``(1, N, D)`` to this
        model's class-token choice and grid; ``pos_embed_grid`` always holds this model's.

        Raises:
            ValueError: a training-file wrapper or another layout
                (:meth:`checkpoint_key_layout`); as ``MPVGViT``'s hook (rows that do not
                add up, no grid known, a class-token model and a file without
                ``cls_token``).
        """
        from ..checkpoint_layout import refuse_foreign_checkpoint
        refuse_foreign_checkpoint(state_dict, prefix, self.checkpoint_key_layout())
        key, grid_key = prefix + 'pos_embed', prefix + 'pos_embed_grid'
        recorded = state_dict.pop(grid_key, None)
        state_dict[grid_key] = self.pos_embed_grid.detach().clone()
        if key in state_dict:
            state_dict[key] = self._fit_checkpoint_pos_embed(state_dict, prefix, recorded)

    def resampled_pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        """``pos_0`` on the token grid ``(h, w)``: ``(1, [1 +] h*w, D)``."""
        return resample_pos_embed(self.pos_embed, self.pe_grid, grid, self.num_extra_tokens)

    def pooled_last_ln_pe(self, neck: Optional[nn.Module]) -> torch.Tensor:
        """``c̄``, ``(D,)`` (the interface of :mod:`mpvg_mm.models.folding`;
        :func:`~.mpvg_vit.gap_last_ln_pe`)."""
        return gap_last_ln_pe(self, neck)

    def fold_img_size(self) -> Tuple[int, int]:
        """The input size ``(H, W)`` a fold is valid at (the interface of
        :mod:`mpvg_mm.models.folding`): ``img_size``, its stem's padding makes other sizes share the grid."""
        return self.img_size

    def counterbalance_norms(self) -> Tuple[List[nn.Module], nn.Module]:
        """The modules the counterbalance diagnostics hook (the interface of
        :mod:`mpvg_mm.analysis.counterbalance`): ``LN1`` of every block (``blocks[l].norm1``,
        the norm block ``l``'s layer-wise PE is added to) and the Last LN (``norm``, on the
        one LCA output ``(B, D)``; MPVG's term after it is ``mean_i LN''(pos_k)_i``)."""
        return [block.norm1 for block in self.blocks], self.norm

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor]:
        """Images ``(B, 3, H, W)`` -> ``((B, D), )``: ``LN(z) [+ mean_i LN''(pos_k)_i]``."""
        tokens, grid = self.i2t(x)
        plan = self.pe(self.resampled_pos_embed(grid))  # once per pass, batch-free
        E = self.num_extra_tokens
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], 1)
        if plan.input is not None:
            tokens = tokens + plan.input
        layer_tokens = []
        for block, pos in zip(self.blocks, plan.blocks):
            tokens = block(tokens, pos, grid, E)
            layer_tokens.append(tokens[:, 0] if self.out_type == 'cls_token' else
                                tokens[:, E:].mean(dim=1))
        z = self.lca(torch.stack(layer_tokens, dim=1) + self.pos_layer_embed)
        y = self.norm(z[:, 0])
        if plan.last is not None:
            y = y + plan.last[:, E:].mean(dim=1)
        return (y, )


def refuse_dense_ceit(**kwargs):
    """What ``type='MPVGCeiT'`` builds in mmdet and mmseg (``mpvg_mm.registry``): CeiT here
    is classification-only, its output the LCA's one ``(B, D)`` vector per image, so a
    neck or decode head would fail deep inside (e.g. conv2d on ``(B, D)``).

    Raises:
        ValueError: always, naming the backbones that give feature maps.
    """
    raise ValueError(
        'MPVGCeiT is classification-only (mmpretrain): its output is one (B, D) vector per '
        "image (the Layer-wise Class-token Attention's), no feature maps for mmdet/mmseg "
        "necks or heads; use MPVGViT (out_type='featmap'), MPVGViTAdapter or MPVGSwin there.")
