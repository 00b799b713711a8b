"""The position-embedding (PE) structures of MPVG and its baselines: the paper in one file.

Source: W. Lee, B. Ham, S. Kim, "Maximizing the Position Embedding for Vision Transformers
with Global Average Pooling", AAAI 2025 (arXiv 2502.02919), and its predecessor LaPE
(R. Yu et al., "LaPE: Layer-adaptive Position Embedding for Vision Transformers with
Independent Layer Normalization", ICCV 2023). Notation: ``L`` blocks indexed
``0..L-1``, ``pos_0`` the learnable PE of shape ``(1, N[+1], D)`` (one extra row when a
class token is used).

This module needs torch alone (no OpenMMLab package), so that any ViT code base, timm's
included, can use the structures.

Every structure the paper studies is one :class:`PEStructure`, a set of orthogonal
switches:

==================  ==========  =================  ============  ============
switch              default     lape               pvg           mpvg
==================  ==========  =================  ============  ============
``input_pe``        True        False              True          True
``layerwise_from``  None        0                  1             1
``hierarchical``    (unused)    True               True          True
``last_ln_pos``     None        None               None          0
class token         yes         yes                no (GAP)      no (GAP)
==================  ==========  =================  ============  ============

* ``input_pe``: ``x_0 = patches + pos_0``.
* ``layerwise_from=s``: blocks ``l >= s`` own an ``LN'_l`` and take
  ``x = x + Attn(LN1(x) + pos_l)``; ``None`` turns layer-wise PE off.
* ``hierarchical``: ``pos_l = LN'_l(pos_{l-1})`` (the chain starts from ``pos_0``) or,
  when False, ``pos_l = LN'_l(pos_0)``.
* ``last_ln_pos=k``: MPVG's "PE in the Last LN", ``y = LN(x_L) + LN''(pos_k)``: the
  index ``k`` of the PE that goes into the Last LN, ``0`` the raw (resampled) parameter,
  ``k>=1`` the PE that block ``k`` receives; ``None``: no PE in the Last LN. (The old
  name ``last_ln_pe`` is still accepted in ``pe_cfg``, with a ``FutureWarning``.)

**Staged backbones** (Swin): the blocks form stages of different widths and token grids,
joined by a transition (Swin's ``PatchMerging``). :class:`LayerwisePositionEmbedding`
takes the stage depths and widths, and its forward takes the transition, the **same**
module that merges the tokens (shared weights), which it applies to the batch-free PE
between stages; a plain ViT is the one-stage case. Across a transition:

* the chain: ``pos_first(s+1) = LN'(T_s(pos_last(s)))``, the value of the chain at the end
  of stage ``s`` merged, then the next block's own ``LN'``; ``hierarchical=False`` reads
  ``pos_l = LN'_l(T(pos_0))``, ``pos_0`` merged to block ``l``'s stage;
* ``last_ln_pos=k``: the PE that block ``k`` receives (``k=0``: the raw ``pos_0``), merged
  forward through the remaining transitions to the last stage's width.

Their presets are :data:`STAGED_PE_PRESETS`: as the paper states for Swin, PVG and MPVG
include block 0 there (``layerwise_from=0``).

The paper's ablations are overrides of a preset, e.g. Table 6's "PE to layer 0 too" is
``mpvg`` with ``layerwise_from=0``; Fig. 5's "GAP + Last-LN PE" is ``default`` without a
class token and with ``last_ln_pos=0``; the "which PE in the Last LN" ablation sets
``last_ln_pos`` to 5, 8 or 11.
"""
import dataclasses
import numbers
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

PE_NORM_EPS = 1e-6  # LN' and LN'' as in the LaPE reference code


@dataclass(frozen=True)
class PEStructure:
    """Where the position embedding enters the network (see the module docstring)."""

    input_pe: bool = True
    layerwise_from: Optional[int] = None
    hierarchical: bool = True
    last_ln_pos: Optional[int] = None

    def layerwise_blocks(self, num_layers: int) -> List[int]:
        """Indices of the blocks that take a layer-wise PE (and own an ``LN'``)."""
        if self.layerwise_from is None:
            return []
        return list(range(self.layerwise_from, num_layers))

    def validate(self, num_layers: int) -> None:
        """Raise ``ValueError`` for values and combinations that do not define a network."""
        for name in ('input_pe', 'hierarchical'):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f'{name}={getattr(self, name)!r} must be True or False.')
        for name in ('layerwise_from', 'last_ln_pos'):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(f'{name}={value!r} must be a block index (an int) or None.')
        start = self.layerwise_from
        if start is not None and not 0 <= start < num_layers:
            raise ValueError(
                f'layerwise_from={start} is outside the blocks 0..{num_layers - 1}; '
                'use 0 (every block), 1 (all but block 0) or None (no layer-wise PE).')
        k = self.last_ln_pos
        if k is not None:
            if not 0 <= k < num_layers:
                raise ValueError(
                    f'last_ln_pos={k} must be 0 (pos_0) or a block index < {num_layers}.')
            if k > 0 and k not in self.layerwise_blocks(num_layers):
                raise ValueError(
                    f'last_ln_pos={k} asks for pos_{k}, but block {k} takes no layer-wise PE '
                    f'(layerwise_from={start}); use last_ln_pos=0 or a block >= '
                    'layerwise_from.')
        if not self.input_pe and start is None and k is None:
            raise ValueError('this PE structure uses the position embedding nowhere: set '
                             'input_pe=True, layerwise_from or last_ln_pos.')


#: The four structures of the paper, with the class-token choice each one is used with.
PE_PRESETS: Dict[str, Tuple[PEStructure, bool]] = {
    'default': (PEStructure(input_pe=True), True),
    'lape': (PEStructure(input_pe=False, layerwise_from=0), True),
    'pvg': (PEStructure(input_pe=True, layerwise_from=1), False),
    'mpvg': (PEStructure(input_pe=True, layerwise_from=1, last_ln_pos=0), False),
}
#: The presets of staged backbones (Swin). The paper (Sec. 4, Swin-Ti): "due to its staged
#: architecture ... both PVG and MPVG exceptionally include layer 0", so there they take
#: the layer-wise PE from block 0 on (``input_pe`` stays on, unlike LaPE). No class token
#: in any of them (Swin pools).
STAGED_PE_PRESETS: Dict[str, Tuple[PEStructure, bool]] = {
    'default': (PEStructure(input_pe=True), False),
    'lape': (PEStructure(input_pe=False, layerwise_from=0), False),
    'pvg': (PEStructure(input_pe=True, layerwise_from=0), False),
    'mpvg': (PEStructure(input_pe=True, layerwise_from=0, last_ln_pos=0), False),
}
#: Renamed switches: old ``pe_cfg`` key -> new key.
DEPRECATED_SWITCHES = {'last_ln_pe': 'last_ln_pos'}


def build_pe_structure(pe_mode: str, overrides: Optional[dict] = None,
                       presets: Optional[Dict[str, Tuple[PEStructure, bool]]] = None
                       ) -> Tuple[PEStructure, bool]:
    """A preset of :data:`PE_PRESETS` with some of its switches overridden.

    Args:
        pe_mode: ``'default'``, ``'lape'``, ``'pvg'`` or ``'mpvg'``.
        overrides: switch -> value (the fields of :class:`PEStructure`); the deprecated
            names of :data:`DEPRECATED_SWITCHES` are renamed with a warning.
        presets: the preset table (None: :data:`PE_PRESETS`, the plain ViT's;
            :data:`STAGED_PE_PRESETS` for Swin).

    Returns:
        ``(structure, preset_uses_cls_token)``.

    Raises:
        ValueError: an unknown preset or switch, an old and a new name given together, or
            ``overrides`` (``pe_cfg``) not a dict.
    """
    presets = PE_PRESETS if presets is None else presets
    if pe_mode not in presets:
        raise ValueError(f'unknown pe_mode {pe_mode!r}; choose one of {sorted(presets)} '
                         'and refine it with pe_cfg=dict(...) if needed.')
    structure, with_cls_token = presets[pe_mode]
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError(f'pe_cfg={overrides!r} must be a dict of structure switches or None; '
                         'the preset is pe_mode.')
    overrides = dict(overrides or {})
    for old, new in DEPRECATED_SWITCHES.items():
        if old in overrides:
            if new in overrides:
                raise ValueError(f'pe_cfg sets both {old!r} and {new!r}; keep {new!r} only.')
            warnings.warn(f'pe_cfg key {old!r} is deprecated, use {new!r} (same values: the '
                          'index k of the pos_k that goes into the Last LN, None for none).',
                          FutureWarning, stacklevel=2)
            overrides[new] = overrides.pop(old)
    known = {f.name for f in dataclasses.fields(PEStructure)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f'unknown pe_cfg keys {unknown}; the switches are {sorted(known)}.')
    return dataclasses.replace(structure, **overrides), with_cls_token


class PEPlan(NamedTuple):
    """The PE terms of one forward pass; every tensor is batch-free, ``(1, N_l, D_l)`` in
    the token count and width of where it is added.

    ``input``: added to the tokens before block 0 (or None); ``blocks[l]``: added to
    ``LN1_l(x)`` in block ``l`` (or None); ``last``: added after the Last LN (or None).
    """

    input: Optional[torch.Tensor]
    blocks: List[Optional[torch.Tensor]]
    last: Optional[torch.Tensor]


#: A stage transition as :meth:`LayerwisePositionEmbedding.forward` calls it:
#: ``(stage, pe (1, h*w, D_s), (h, w)) -> (pe (1, h'*w', D_{s+1}), (h', w'))``, the module
#: that joins stage ``stage`` to the next (Swin: that stage's ``PatchMerging``).
Transition = Callable[[int, torch.Tensor, Tuple[int, int]], Tuple[torch.Tensor, Tuple[int, int]]]


class LayerwisePositionEmbedding(nn.Module):
    """The ``LN'`` chain and the Last-LN PE of a :class:`PEStructure`.

    It owns the LayerNorms (``layer_norms[str(l)]`` is ``LN'_l``, in the width of block
    ``l``'s stage; ``last_norm`` is ``LN''``, in the last stage's width), not ``pos_0``
    itself, which the backbone keeps (it is resampled to the input's patch grid first),
    nor the stage transitions, which the backbone shares with its tokens. The chain acts
    on the batch-free ``(1, N, D)`` PE, so it runs once per forward pass whatever the
    batch size.

    Args:
        structure: the switches.
        num_layers: number of transformer blocks ``L`` (over all stages).
        embed_dims: channels ``D``: an int (one stage, a plain ViT), or one width per
            stage.
        stage_depths: blocks per stage (they sum to ``L``); None: one stage of ``L``
            blocks. Swin-T: ``(2, 2, 6, 2)`` with ``embed_dims=(96, 192, 384, 768)``.

    Raises:
        ValueError: ``structure`` does not define a network (:meth:`PEStructure.validate`),
            or the stages do not match ``num_layers`` / ``embed_dims``.
    """

    def __init__(self, structure: PEStructure, num_layers: int,
                 embed_dims: Union[int, Sequence[int]],
                 stage_depths: Optional[Sequence[int]] = None):
        super().__init__()
        structure.validate(num_layers)
        stage_depths = (num_layers, ) if stage_depths is None else tuple(stage_depths)
        dims = (embed_dims, ) if is_positive_int(embed_dims) else tuple(embed_dims)
        if not all(is_positive_int(d) for d in stage_depths + dims) or \
                sum(stage_depths) != num_layers or len(dims) != len(stage_depths):
            raise ValueError(f'stage_depths={stage_depths} and embed_dims={embed_dims} must '
                             f'give one positive width per stage and depths that sum to '
                             f'num_layers={num_layers}.')
        self.structure = structure
        self.num_layers = num_layers
        self.stage_depths = stage_depths
        #: the stage of each block
        self.block_stage = [s for s, depth in enumerate(stage_depths) for _ in range(depth)]
        self.layer_norms = nn.ModuleDict({
            str(i): nn.LayerNorm(dims[self.block_stage[i]], eps=PE_NORM_EPS)
            for i in structure.layerwise_blocks(num_layers)
        })
        self.last_norm = (nn.LayerNorm(dims[-1], eps=PE_NORM_EPS)
                          if structure.last_ln_pos is not None else None)

    def forward(self, pos_0: torch.Tensor, transition: Optional[Transition] = None,
                grid: Optional[Tuple[int, int]] = None) -> PEPlan:
        """Turn ``pos_0`` of shape ``(1, N, D_0)`` into the terms of a :class:`PEPlan`.

        Args:
            pos_0: the PE on the first stage's token grid.
            transition: how a PE goes from one stage to the next (see :data:`Transition`);
                needed with more than one stage, unused with one.
            grid: ``(h, w)`` of ``pos_0``'s rows, passed to ``transition``.

        Raises:
            ValueError: a staged structure that needs a transition and got none.
        """
        s = self.structure
        blocks: List[Optional[torch.Tensor]] = [None] * self.num_layers
        layerwise = s.layerwise_blocks(self.num_layers)
        k = s.last_ln_pos
        # the last block whose PE is needed: a layer-wise block, or k for the Last LN
        needed_until = max(layerwise + ([k] if k is not None else []), default=-1)
        # src: what the next LN' reads (the chain, or pos_0 when not hierarchical), on
        # the current stage's grid; carry: the PE bound for LN'', merged as stages pass
        src, carry = pos_0, (pos_0 if k == 0 else None)
        for i in range(self.num_layers):
            stage = self.block_stage[i]
            if i > 0 and stage != self.block_stage[i - 1]:
                if carry is None and i > needed_until:
                    break  # nothing downstream reads a PE
                if transition is None:
                    raise ValueError('this PE structure spans stages: forward(pos_0, '
                                     'transition, grid) needs the stage transition.')
                merged, next_grid = transition(stage - 1, src, grid)
                if carry is not None:
                    carry = merged if carry is src else transition(stage - 1, carry, grid)[0]
                src, grid = merged, next_grid
            if i in layerwise:
                blocks[i] = self.layer_norms[str(i)](src)
                if s.hierarchical:
                    src = blocks[i]
                if k == i and k > 0:  # k=0 is the raw pos_0, even when block 0 has an LN'
                    carry = blocks[i]
        last = self.last_norm(carry) if self.last_norm is not None else None
        return PEPlan(pos_0 if s.input_pe else None, blocks, last)

    def input_pe_at_blocks(self, pos_0: torch.Tensor, transition: Optional[Transition] = None,
                           grid: Optional[Tuple[int, int]] = None) -> List[torch.Tensor]:
        """``pos_0`` as block ``l``'s token map carries it: for each block, ``pos_0``
        ``(1, N, D_0)`` pushed through the stage transitions up to that block's stage,
        without any ``LN'`` (what ``last_ln_pos=0`` and ``hierarchical=False`` read);
        ``pos_0`` itself for every block of a one-stage (plain ViT) chain. The arguments
        are :meth:`forward`'s; used by the counterbalance diagnostics
        (:mod:`mpvg_mm.analysis.counterbalance`) as the reference of blocks that see the
        PE through the residual stream only.

        Returns:
            ``L`` tensors ``(1, N_l, D_l)`` (the same tensor for blocks of one stage).

        Raises:
            ValueError: more than one stage and no ``transition``.
        """
        out, pe = [], pos_0
        for i in range(self.num_layers):
            stage = self.block_stage[i]
            if i > 0 and stage != self.block_stage[i - 1]:
                if transition is None:
                    raise ValueError('this PE chain spans stages: input_pe_at_blocks(pos_0, '
                                     'transition, grid) needs the stage transition.')
                pe, grid = transition(stage - 1, pe, grid)
            out.append(pe)
        return out


def check_drop_path_rate(value) -> None:
    """Refuse a ``drop_path_rate`` outside ``[0, 1)`` (1 drops every residual branch).

    Raises:
        ValueError: naming the argument.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f'drop_path_rate={value!r} must be in [0, 1).')


def check_positive_number(name: str, value) -> None:
    """Refuse a size or scale ``name`` that is not a number above 0 (``mlp_ratio``,
    ``qk_scale``).

    Raises:
        ValueError: naming the argument.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f'{name}={value!r} must be a number above 0.')


def is_positive_int(value) -> bool:
    """An ``int`` (not a ``bool``) above 0."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def _is_grid_side(g) -> bool:
    if isinstance(g, torch.Tensor):  # a traced shape (torch.jit / FLOP counting)
        return g.dim() == 0 and not g.is_floating_point() and not g.is_complex()
    return is_positive_int(g)


def _check_grid(grid, name: str) -> Tuple[int, int]:
    grid = tuple(grid) if isinstance(grid, (tuple, list, torch.Size)) else (grid, )
    if len(grid) != 2 or not all(_is_grid_side(g) for g in grid):
        raise ValueError(f'{name} must be (h, w), two positive ints; got {grid!r}.')
    return tuple(g if isinstance(g, torch.Tensor) else int(g) for g in grid)


def resample_pos_embed(pos_embed: torch.Tensor, src_grid: Tuple[int, int],
                       dst_grid: Tuple[int, int], num_extra_tokens: int = 0) -> torch.Tensor:
    """Bicubically resample the patch rows of a PE on their 2-D grid.

    The patch rows are read row-major (``index = y * w + x``), interpolated with
    ``F.interpolate(mode='bicubic', align_corners=False)`` in float32 and cast back.

    Args:
        pos_embed: ``(1, E + h*w, D)`` with ``E = num_extra_tokens`` leading rows (the
            class token's) that are kept as they are.
        src_grid: ``(h, w)`` of ``pos_embed``, which the caller must know (nothing here
            infers a grid from a row count); dst_grid: the wanted ``(h', w')``.
        num_extra_tokens: ``E``.

    Returns:
        ``(1, E + h'*w', D)`` (``pos_embed`` itself when the grids are equal).

    Raises:
        ValueError: ``pos_embed`` is not a ``(1, N, D)`` tensor, a grid is not two positive
            ints, or ``N - E != h*w``.
    """
    if not isinstance(pos_embed, torch.Tensor) or pos_embed.dim() != 3 or \
            pos_embed.shape[0] != 1:
        shape = tuple(pos_embed.shape) if isinstance(pos_embed, torch.Tensor) else \
            type(pos_embed).__name__
        raise ValueError(f'resample_pos_embed needs a (1, N, D) tensor (one PE row per token, '
                         f'no batch), got {shape}.')
    src_grid = _check_grid(src_grid, 'src_grid')
    dst_grid = _check_grid(dst_grid, 'dst_grid')
    if not 0 <= num_extra_tokens <= pos_embed.shape[1]:
        raise ValueError(f'num_extra_tokens={num_extra_tokens} is outside 0..'
                         f'{pos_embed.shape[1]} (the rows of the PE).')
    extra, patch = pos_embed[:, :num_extra_tokens], pos_embed[:, num_extra_tokens:]
    if patch.shape[1] != src_grid[0] * src_grid[1]:
        raise ValueError(f'position embedding has {patch.shape[1]} patch rows (after '
                         f'{num_extra_tokens} extra rows), which is not the grid '
                         f'{src_grid[0]}x{src_grid[1]} it is said to be.')
    if src_grid == dst_grid:
        return pos_embed
    dims = patch.shape[-1]
    grid = patch.reshape(1, src_grid[0], src_grid[1], dims).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=dst_grid, mode='bicubic', align_corners=False)
    patch = grid.to(patch.dtype).permute(0, 2, 3, 1).reshape(1, -1, dims)
    return torch.cat([extra, patch], dim=1)
