"""``MPVGT2TViT``: T2T-ViT-7 whose position embedding follows a :class:`PEStructure`.

Reference: L. Yuan et al., "Tokens-to-Token ViT", ICCV 2021; code
``yitu-opensource/T2T-ViT`` (``models/t2t_vit.py`` ``t2t_vit_7``, ``models/token_performer.py``,
``models/transformer_block.py``). The MPVG paper (AAAI 2025) runs its four structures on
T2T-ViT-7 in Tables 1-2 (ImageNet-1K 71.76 / 72.01 / 71.91 / 72.28; CIFAR-100 fine-tune
83.22 / 83.41 / 83.39 / 83.51).

Parameter names are the reference's (``tokens_to_token.attention1.kqv``, ...,
``blocks.{i}.norm1/attn.qkv/attn.proj/norm2/mlp.fc1/mlp.fc2``, ``norm``, ``cls_token``,
``pos_embed``) plus ``pe.layer_norms.{i}`` (``LN'_i``) and ``pe.last_norm`` (``LN''``), so
a reference state dict is a prefix rename away (``tools/model_converters/convert.py``).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model import BaseModule

from ..pos_embed import (LayerwisePositionEmbedding, build_pe_structure, check_drop_path_rate,
                         check_positive_number, resample_pos_embed)
from .mpvg_vit import (Block, format_output, gap_last_ln_pe, init_linear_and_ln,
                       resolve_arch_settings, resolve_cls_token_and_out_type, size_pair)

#: LN1/LN2, the Last LN and the tokenizer's LNs: PyTorch's default, as the reference.
T2T_LN_EPS = 1e-5

#: The named architectures (T2T-ViT paper, Table 1; reference ``t2t_vit.py``).
T2T_ARCH_SETTINGS: Dict[str, dict] = {
    't2t-vit-7': dict(embed_dims=256, num_layers=7, num_heads=4, mlp_ratio=2.0,
                      token_dims=64, img_size=224),
}
T2T_ARCH_KEYS = ('embed_dims', 'num_layers', 'num_heads')
T2T_ARCH_OPTIONAL = dict(mlp_ratio=2.0, token_dims=64, img_size=224)
#: The soft splits (``nn.Unfold``): ``(kernel, stride, padding)``; total stride 16.
SOFT_SPLITS = ((7, 4, 2), (3, 2, 1), (3, 2, 1))


def resolve_t2t_arch(arch: Union[str, dict]) -> dict:
    """The full settings of a T2T arch given by name (``'t2t-vit-7'``, any case) or as a
    dict with ``embed_dims, num_layers, num_heads`` and optionally ``mlp_ratio`` (2.0),
    ``token_dims`` (64), ``img_size`` (224).

    Raises:
        ValueError: an unknown name, a dict with missing or unknown keys, non-positive
            sizes, heads that do not divide ``embed_dims``.
    """
    return resolve_arch_settings(arch, T2T_ARCH_SETTINGS, T2T_ARCH_KEYS, T2T_ARCH_OPTIONAL,
                                 kind='T2T', positive_ints=('embed_dims', 'num_layers',
                                                            'num_heads', 'token_dims'))


def t2t_token_grid(img_size: Tuple[int, int]) -> Tuple[int, int]:
    """The ``(h, w)`` token grid the three soft splits make of an ``(H, W)`` image
    (224 -> 56 -> 28 -> 14); ``(0, 0)``-free only for images of at least 3 pixels a side."""
    h, w = img_size
    for k, s, p in SOFT_SPLITS:
        h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    return h, w


def sinusoid_table(n_position: int, dims: int) -> torch.Tensor:
    """The fixed 1-D sinusoid PE ``(1, n_position, dims)`` of the reference
    (``transformer_block.get_sinusoid_encoding``; the same function is mmpretrain's
    ``t2t_vit.get_sinusoid_encoding``): ``sin`` / ``cos`` of ``pos / 10000^(2(j//2)/dims)``
    on even / odd channels ``j``."""
    from mmpretrain.models.backbones.t2t_vit import get_sinusoid_encoding
    return get_sinusoid_encoding(n_position, dims)


class TokenPerformer(nn.Module):
    """One Performer token layer of the T2T module: ``(B, T, C_in) -> (B, T, C)``.

    Reference ``token_performer.Token_performer`` (one head, ``kernel_ratio=0.5``):
    ``k, q, v = split(kqv(LN1(x)))``; positive random features
    ``phi(u) = exp(w u - |u|^2 / 2) / sqrt(m)`` with the fixed ``w`` ``(m, C)``, ``m = C/2``
    (orthogonal rows scaled by ``sqrt(m)``, an ``nn.Parameter`` with ``requires_grad=False``
    as in the reference, so it is saved, loaded and counted);
    ``y = phi(q) (phi(k)^T v) / (phi(q) . sum_t phi(k_t) + 1e-8)``;
    ``x = v + Dropout(proj(y))`` (the skip connection uses ``v``), then
    ``x = x + MLP(LN2(x))`` (``Linear -> GELU -> Linear -> Dropout``, width ``C``).
    The features are computed in float32, as the reference's ``prm_exp`` does.
    """

    def __init__(self, in_dims: int, dims: int, kernel_ratio: float = 0.5,
                 drop_rate: float = 0.1):
        super().__init__()
        self.dims = dims
        self.kqv = nn.Linear(in_dims, 3 * dims)
        self.dp = nn.Dropout(drop_rate)
        self.proj = nn.Linear(dims, dims)
        self.norm1 = nn.LayerNorm(in_dims, eps=T2T_LN_EPS)
        self.norm2 = nn.LayerNorm(dims, eps=T2T_LN_EPS)
        self.mlp = nn.Sequential(nn.Linear(dims, dims), nn.GELU(), nn.Linear(dims, dims),
                                 nn.Dropout(drop_rate))
        self.m = int(dims * kernel_ratio)
        w = nn.init.orthogonal_(torch.empty(self.m, dims)) * math.sqrt(self.m)
        self.w = nn.Parameter(w, requires_grad=False)

    def random_features(self, u: torch.Tensor) -> torch.Tensor:
        """``(B, T, C) -> (B, T, m)``: ``exp(w u - |u|^2 / 2) / sqrt(m)``."""
        u = u.float()
        return torch.exp(u @ self.w.float().t() - (u * u).sum(-1, keepdim=True) / 2) / \
            math.sqrt(self.m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, q, v = self.kqv(self.norm1(x)).split(self.dims, dim=-1)
        kp, qp = self.random_features(k), self.random_features(q)
        denom = qp @ kp.sum(dim=1).unsqueeze(-1)  # (B, T, 1)
        y = (qp @ (kp.transpose(1, 2) @ v.float())) / (denom + 1e-8)
        x = v + self.dp(self.proj(y.to(v.dtype)))
        return x + self.mlp(self.norm2(x))


class T2TModule(nn.Module):
    """The Tokens-to-Token module, Performer version: images ``(B, 3, H, W)`` ->
    ``((B, h*w, D), (h, w))``.

    Soft split 7x7/4 (pad 2) -> ``TokenPerformer(147 -> 64)`` -> re-structurize to the
    grid -> soft split 3x3/2 (pad 1) -> ``TokenPerformer(576 -> 64)`` -> re-structurize
    -> soft split 3x3/2 (pad 1) -> ``Linear(576 -> D)`` (reference ``T2T_module``,
    ``tokens_type='performer'``; non-square inputs keep their grid, where the reference
    assumes a square). No PE is used inside it.
    """

    def __init__(self, in_channels: int, embed_dims: int, token_dims: int = 64,
                 drop_rate: float = 0.1):
        super().__init__()
        self.in_channels = in_channels
        (k0, s0, p0), (k1, s1, p1), (k2, s2, p2) = SOFT_SPLITS
        self.soft_split0 = nn.Unfold(k0, padding=p0, stride=s0)
        self.soft_split1 = nn.Unfold(k1, padding=p1, stride=s1)
        self.soft_split2 = nn.Unfold(k2, padding=p2, stride=s2)
        self.attention1 = TokenPerformer(in_channels * k0 * k0, token_dims, drop_rate=drop_rate)
        self.attention2 = TokenPerformer(token_dims * k1 * k1, token_dims, drop_rate=drop_rate)
        self.project = nn.Linear(token_dims * k2 * k2, embed_dims)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[0] == 0:
            raise ValueError(f'MPVGT2TViT expects images (B, {self.in_channels}, H, W) with '
                             f'B >= 1, got a tensor of shape {tuple(x.shape)}.')
        grid = tuple(x.shape[-2:])
        for split, layer in ((self.soft_split0, self.attention1),
                             (self.soft_split1, self.attention2)):
            grid = t2t_token_grid_step(grid, split)
            x = layer(split(x).transpose(1, 2))
            x = x.transpose(1, 2).reshape(x.shape[0], x.shape[2], *grid)
        grid = t2t_token_grid_step(grid, self.soft_split2)
        return self.project(self.soft_split2(x).transpose(1, 2)), grid


def t2t_token_grid_step(grid: Tuple[int, int], split: nn.Unfold) -> Tuple[int, int]:
    """The grid after one soft split (``nn.Unfold`` arithmetic)."""
    k, s, p = split.kernel_size, split.stride, split.padding
    return tuple((g + 2 * p - k) // s + 1 for g in grid)


class MPVGT2TViT(BaseModule):
    """T2T-ViT (Performer tokenizer) with the position-embedding structures of MPVG.

    Default is the reference ``t2t_vit_7`` (4,310,222 parameters with a 1000-class head,
    frozen ones included): T2T module (:class:`T2TModule`), class token, a **fixed** 1-D
    sinusoid PE ``(1, N [+ 1], D)`` added at the input, 7 blocks (width 256, 4 heads,
    MLP ratio 2, no qkv bias, LN eps 1e-5), Last LN, the class token's output. The four
    structures (``mpvg_mm.models.pos_embed.PE_PRESETS``, the plain ViT's) act on the
    blocks only; the tokenizer takes no PE:

    * LaPE: class token kept, no input PE, ``LN'`` on all blocks, on the ``N + 1``-row
      sinusoid chain (the class row included);
    * PVG: no class token, ``x_0 = tokens + pos_0`` with the sinusoid table for ``N``
      positions (regenerated with ``n_position = N``, not row 0 sliced off), ``LN'`` on
      blocks 1..L-1, Last LN, GAP;
    * MPVG: PVG + ``LN''(pos_0)`` added per token after the Last LN, then GAP.

    With the PE fixed, no gradient reaches ``pos_0``; MPVG's term then depends on
    ``LN''`` alone (after GAP it is a constant vector ``gamma'' * k + beta''``).

    Args:
        arch: ``'t2t-vit-7'`` or a dict with ``embed_dims, num_layers, num_heads`` and
            optionally ``mlp_ratio`` (2), ``token_dims`` (64), ``img_size`` (224).
        pe_mode: ``'default' | 'lape' | 'pvg' | 'mpvg'``.
        pe_cfg: overrides of the preset's switches (``PEStructure`` fields).
        with_cls_token: None follows the preset (Default, LaPE: yes; PVG, MPVG: no).
        out_type: ``'cls_token'`` / ``'avg_featmap'`` -> ``(B, D)``; ``'featmap'`` ->
            ``(B, D, h, w)``. None: ``'cls_token'`` with a class token, else GAP.
        out_indices: blocks whose outputs are returned; the last one after the Last LN
            (and MPVG's term), earlier ones the raw residual stream.
        img_size: the input size ``pos_embed`` is built for (int or ``(H, W)``).
        learnable_pe: False (default, as both reference code bases keep it): ``pos_embed``
            is the sinusoid table, an ``nn.Parameter(requires_grad=False)``. True: the
            same table as initial value, trained (the paper does not say which it used;
            its parameter counts include frozen parameters, so they cannot tell).
        qk_scale: attention scale; None: ``head_dims ** -0.5`` (training from scratch, as
            the reference trains). The reference's released weights were made with
            ``embed_dims ** -0.5`` (``t2t_vit_7(pretrained=True)``): the converter says so.
        drop_path_rate: stochastic depth, linear over the blocks (the recipe: 0.1).
        t2t_drop_rate: dropout inside the Performer layers (reference: 0.1).
        frozen_params: names (or prefixes ending in ``.``) of parameters to build with
            ``requires_grad=False``, e.g. ``('cls_token', 'norm.')``: what the reference's
            CIFAR fine-tune leaves out of its optimizer (``transfer_learning.py``). A name
            that matches no parameter raises ``ValueError``.
        init_cfg: mmengine init config (e.g. ``dict(type='Pretrained', ...)``).

    Input sizes: the soft splits give ``N = h*w`` tokens (:func:`t2t_token_grid`: 224 ->
    14x14, 192 -> 12x12, 32 -> 2x2; non-square inputs keep their shape). A
    fixed PE is a function of the token index, so at another grid the sinusoid table is
    computed for the actual ``N`` (what the reference builds for that ``img_size``); a
    learnable PE is resampled bicubically on its 2-D grid (as ``MPVGViT``). Inputs too
    small to give one token raise ``ValueError``.

    Loading: a checkpoint's ``pos_embed`` of this model's shape loads as it is. A fixed PE
    of another row count (a Default checkpoint into PVG, another ``img_size``) is
    replaced by this model's table (a function of the row count, logged); a learnable one
    of another shape is refused (``ValueError``), since its grid is not recorded.

    Raises:
        ValueError: unknown ``pe_mode``/switch/``out_type``/arch, MPVG with a class token,
            ``out_type='cls_token'`` without one, an ``img_size`` too small.
    """

    def __init__(self,
                 arch: Union[str, dict] = 't2t-vit-7',
                 pe_mode: str = 'mpvg',
                 pe_cfg: Optional[dict] = None,
                 with_cls_token: Optional[bool] = None,
                 out_type: Optional[str] = None,
                 out_indices: Union[int, Sequence[int]] = -1,
                 img_size: Optional[Union[int, Sequence[int]]] = None,
                 in_channels: int = 3,
                 learnable_pe: bool = False,
                 qk_scale: Optional[float] = None,
                 drop_path_rate: float = 0.0,
                 t2t_drop_rate: float = 0.1,
                 frozen_params: Sequence[str] = (),
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        arch_cfg = resolve_t2t_arch(arch)
        if isinstance(arch, dict) and 'img_size' in arch and img_size is not None and \
                size_pair(img_size) != size_pair(arch['img_size']):
            raise ValueError(f'img_size={img_size!r} and the arch dict\'s '
                             f'img_size={arch["img_size"]!r} differ: give it once.')
        check_drop_path_rate(drop_path_rate)
        if qk_scale is not None:
            check_positive_number('qk_scale', qk_scale)
        if isinstance(frozen_params, str):
            raise ValueError(f'frozen_params={frozen_params!r} must be a list of names or '
                             f'prefixes, e.g. [{frozen_params!r}].')
        self.embed_dims = D = arch_cfg['embed_dims']
        self.num_layers = arch_cfg['num_layers']
        self.img_size = size_pair(arch_cfg['img_size'] if img_size is None else img_size)
        self.pe_grid = t2t_token_grid(self.img_size)
        if min(self.pe_grid) < 1:
            raise ValueError(f'img_size={self.img_size} gives no token after the soft splits; '
                             'use at least 3 pixels a side (224 gives 14x14 tokens).')
        structure, preset_cls = build_pe_structure(pe_mode, pe_cfg)
        self.pe_mode = pe_mode
        self.with_cls_token, self.out_type = resolve_cls_token_and_out_type(
            pe_mode, structure, preset_cls, with_cls_token, out_type)
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        self.out_indices = tuple(i + self.num_layers if i < 0 else i for i in indices)
        if not all(0 <= i < self.num_layers for i in self.out_indices):
            raise ValueError(f'out_indices {indices} are outside the {self.num_layers} blocks.')
        self.num_extra_tokens = int(self.with_cls_token)
        self.learnable_pe = bool(learnable_pe)

        self.tokens_to_token = T2TModule(in_channels, D, arch_cfg['token_dims'], t2t_drop_rate)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D)) if self.with_cls_token else None
        num_rows = self.pe_grid[0] * self.pe_grid[1] + self.num_extra_tokens
        self.pos_embed = nn.Parameter(sinusoid_table(num_rows, D),
                                      requires_grad=self.learnable_pe)
        self.pe = LayerwisePositionEmbedding(structure, self.num_layers, D)
        dpr = [drop_path_rate * i / max(self.num_layers - 1, 1) for i in range(self.num_layers)]
        self.blocks = nn.ModuleList([
            Block(D, arch_cfg['num_heads'], arch_cfg['mlp_ratio'], qkv_bias=False,
                  drop_path=dpr[i], norm_eps=T2T_LN_EPS, qk_scale=qk_scale)
            for i in range(self.num_layers)
        ])
        self.norm = nn.LayerNorm(D, eps=T2T_LN_EPS)
        self._init_reference()
        self._freeze(frozen_params)
        self._register_load_state_dict_pre_hook(self._fit_pos_embed_on_load)

    def _init_reference(self) -> None:
        """The reference's init: trunc-normal(0.02) Linear weights (tokenizer included),
        zero biases, LN (1, 0), class token trunc-normal(0.02)."""
        init_linear_and_ln(self, self.cls_token)

    def _freeze(self, names: Sequence[str]) -> None:
        params = dict(self.named_parameters())
        for name in names:
            hits = [p for n, p in params.items()
                    if n == name or (name.endswith('.') and n.startswith(name))]
            if not hits:
                raise ValueError(f'frozen_params: {name!r} names no parameter of this model '
                                 f'(top-level names: {sorted({n.split(".")[0] for n in params})}'
                                 '; end a prefix with ".").')
            for p in hits:
                p.requires_grad = False

    def init_weights(self) -> None:
        """The reference init at construction; ``init_cfg`` (e.g. Pretrained) on top."""
        if self.init_cfg:
            super().init_weights()

    # ------------------------------------------------------------------ position embedding
    def checkpoint_key_layout(self):
        """This backbone's layout for the load-time check shared with ``MPVGViT`` /
        ``MPVGSwin`` (:func:`~mpvg_mm.models.checkpoint_layout.refuse_foreign_checkpoint`):
        a training-file wrapper is refused, and so is a state dict that places fewer than
        half of this backbone's weights by name and shape (the ``LN'``/``LN''`` and the
        fixed ``pos_embed`` not counted): another backbone's checkpoint, a classifier's
        without ``prefix='backbone.'``.

        Returns:
            a :class:`~mpvg_mm.models.checkpoint_layout.BackboneKeyLayout`.
        """
        from ..checkpoint_layout import _FOREIGN_HINT, BackboneKeyLayout, placement_misfit
        own = {n: p.shape for n, p in self.named_parameters()
               if n != 'pos_embed' and not n.startswith('pe.')}
        hint = ('use a T2T-ViT checkpoint of this arch (a classifier\'s with '
                "prefix='backbone.'); a reference (yitu-opensource) T2T-ViT file: "
                + _FOREIGN_HINT)
        return BackboneKeyLayout('MPVGT2TViT', frozenset(self.state_dict()), hint,
                                 misfit=placement_misfit('MPVGT2TViT', own, hint))

    def _fit_pos_embed_on_load(self, state_dict, prefix, *args, **kwargs) -> None:
        """Load-state-dict pre-hook: refuse a checkpoint of another layout
        (:meth:`checkpoint_key_layout`) or one without ``cls_token`` into a class-token
        model (as ``MPVGViT``), then the ``pos_embed`` rules of the class docstring."""
        from ..checkpoint_layout import refuse_foreign_checkpoint, refuse_missing_cls_token
        refuse_foreign_checkpoint(state_dict, prefix, self.checkpoint_key_layout())
        refuse_missing_cls_token(state_dict, prefix, self.with_cls_token)
        key = prefix + 'pos_embed'
        if key not in state_dict or state_dict[key].shape == self.pos_embed.shape:
            return
        shape = tuple(state_dict[key].shape)
        if self.learnable_pe:
            raise ValueError(
                f'checkpoint {key} has shape {shape}, this model (learnable_pe=True) needs '
                f'{tuple(self.pos_embed.shape)} and the checkpoint does not record its token '
                'grid: build the model with the img_size and class-token choice it was '
                'trained with, or with learnable_pe=False (the fixed sinusoid).')
        MMLogger.get_current_instance().info(
            f'{key}: the checkpoint has {shape}; the PE is the fixed sinusoid, so this '
            f'model\'s own table {tuple(self.pos_embed.shape)} is kept.')
        state_dict[key] = self.pos_embed.detach().clone()

    def resampled_pos_embed(self, grid: Tuple[int, int]) -> torch.Tensor:
        """``pos_0`` for a token grid ``(h, w)``: ``(1, [1 +] h*w, D)`` (class docstring,
        "Input sizes": the fixed table computed for the grid, a learnable PE resampled;
        the name is ``MPVGViT``'s, so wrappers treat both alike)."""
        if grid == self.pe_grid:
            return self.pos_embed
        if not self.learnable_pe:
            table = sinusoid_table(grid[0] * grid[1] + self.num_extra_tokens, self.embed_dims)
            return table.to(self.pos_embed)
        return resample_pos_embed(self.pos_embed, self.pe_grid, grid, self.num_extra_tokens)

    def pooled_last_ln_pe(self, neck: Optional[nn.Module]) -> torch.Tensor:
        """``c̄``, ``(D,)`` (the interface of :mod:`mpvg_mm.models.folding`;
        :func:`~.mpvg_vit.gap_last_ln_pe`)."""
        return gap_last_ln_pe(self, neck)

    def fold_img_size(self) -> Tuple[int, int]:
        """The input size ``(H, W)`` a fold is valid at (the interface of
        :mod:`mpvg_mm.models.folding`): ``img_size``, the soft splits give that grid."""
        return self.img_size

    # ------------------------------------------------------------------ forward
    def counterbalance_norms(self) -> Tuple[List[nn.Module], nn.Module]:
        """The modules the counterbalance diagnostics hook (the interface of
        :mod:`mpvg_mm.analysis.counterbalance`): ``LN1`` of every block (``blocks[l].norm1``,
        the norm block ``l``'s layer-wise PE is added to) and the Last LN (``norm``)."""
        return [block.norm1 for block in self.blocks], self.norm

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Images ``(B, 3, H, W)`` -> one output per ``out_indices`` entry (``out_type``).

        Raises:
            ValueError: not a batch of ``in_channels`` images, or an image too small to
                give one token (at least 3 pixels a side).
        """
        if x.dim() == 4 and min(t2t_token_grid(tuple(x.shape[-2:]))) < 1:
            raise ValueError(f'input {tuple(x.shape[-2:])} gives no token after the soft '
                             'splits: images need at least 3 pixels a side.')
        tokens, grid = self.tokens_to_token(x)
        plan = self.pe(self.resampled_pos_embed(grid))  # once per pass, batch-free
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], 1)
        if plan.input is not None:
            tokens = tokens + plan.input
        outs = []
        for i, block in enumerate(self.blocks):
            tokens = block(tokens, plan.blocks[i])
            if i == self.num_layers - 1:
                tokens = self.norm(tokens)
                if plan.last is not None:
                    tokens = tokens + plan.last
            if i in self.out_indices:
                outs.append(format_output(tokens, grid, self.out_type,
                                          self.num_extra_tokens))
        return tuple(outs)


__all__ = ['MPVGT2TViT', 'T2TModule', 'TokenPerformer', 'T2T_ARCH_SETTINGS',
           'resolve_t2t_arch', 't2t_token_grid', 'sinusoid_table']
