"""``MPVGSwin``: Swin Transformer whose absolute PE follows a :class:`PEStructure`.

The paper (MPVG, AAAI 2025, Table 1) reports the four PE structures on Swin-Ti with the
absolute PE (APE) on, next to Swin's relative position bias. This backbone is mmpretrain's
``SwinTransformer(use_abs_pos_embed=True)`` (mmpretrain 1.x
``mmpretrain/models/backbones/swin_transformer.py``): it subclasses it and reuses its
patch embedding, stages, ``SwinBlock``/``ShiftWindowMSA``/``WindowMSA``, mmcv's
``PatchMerging``, per-stage output norms and layer-wise lr depths (the
relative-position-bias resize on load is our own, in torch: mmpretrain's calls SciPy's
``interp2d``, removed in SciPy 1.14), so parameter names are mmpretrain's (``patch_embed.projection``,
``absolute_pos_embed``, ``stages.{s}.blocks.{j}.attn.w_msa.qkv``,
``stages.{s}.downsample.reduction``, ``norm{s}``), plus ``pe.layer_norms.{l}``
(``LN'_l``, ``l`` the block index over all stages) and ``pe.last_norm`` (``LN''``).

What the PE does in Swin (proposed where the paper is silent; see the README, "Swin"):

* input PE: ``x_0 = LN(PatchEmbed(img)) + pos_0`` on the stage-1 grid (mmpretrain's APE);
* layer-wise PE: block ``l`` computes ``x = x + SW-MSA(LN1(x) + pos_l)`` on the token grid,
  before the cyclic shift, padding and window partition (so the PE shifts and partitions
  with the tokens); never the residual stream or the MLP;
* across stages the PE goes through the **same** ``PatchMerging`` as the tokens (shared
  weights, the batch-free ``(1, L, C)`` tensor, once per forward pass), and the next
  stage's first block applies its own ``LN'``;
* MPVG: ``y = norm3(x) + LN''(P)`` per stage-4 token, then GAP; ``P`` is ``pos_0`` pushed
  through the three mergings without any ``LN'`` (``last_ln_pos=0``, the default), or
  the PE that block ``k`` receives, merged forward (``last_ln_pos=k``; ``k=10`` in
  Swin-T is "the chain's PE entering stage 4").
"""
from typing import List, Optional, Sequence, Tuple, Union

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger
from mmpretrain.models.backbones.swin_transformer import SwinTransformer
from mmpretrain.models.utils.attention import WindowMSA

from ..pos_embed import (STAGED_PE_PRESETS, LayerwisePositionEmbedding, build_pe_structure,
                         is_positive_int, resample_pos_embed)
from .mpvg_vit import size_pair

SWIN_OUT_TYPES = ('featmap', 'avg_featmap')
SWIN_ARCH_KEYS = ('embed_dims', 'depths', 'num_heads')


def swin_arch_settings(arch: Union[str, dict], arch_zoo: dict) -> dict:
    """The ``embed_dims``/``depths``/``num_heads`` of an mmpretrain Swin ``arch`` (a name
    of ``arch_zoo`` or a dict), checked: as many ``num_heads`` as ``depths``, every stage
    at least one block, and stage ``s``'s width ``embed_dims * 2**s`` divisible by its
    ``num_heads[s]`` (window attention splits the channels over the heads).

    Raises:
        ValueError: naming the arch key at fault and the fix.
    """
    if isinstance(arch, str):
        if arch.lower() not in arch_zoo:
            raise ValueError(f'arch={arch!r} is not one of mmpretrain\'s Swin archs '
                             f'{sorted(arch_zoo)}; or give a dict with keys {SWIN_ARCH_KEYS}.')
        return arch_zoo[arch.lower()]
    if not isinstance(arch, dict) or set(arch) != set(SWIN_ARCH_KEYS):
        raise ValueError(f'arch={arch!r}: a custom Swin arch is a dict with exactly the keys '
                         f'{SWIN_ARCH_KEYS}.')
    dims, depths, heads = (arch[k] for k in SWIN_ARCH_KEYS)
    if not is_positive_int(dims):
        raise ValueError(f'arch embed_dims={dims!r} must be a positive int.')
    if not isinstance(depths, (list, tuple)) or not depths or \
            not all(is_positive_int(d) for d in depths):
        raise ValueError(f'arch depths={depths!r} must be a non-empty list of positive ints '
                         '(blocks per stage).')
    if not isinstance(heads, (list, tuple)) or len(heads) != len(depths) or \
            not all(is_positive_int(h) for h in heads):
        raise ValueError(f'arch num_heads={heads!r} must be a list of positive ints, one per '
                         f'stage: as long as depths={list(depths)} ({len(depths)} stages).')
    for s, h in enumerate(heads):
        if (dims * 2**s) % h:
            raise ValueError(f'arch num_heads[{s}]={h} does not divide stage {s}\'s width '
                             f'embed_dims * 2**{s} = {dims * 2**s}: choose num_heads that '
                             'divide every stage width.')
    return arch


def _check_swin_args(*, window_size, frozen_stages, num_stages, drop_rate, drop_path_rate,
                     fused_attn, pe_cfg, out_indices) -> None:
    """The scalar arguments of :class:`MPVGSwin` (ValueError naming the argument)."""
    if not is_positive_int(window_size):
        raise ValueError(f'window_size={window_size!r} must be a positive int.')
    if isinstance(frozen_stages, bool) or not isinstance(frozen_stages, int) or \
            not -1 <= frozen_stages < num_stages:
        raise ValueError(f'frozen_stages={frozen_stages!r} must be an int in '
                         f'-1..{num_stages - 1} (-1: nothing frozen; s: stages 0..s).')
    for name, rate in (('drop_rate', drop_rate), ('drop_path_rate', drop_path_rate)):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f'{name}={rate!r} must be a probability in [0, 1).')
    if not isinstance(fused_attn, bool):
        raise ValueError(f'fused_attn={fused_attn!r} must be True or False.')
    if pe_cfg is not None and not isinstance(pe_cfg, dict):
        raise ValueError(f'pe_cfg={pe_cfg!r} must be a dict of structure switches (e.g. '
                         'dict(last_ln_pos=10)) or None; the preset is pe_mode.')
    indices = [out_indices] if isinstance(out_indices, int) else out_indices
    if not isinstance(indices, (list, tuple)) or \
            not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
        raise ValueError(f'out_indices={out_indices!r} must be an int or a sequence of ints '
                         '(stages).')


def _swin_misfit(sub: dict, own: dict) -> Optional[str]:
    """``MPVGSwin``'s refusal of a state dict ``sub`` (keys without prefix) that places
    fewer than half of ``own`` (name -> shape) by name and shape (a relative position bias
    table counts whatever its window: it is resized on load), naming the likely layout and
    its fix; None when it fits."""
    placed = [name for name, shape in own.items() if name in sub and (
        name.endswith('relative_position_bias_table') or
        tuple(sub[name].shape) == tuple(shape))]
    if 2 * len(placed) >= len(own):
        return None
    keys = list(sub)
    if any(k.startswith('backbone.') for k in keys):
        fix = ('its weights are under \'backbone.\' (a classifier or detector '
               'checkpoint): load it with init_cfg=dict(type=\'Pretrained\', '
               'checkpoint=..., prefix=\'backbone.\')')
    elif any(k.startswith('layers.') and '.blocks.' in k for k in keys):
        fix = ('it looks like an official (Microsoft) Swin checkpoint (layers.{i}.blocks): '
               'convert it to the OpenMMLab Swin names first (stages.{i}.blocks.{j}, '
               'patch_embed.projection; e.g. mmseg\'s '
               'tools/model_converters/swin2mmseg.py)')
    elif any(k in ('cls_token', 'pos_embed') or k.startswith(('layers.', 'blocks.'))
             for k in keys):
        fix = ('it looks like a ViT checkpoint (cls_token/pos_embed/layers): MPVGSwin '
               'needs a Swin checkpoint (mmpretrain\'s SwinTransformer or MPVGSwin)')
    else:
        fix = ('use a Swin checkpoint of this arch (embed_dims, depths, num_heads), with '
               'prefix= naming the part that holds the backbone')
    missing = [name for name in own if name not in placed]
    return (f'the checkpoint places {len(placed)} of MPVGSwin\'s {len(own)} Swin weights '
            f'(by name and shape; e.g. not {", ".join(missing[:3])}); its keys begin '
            f'{", ".join(keys[:3])}: {fix}.')


class FusedWindowMSA(WindowMSA):
    """mmpretrain's ``WindowMSA`` (same parameters and buffers) computed with PyTorch's
    ``scaled_dot_product_attention``: the relative position bias plus the shifted-window
    mask (``(nW, N, N)``, 0 or -100) form its additive mask, instead of an explicit
    softmax. Input ``(num_windows * B, N, C)``, output the same shape."""

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        B_, N, C = x.shape
        heads = self.num_heads
        q, k, v = self.qkv(x).reshape(B_, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(N, N, heads).permute(2, 0, 1).unsqueeze(0)  # 1, nH, N, N
        if mask is not None:
            nW = mask.shape[0]
            bias = (bias + mask.unsqueeze(1)).unsqueeze(0).expand(B_ // nW, -1, -1, -1, -1)
            bias = bias.reshape(B_, heads, N, N)
        x = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.to(q.dtype), scale=self.scale,
            dropout_p=self.attn_drop.p if self.training else 0.0)
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B_, N, C)))


class MPVGSwin(SwinTransformer):
    """Swin Transformer with the position-embedding structures of MPVG (AAAI 2025).

    Args:
        arch: mmpretrain's Swin names (``'tiny' | 'small' | 'base' | 'large'``, or
            ``'t'``...) or a dict with ``embed_dims``, ``depths``, ``num_heads``.
        pe_mode: ``'default' | 'lape' | 'pvg' | 'mpvg'``, the presets of
            :data:`~mpvg_mm.models.pos_embed.STAGED_PE_PRESETS` (PVG and MPVG take the
            layer-wise PE from block 0 on, as the paper does for Swin).
        pe_cfg: overrides of the preset's switches, e.g. ``dict(last_ln_pos=10)``.
        img_size: the input size ``absolute_pos_embed`` is defined for (int or ``(H, W)``).
            Any input size runs: images are zero-padded to the patch size (bottom/right),
            ``pos_0`` is resampled bicubically to the stage-1 grid, and windows are padded
            as the tokens are.
        pretrained_img_size: the input size a checkpoint without a recorded grid
            (``pos_embed_grid``; mmpretrain's and converted official checkpoints) was
            trained at; None: ``img_size`` (mmpretrain's Swin-T/S/B at 224 load as they are).
        out_indices: stages (0..3; negative counts from the end) whose outputs are
            returned, each through its own norm (``norm{s}``); the last stage's norm is the
            Last LN (the MPVG term is added there).
        out_type: ``'featmap'`` -> ``(B, C_s, h_s, w_s)`` (mmpretrain's Swin output, pooled
            by the ``GlobalAveragePooling`` neck in classification); ``'avg_featmap'`` ->
            ``(B, C_s)``, the token mean after the norm (GAP in the backbone).
        pad_small_map: pad a stage grid smaller than the window (dense prediction);
            False refuses it as mmpretrain does (classification, equal to the original).
        fused_attn: window attention with ``scaled_dot_product_attention``
            (:class:`FusedWindowMSA`); False uses mmpretrain's explicit softmax.
        window_size, drop_rate, drop_path_rate, with_cp, frozen_stages, norm_eval,
        patch_size, in_channels, norm_cfg, init_cfg: as mmpretrain's ``SwinTransformer``.
            ``frozen_stages=s`` also freezes ``pos_0`` and the ``LN'`` of the blocks of
            stages ``0..s`` (and ``LN''`` with the last stage).

    Raises:
        ValueError: unknown ``pe_mode``/``pe_cfg`` keys or a structure that does not define
            a network; a Last-LN PE without the last stage in ``out_indices``; an unknown
            ``out_type``; an ``out_indices`` entry outside the stages; an ``img_size`` or
            ``pretrained_img_size`` not a multiple of the patch size; an inconsistent
            ``arch`` (:func:`swin_arch_settings`); a ``window_size``, ``frozen_stages``,
            drop rate, ``fused_attn`` or ``pe_cfg`` of the wrong type or range. Loading (:meth:`_prepare_abs_pos_embed`):
            an APE of another width, or rows that are not the checkpoint's grid.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 pe_mode: str = 'mpvg',
                 pe_cfg: Optional[dict] = None,
                 img_size: Union[int, Sequence[int]] = 224,
                 pretrained_img_size: Optional[Union[int, Sequence[int]]] = None,
                 patch_size: int = 4,
                 in_channels: int = 3,
                 window_size: int = 7,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.1,
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 out_type: str = 'featmap',
                 with_cp: bool = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 pad_small_map: bool = False,
                 fused_attn: bool = True,
                 norm_cfg: dict = dict(type='LN'),
                 init_cfg=None):
        depths = swin_arch_settings(arch, self.arch_zoo)['depths']
        num_stages = len(depths)
        _check_swin_args(window_size=window_size, frozen_stages=frozen_stages,
                         num_stages=num_stages, drop_rate=drop_rate,
                         drop_path_rate=drop_path_rate, fused_attn=fused_attn, pe_cfg=pe_cfg,
                         out_indices=out_indices)
        structure, _ = build_pe_structure(pe_mode, pe_cfg, STAGED_PE_PRESETS)
        if out_type not in SWIN_OUT_TYPES:
            raise ValueError(f'unknown out_type {out_type!r}; choose one of {SWIN_OUT_TYPES}.')
        img_size = size_pair(img_size)
        if img_size[0] % patch_size or img_size[1] % patch_size:
            raise ValueError(f'img_size={img_size} is not a multiple of the patch size '
                             f'{patch_size}.')
        indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        resolved = sorted({i + num_stages if i < 0 else i for i in indices})
        if not resolved or not all(0 <= i < num_stages for i in resolved):
            raise ValueError(f'out_indices={out_indices!r} must name stages of '
                             f'0..{num_stages - 1} (negative counts from the end).')
        if structure.last_ln_pos is not None and num_stages - 1 not in resolved:
            raise ValueError(
                f'pe_mode={pe_mode!r} adds LN\'\'(pos) after the Last LN, the norm of the last '
                f'stage {num_stages - 1}, which out_indices={out_indices!r} leaves out: '
                f'include it, or set pe_cfg=dict(last_ln_pos=None) (PVG).')
        attn_cfgs = dict(window_msa=FusedWindowMSA) if fused_attn else dict()
        # mmpretrain reads its drop-path rates with Tensor.item(), which tensors on a meta
        # default device (`with torch.device('meta')`, fast model inspection) refuse
        on_meta = torch.empty(0).device.type == 'meta'
        with torch.device('cpu') if on_meta else contextlib.nullcontext():
            self._build_swin(
                arch=arch, img_size=img_size, patch_size=patch_size, in_channels=in_channels,
                window_size=window_size, drop_rate=drop_rate, drop_path_rate=drop_path_rate,
                out_indices=tuple(resolved), with_cp=with_cp, frozen_stages=frozen_stages,
                norm_eval=norm_eval, pad_small_map=pad_small_map, norm_cfg=norm_cfg,
                stage_cfgs=dict(block_cfgs=dict(attn_cfgs=attn_cfgs)), init_cfg=init_cfg)
        self.pe_mode = pe_mode

        self.out_type = out_type
        self.with_cp = with_cp
        self.pe_grid = tuple(self.patch_resolution)
        self.pretrained_grid = self.pe_grid
        if pretrained_img_size is not None:
            pretrained = size_pair(pretrained_img_size, 'pretrained_img_size')
            if pretrained[0] % patch_size or pretrained[1] % patch_size:
                raise ValueError(f'pretrained_img_size={pretrained} is not a multiple of the '
                                 f'patch size {patch_size}: give the input size the '
                                 'checkpoint was trained at.')
            self.pretrained_grid = tuple(s // patch_size for s in pretrained)
        self.stage_dims = [stage.embed_dims for stage in self.stages]
        self.pe = LayerwisePositionEmbedding(structure, sum(self.depths), self.stage_dims,
                                             self.depths)
        # the grid of absolute_pos_embed, saved with every checkpoint (read on load)
        self.register_buffer('pos_embed_grid', torch.tensor(self.pe_grid, dtype=torch.long))
        self._freeze_stages()

    def _build_swin(self, **kwargs) -> None:
        """mmpretrain's ``SwinTransformer.__init__`` with the APE on."""
        super().__init__(out_after_downsample=False, use_abs_pos_embed=True, **kwargs)

    # ------------------------------------------------------------------ forward
    def merge_pe(self, stage: int, pe: torch.Tensor,
                 grid: Tuple[int, int]) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Stage ``stage``'s ``PatchMerging`` (the tokens' own) on a ``(1, h*w, C)`` PE."""
        return self.stages[stage].downsample(pe, grid)

    def pe_plan(self, grid: Tuple[int, int]):
        """The :class:`~mpvg_mm.models.pos_embed.PEPlan` of a pass whose stage-1 grid is
        ``(h, w)``: ``pos_0`` resampled to it, the ``LN'`` chain and the Last-LN PE."""
        pos_0 = resample_pos_embed(self.absolute_pos_embed, self.pe_grid, grid)
        return self.pe(pos_0, self.merge_pe, grid)

    def forward_block(self, block: nn.Module, x: torch.Tensor, grid: Tuple[int, int],
                      pos: Optional[torch.Tensor]) -> torch.Tensor:
        """mmpretrain's ``SwinBlock`` with ``pos`` ``(1, h*w, C)`` (or None) added to
        ``LN1(x)`` before the shifted-window attention; ``x`` is ``(B, h*w, C)``."""

        def inner(x, pos):
            h = block.norm1(x)
            if pos is not None:
                h = h + pos
            x = x + block.attn(h, grid)  # attn ends with the drop path
            return block.ffn(block.norm2(x), identity=x)

        if self.with_cp and self.training and x.requires_grad:
            return cp.checkpoint(inner, x, pos, use_reentrant=False)
        return inner(x, pos)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Images ``(B, C_in, H, W)`` -> one output per ``out_indices`` stage (out_type).

        Raises:
            ValueError: not a non-empty batch of ``in_channels``-channel images.
        """
        in_channels = self.patch_embed.projection.in_channels
        if x.dim() != 4 or x.shape[0] == 0 or x.shape[1] != in_channels:
            raise ValueError(f'MPVGSwin takes images (B, {in_channels}, H, W) with B >= 1; got '
                             f'shape {tuple(x.shape)} (a single image: x[None]).')
        x, grid = self.patch_embed(x)
        plan = self.pe_plan(grid)
        if plan.input is not None:
            x = x + plan.input
        x = self.drop_after_pos(x)
        outs, index = [], 0
        for s, stage in enumerate(self.stages):
            for block in stage.blocks:
                x = self.forward_block(block, x, grid, plan.blocks[index])
                index += 1
            if s in self.out_indices:
                out = getattr(self, f'norm{s}')(x)
                if s == len(self.stages) - 1 and plan.last is not None:
                    out = out + plan.last
                outs.append(out.mean(1) if self.out_type == 'avg_featmap' else
                            out.view(-1, *grid, out.shape[-1]).permute(0, 3, 1, 2).contiguous())
            if stage.downsample is not None:
                x, grid = stage.downsample(x, grid)
        return tuple(outs)

    # ------------------------------------------------------------------ diagnostics
    def counterbalance_norms(self) -> Tuple[List[nn.Module], nn.Module]:
        """The modules the counterbalance diagnostics hook (the interface of
        :mod:`mpvg_mm.analysis.counterbalance`): ``LN1`` of every block over all stages
        (``stages[s].blocks[j].norm1``, block ``l`` counted across stages; the norm whose
        output block ``l``'s layer-wise PE is added to) and the Last LN, the last stage's
        output norm (``norm3`` in Swin-T; ``plan.last`` is added to its output).

        Raises:
            ValueError: the last stage is not in ``out_indices`` (mmpretrain builds no norm
                for it).
        """
        last = len(self.stages) - 1
        if last not in self.out_indices:
            raise ValueError(
                f'the diagnostics read the Last LN (norm{last}, the last stage\'s output '
                f'norm), which this backbone does not build (out_indices={self.out_indices}): '
                f'build it with {last} in out_indices.')
        blocks = [block.norm1 for stage in self.stages for block in stage.blocks]
        return blocks, getattr(self, f'norm{last}')

    # ------------------------------------------------------------------ folding
    def pooled_last_ln_pe(self, neck: Optional[nn.Module]) -> torch.Tensor:
        """``c̄``, ``(C,)``, the token mean of the Last-LN PE (``plan.last``, last stage)
        of a pass at ``pe_grid`` (the interface of :mod:`mpvg_mm.models.folding`).

        Raises:
            ValueError: the last stage is not alone in ``out_indices`` or not globally
                average-pooled (``out_type='avg_featmap'`` without a neck, or ``'featmap'``
                with mmpretrain's ``GlobalAveragePooling`` neck).
        """
        # GAP in the backbone, or mmpretrain's GlobalAveragePooling neck on its feature map
        gap = (self.out_type == 'avg_featmap' and neck is None) or (
            self.out_type == 'featmap' and type(neck).__name__ == 'GlobalAveragePooling')
        if not gap or self.out_indices != (len(self.stages) - 1, ):
            raise ValueError('folding needs the last stage alone (out_indices=(3, )), '
                             "globally average-pooled (out_type='avg_featmap' without a neck, "
                             'or a GlobalAveragePooling neck): the Last-LN PE is a constant '
                             'only after global average pooling.')
        return self.pe_plan(self.pe_grid).last[0].mean(0)

    def fold_img_size(self) -> Tuple[int, int]:
        """The input size ``(H, W)`` a fold is valid at: ``pe_grid`` times the patch
        embedding's stride (the interface of :mod:`mpvg_mm.models.folding`)."""
        patch = tuple(self.patch_embed.projection.stride)
        return self.pe_grid[0] * patch[0], self.pe_grid[1] * patch[1]

    # ------------------------------------------------------------------ freezing, lr decay
    def _freeze_stages(self):
        super()._freeze_stages()
        if self.frozen_stages < 0 or not hasattr(self, 'pe'):
            return
        self.absolute_pos_embed.requires_grad = False
        frozen_blocks = sum(self.depths[:self.frozen_stages + 1])
        frozen = [norm for i, norm in self.pe.layer_norms.items() if int(i) < frozen_blocks]
        if self.frozen_stages >= len(self.stages) - 1 and self.pe.last_norm is not None:
            frozen.append(self.pe.last_norm)
        for norm in frozen:
            for param in norm.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        """mmpretrain's (freezing, ``norm_eval``), returning the module as ``nn.Module``
        does (mmpretrain's returns None, so ``MPVGSwin(...).eval()`` would too)."""
        super().train(mode)
        return self

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """mmpretrain's Swin depths (patch embedding 0, block ``l`` ``l + 1``, a stage's
        merging with its last block, the rest last), with ``absolute_pos_embed`` at 0,
        ``LN'_l`` with block ``l`` and ``LN''`` last.

        Returns:
            ``(layer_depth, sum(depths) + 2)``.
        """
        num_depths = sum(self.depths) + 2
        name = param_name[len(prefix):] if param_name.startswith(prefix) else None
        if name == 'absolute_pos_embed':
            return 0, num_depths
        if name is not None and name.startswith('pe.layer_norms.'):
            return int(name.split('.')[2]) + 1, num_depths
        return super().get_layer_depth(param_name, prefix)

    # ------------------------------------------------------------------ loading
    def _prepare_relative_position_bias_table(self, state_dict, prefix, *args,
                                              **kwargs) -> None:
        """Load-state-dict pre-hook (replaces mmpretrain's, whose SciPy ``interp2d`` is
        gone from SciPy >= 1.14): a checkpoint's ``relative_position_bias_table`` of
        another window size, ``((2w'-1)^2, nH)``, is resized to this model's
        ``((2w-1)^2, nH)`` by bicubic interpolation of each head's ``(2w'-1, 2w'-1)``
        table (``F.interpolate``, ``align_corners=False``), as timm's
        ``resize_rel_pos_bias_table_simple`` (``timm/layers/pos_embed_rel.py``) and the
        official Swin's fine-tuning loader do; the checkpoint's
        ``relative_position_index`` is replaced by this model's (it follows from the window
        size). Same size: unchanged.

        Raises:
            ValueError: a table that is not square per head, or of another head count.
        """
        for name, module in self.named_modules():
            table = getattr(module, 'relative_position_bias_table', None)
            key = f'{prefix}{name}.relative_position_bias_table'
            if not isinstance(table, torch.Tensor) or key not in state_dict:
                continue
            ckpt = state_dict[key]
            side = round(ckpt.shape[0]**0.5) if ckpt.dim() == 2 else -1
            dst = round(table.shape[0]**0.5)
            if side * side != ckpt.shape[0] or ckpt.shape[1] != table.shape[1]:
                raise ValueError(
                    f'checkpoint {key} has shape {tuple(ckpt.shape)}; this model needs '
                    f'((2*window_size-1)**2, num_heads) = {tuple(table.shape)}: build the '
                    'backbone with the checkpoint\'s arch (num_heads).')
            if side == dst:
                continue
            heads = ckpt.shape[1]
            grid = ckpt.t().float().reshape(1, heads, side, side)
            resized = F.interpolate(grid, size=(dst, dst), mode='bicubic', align_corners=False)
            state_dict[key] = resized.reshape(heads, dst * dst).t().to(ckpt.dtype)
            index_key = key.replace('bias_table', 'index')
            if index_key in state_dict:
                state_dict[index_key] = module.relative_position_index.detach().clone()
            MMLogger.get_current_instance().info(
                f'{key}: resized the {side}x{side} relative position bias of each head to '
                f'{dst}x{dst} (bicubic).')

    def checkpoint_key_layout(self):
        """This backbone's layout for the load-time check shared with ``MPVGViT``
        (:func:`~mpvg_mm.models.checkpoint_layout.refuse_foreign_checkpoint`, run by
        :meth:`_prepare_abs_pos_embed`). Its rule (``misfit``): refuse a load that would
        place fewer than half of this backbone's own weights (those of mmpretrain's Swin:
        every parameter but ``absolute_pos_embed`` and the PE's LNs, which a checkpoint may
        lack), by key and shape (a relative position bias table counts whatever its window;
        it is resized); mmengine would only warn about missing keys and leave the model
        random. A ViT checkpoint, a classifier checkpoint loaded without
        ``prefix='backbone.'``, an official Swin file or a Swin of another width all fall
        here, and the refusal names the fix (``prefix='backbone.'``; converting the
        official names; a Swin checkpoint of this arch).

        Returns:
            a :class:`~mpvg_mm.models.checkpoint_layout.BackboneKeyLayout`.
        """
        from ..checkpoint_layout import BackboneKeyLayout
        own = {name: p.shape for name, p in self.named_parameters()
               if name != 'absolute_pos_embed' and not name.startswith('pe.')}
        hint = ('save its inner dict (e.g. torch.save(ckpt[\'model\'], DST)); an official '
                '(Microsoft) Swin file also needs the OpenMMLab Swin names (mmseg\'s '
                'tools/model_converters/swin2mmseg.py)')
        return BackboneKeyLayout('MPVGSwin', frozenset(self.state_dict()), hint,
                                 misfit=lambda sub: _swin_misfit(sub, own))

    def _prepare_abs_pos_embed(self, state_dict, prefix, *args, **kwargs) -> None:
        """Load-state-dict pre-hook (replaces mmpretrain's, which infers the grid from a
        square root of the row count): fit the checkpoint's ``absolute_pos_embed``.

        * No ``absolute_pos_embed`` in a checkpoint that has this backbone's weights (an
          mmpretrain Swin with ``use_abs_pos_embed=False``, or official Swin): ``pos_0``
          is loaded as zeros, with a warning. Default then computes what that Swin does.
        * The grid of its rows is ``pos_embed_grid`` when recorded (every checkpoint of
          this backbone), else ``pretrained_img_size // patch_size``; the rows must be that
          grid, and are resampled bicubically to this model's grid.
        * ``pos_embed_grid`` always ends up as this model's grid (read, never copied).

        Raises:
            ValueError: a malformed APE or grid, or rows that do not make the grid; a
                checkpoint of another layout (:meth:`checkpoint_key_layout`).
        """
        from ..checkpoint_layout import refuse_foreign_checkpoint
        refuse_foreign_checkpoint(state_dict, prefix, self.checkpoint_key_layout())
        key, grid_key = prefix + 'absolute_pos_embed', prefix + 'pos_embed_grid'
        recorded = state_dict.pop(grid_key, None)
        state_dict[grid_key] = self.pos_embed_grid.detach().clone()
        logger = MMLogger.get_current_instance()
        if key not in state_dict:
            if prefix + 'patch_embed.projection.weight' in state_dict:
                logger.warning(f'{key} is not in the checkpoint (a Swin without absolute PE): '
                               'pos_0 is loaded as zeros.')
                state_dict[key] = torch.zeros_like(self.absolute_pos_embed)
            return
        ckpt, C = state_dict[key], self.embed_dims
        if ckpt.dim() != 3 or ckpt.shape[0] != 1 or ckpt.shape[-1] != C:
            raise ValueError(f'checkpoint {key} has shape {tuple(ckpt.shape)}; this model '
                             f'needs (1, h*w, {C}).')
        if recorded is not None:
            src = tuple(int(v) for v in recorded.flatten().tolist())
            source = f'recorded in {grid_key}'
        else:
            src = self.pretrained_grid
            source = 'from pretrained_img_size (None: img_size)'
        if len(src) != 2 or ckpt.shape[1] != src[0] * src[1]:
            raise ValueError(
                f'checkpoint {key} has {ckpt.shape[1]} rows, not the grid {src} ({source}): '
                'build the backbone with pretrained_img_size=<the (H, W) the checkpoint was '
                'trained at>.')
        if src != self.pe_grid:
            logger.info(f'{key}: resampling the checkpoint\'s {src[0]}x{src[1]} grid '
                        f'({source}) to {self.pe_grid[0]}x{self.pe_grid[1]} (bicubic).')
        state_dict[key] = resample_pos_embed(ckpt, src, self.pe_grid)

