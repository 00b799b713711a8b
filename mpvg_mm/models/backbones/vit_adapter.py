"""``MPVGViTAdapter``: a ViT-Adapter (Chen et al., ICLR 2023) around :class:`MPVGViT`.

The paper evaluates dense prediction with each pretrained DeiT-Ti inside ViT-Adapter-Ti
(Mask R-CNN on COCO, UperNet on ADE20K). This module is that wrapper for mmdet/mmseg:

* a convolutional **spatial prior** turns the image into maps at strides 4/8/16/32,
  projected to the ViT's width ``D``; the stride-8/16/32 ones, flattened and tagged with a
  learnable **level embedding**, form the "spatial tokens" ``(B, S, D)``;
* the ViT's blocks are split into groups (``interaction_indexes``); before each group an
  **injector** lets the ViT tokens read the spatial tokens (multi-scale deformable
  cross-attention, gated by a per-channel ``gamma`` that starts at 0, so the pretrained
  ViT is unchanged at initialisation); after each group an **extractor** lets the
  spatial tokens read the ViT tokens (single-level deformable cross-attention + ConvFFN);
  the last group has extra extractors;
* the outputs are the spatial maps plus the ViT's feature map resized to each stride,
  each normalised (``norm_cfg``, SyncBN by default): a tuple of four ``(B, D, h, w)``
  maps at strides 4, 8, 16, 32, ready for mmdet's ``FPN`` or mmseg's ``UPerHead``.

The ViT part is the classifier's own code path: :meth:`MPVGViT.prepare_tokens` (patch
embedding, ``pos_0`` resampled to the input's patch grid, the ``LN'`` chain run once on
it), :meth:`MPVGViT.forward_block` for every block with its layer-wise PE, and
:meth:`MPVGViT.forward_last_ln` for the Last LN (+ MPVG's ``LN''(pos_0)``).
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.ops import MultiScaleDeformableAttention
from mmengine.model.weight_init import trunc_normal_

from .mpvg_vit import LN_EPS, DropPath, MPVGViT, pad_divisor_hint, refuses_switches

Shape = Tuple[int, int]

#: Where MPVG's Last-LN PE ``LN''(pos_0)`` enters the adapter (see MPVGViTAdapter).
LAST_LN_PE_PORTS = ('stride16', 'all_levels', 'none')
#: Where window attention zero-pads: the normed tokens, or q/k/v (official ViT-Adapter).
WINDOW_PADDINGS = ('tokens', 'qkv')
#: Which ViT tokens enter the outputs: the final ones, or group i's at level i.
VIT_FEATURES = ('last', 'per_group')
NUM_SPATIAL_LEVELS = 3  # strides 8, 16, 32 interact with the ViT; stride 4 does not


# ---------------------------------------------------------------------------- helpers
def tokens_to_map(tokens: torch.Tensor, shape: Shape) -> torch.Tensor:
    """``(B, h*w, C)`` -> ``(B, C, h, w)``."""
    B, _, C = tokens.shape
    return tokens.transpose(1, 2).reshape(B, C, shape[0], shape[1])


def map_to_tokens(feature_map: torch.Tensor) -> torch.Tensor:
    """``(B, C, h, w)`` -> ``(B, h*w, C)``."""
    return feature_map.flatten(2).transpose(1, 2)


def resize_to(feature_map: torch.Tensor, shape: Shape) -> torch.Tensor:
    """Bilinearly resize ``(B, C, h, w)`` to ``(B, C, *shape)`` (no-op if equal)."""
    if tuple(feature_map.shape[-2:]) == tuple(shape):
        return feature_map
    return F.interpolate(feature_map, size=shape, mode='bilinear', align_corners=False)


class DeformableInputs(NamedTuple):
    """What ``MultiScaleDeformableAttention`` needs besides query and value.

    ``reference_points``: ``(1, Nq, 1, 2)``, the normalised ``(x, y)`` centre of every
    query cell (one per query, broadcast over batch and value levels);
    ``spatial_shapes``: ``(num_levels, 2)`` ``(h, w)`` of the value maps (long);
    ``level_start_index``: ``(num_levels,)`` offset of each level in the value tokens.
    """

    reference_points: torch.Tensor
    spatial_shapes: torch.Tensor
    level_start_index: torch.Tensor


def grid_centres(shapes: Sequence[Shape], device: torch.device) -> torch.Tensor:
    """Normalised ``(x, y)`` cell centres of the grids, concatenated: ``(1, sum h*w, 1, 2)``."""
    points = []
    for h, w in shapes:
        ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
        xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
        y, x = torch.meshgrid(ys, xs, indexing='ij')
        points.append(torch.stack([x.reshape(-1), y.reshape(-1)], dim=-1))
    return torch.cat(points, dim=0)[None, :, None, :]


def deformable_inputs(query_shapes: Sequence[Shape], value_shapes: Sequence[Shape],
                      device: torch.device) -> DeformableInputs:
    """Reference points of the query grids, and shapes/offsets of the value grids."""
    spatial_shapes = torch.as_tensor(value_shapes, dtype=torch.long, device=device)
    sizes = spatial_shapes.prod(dim=1)
    level_start_index = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)[:-1]])
    return DeformableInputs(grid_centres(query_shapes, device), spatial_shapes,
                            level_start_index)


def conv3x3_norm_relu(in_channels: int, out_channels: int, stride: int,
                      norm_cfg: dict) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False),
        build_norm_layer(norm_cfg, out_channels)[1], nn.ReLU(inplace=True))


# ---------------------------------------------------------------------------- modules
class SpatialPriorModule(nn.Module):
    """Convolutional stem giving the multi-scale spatial prior.

    ``(B, C_in, H, W)`` -> four maps ``(B, D, ceil(H/s), ceil(W/s))``, ``s = 4, 8, 16, 32``
    (every down-sampling step is a stride-2 op with ``ceil`` rounding, so the stride-16
    map has the ViT's patch grid, also for inputs padded by ``pad_to_patch``).

    Args:
        in_channels: image channels.
        channels: width of the stem (``c``); the stride-8/16/32 stages have ``2c, 4c, 4c``.
        embed_dims: ``D``, the width every map is projected to (1x1 convs).
        norm_cfg: norm after each 3x3 conv.
    """

    def __init__(self, in_channels: int, channels: int, embed_dims: int, norm_cfg: dict):
        super().__init__()
        self.stem = nn.Sequential(  # stride 4
            conv3x3_norm_relu(in_channels, channels, 2, norm_cfg),
            conv3x3_norm_relu(channels, channels, 1, norm_cfg),
            conv3x3_norm_relu(channels, channels, 1, norm_cfg),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.to_stride8 = conv3x3_norm_relu(channels, 2 * channels, 2, norm_cfg)
        self.to_stride16 = conv3x3_norm_relu(2 * channels, 4 * channels, 2, norm_cfg)
        self.to_stride32 = conv3x3_norm_relu(4 * channels, 4 * channels, 2, norm_cfg)
        self.projections = nn.ModuleList([
            nn.Conv2d(c, embed_dims, kernel_size=1)
            for c in (channels, 2 * channels, 4 * channels, 4 * channels)
        ])

    def forward(self, images: torch.Tensor) -> List[torch.Tensor]:
        s4 = self.stem(images)
        s8 = self.to_stride8(s4)
        s16 = self.to_stride16(s8)
        s32 = self.to_stride32(s16)
        return [proj(f) for proj, f in zip(self.projections, (s4, s8, s16, s32))]


class ConvFFN(nn.Module):
    """``fc1 -> depthwise 3x3 conv on each level's grid -> GELU -> fc2`` on ``(B, S, D)``.

    ``S = sum h*w`` over ``level_shapes``; one depthwise conv is shared by the levels.
    """

    def __init__(self, dims: int, hidden_dims: int):
        super().__init__()
        self.fc1 = nn.Linear(dims, hidden_dims)
        self.dwconv = nn.Conv2d(hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dims, dims)

    def forward(self, x: torch.Tensor, level_shapes: Sequence[Shape]) -> torch.Tensor:
        x = self.fc1(x)
        levels = x.split([h * w for h, w in level_shapes], dim=1)
        x = torch.cat([
            map_to_tokens(self.dwconv(tokens_to_map(level, shape)))
            for level, shape in zip(levels, level_shapes)
        ], dim=1)
        return self.fc2(self.act(x))


def deformable_attention(dims: int, num_heads: int, num_levels: int, num_points: int,
                         value_ratio: float) -> MultiScaleDeformableAttention:
    return MultiScaleDeformableAttention(
        embed_dims=dims, num_heads=num_heads, num_levels=num_levels, num_points=num_points,
        dropout=0.0, batch_first=True, value_proj_ratio=value_ratio)


class Injector(nn.Module):
    """Spatial prior -> ViT: ``x = x + gamma * DeformAttn(LN(x), LN(spatial))``.

    ViT tokens ``x`` ``(B, N, D)`` (stride-16 grid) sample the three spatial levels
    ``(B, S, D)``; ``gamma`` ``(D,)`` starts at ``gamma_init`` (0: the ViT is untouched at
    initialisation).
    """

    def __init__(self, dims: int, num_heads: int, num_points: int, value_ratio: float,
                 gamma_init: float):
        super().__init__()
        self.query_norm = nn.LayerNorm(dims, eps=LN_EPS)
        self.feat_norm = nn.LayerNorm(dims, eps=LN_EPS)
        self.attn = deformable_attention(dims, num_heads, NUM_SPATIAL_LEVELS, num_points,
                                         value_ratio)
        self.gamma = nn.Parameter(torch.full((dims, ), float(gamma_init)))

    def forward(self, tokens: torch.Tensor, spatial: torch.Tensor,
                inputs: DeformableInputs) -> torch.Tensor:
        # identity=0: mmcv's attention adds its `identity` to the update; we want the bare
        # update so that the gate multiplies it alone.
        update = self.attn(query=self.query_norm(tokens), value=self.feat_norm(spatial),
                           identity=0, reference_points=inputs.reference_points,
                           spatial_shapes=inputs.spatial_shapes,
                           level_start_index=inputs.level_start_index)
        return tokens + self.gamma * update


class Extractor(nn.Module):
    """ViT -> spatial prior: ``s = s + DeformAttn(LN(s), LN(x))``, then ``s + ConvFFN(LN(s))``.

    Spatial tokens ``s`` ``(B, S, D)`` (three levels) sample the ViT tokens ``x``
    ``(B, N, D)`` (one level, the stride-16 grid).
    """

    def __init__(self, dims: int, num_heads: int, num_points: int, value_ratio: float,
                 with_cffn: bool, cffn_ratio: float, drop_path: float):
        super().__init__()
        self.query_norm = nn.LayerNorm(dims, eps=LN_EPS)
        self.feat_norm = nn.LayerNorm(dims, eps=LN_EPS)
        self.attn = deformable_attention(dims, num_heads, 1, num_points, value_ratio)
        if with_cffn:
            self.ffn_norm = nn.LayerNorm(dims, eps=LN_EPS)
            self.ffn = ConvFFN(dims, int(dims * cffn_ratio))
            self.drop_path = DropPath(drop_path)
        else:
            self.ffn = None

    def forward(self, spatial: torch.Tensor, tokens: torch.Tensor, inputs: DeformableInputs,
                level_shapes: Sequence[Shape]) -> torch.Tensor:
        spatial = self.attn(query=self.query_norm(spatial), value=self.feat_norm(tokens),
                            identity=spatial, reference_points=inputs.reference_points,
                            spatial_shapes=inputs.spatial_shapes,
                            level_start_index=inputs.level_start_index)
        if self.ffn is not None:
            spatial = spatial + self.drop_path(self.ffn(self.ffn_norm(spatial), level_shapes))
        return spatial


class Interaction(nn.Module):
    """The adapter's part of one block group: an injector before the group's ViT blocks,
    an extractor (plus ``num_extra_extractors`` more) after them."""

    def __init__(self, dims: int, num_heads: int, num_points: int, value_ratio: float,
                 gamma_init: float, with_cffn: bool, cffn_ratio: float, drop_path: float,
                 num_extra_extractors: int = 0):
        super().__init__()
        self.injector = Injector(dims, num_heads, num_points, value_ratio, gamma_init)

        def extractor():
            return Extractor(dims, num_heads, num_points, value_ratio, with_cffn, cffn_ratio,
                             drop_path)

        self.extractor = extractor()
        self.extra_extractors = nn.ModuleList(
            [extractor() for _ in range(num_extra_extractors)])

    def inject(self, tokens: torch.Tensor, spatial: torch.Tensor,
               inputs: DeformableInputs) -> torch.Tensor:
        """``(B, N, D)`` ViT tokens updated from the ``(B, S, D)`` spatial tokens."""
        return self.injector(tokens, spatial, inputs)

    def extract(self, spatial: torch.Tensor, tokens: torch.Tensor, inputs: DeformableInputs,
                level_shapes: Sequence[Shape]) -> torch.Tensor:
        """``(B, S, D)`` spatial tokens updated from the ``(B, N, D)`` ViT tokens."""
        for extractor in [self.extractor, *self.extra_extractors]:
            spatial = extractor(spatial, tokens, inputs, level_shapes)
        return spatial


def _vit_adapter_init(module: nn.Module) -> None:
    """ViT-Adapter's init: trunc-normal Linear, unit norms, He (fan-out) convs."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm)):
        if module.weight is not None:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
        fan_out //= module.groups
        nn.init.normal_(module.weight, std=(2.0 / fan_out)**0.5)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def default_interaction_indexes(num_layers: int, num_groups: int = 4) -> List[List[int]]:
    """``[first, last]`` block of ``num_groups`` contiguous, near-equal groups.

    12 blocks -> ``[[0, 2], [3, 5], [6, 8], [9, 11]]`` (ViT-Adapter-Ti/S/B).
    """
    num_groups = min(num_groups, num_layers)
    bounds = [round(k * num_layers / num_groups) for k in range(num_groups + 1)]
    return [[bounds[k], bounds[k + 1] - 1] for k in range(num_groups)]


# ---------------------------------------------------------------------------- adapter
@refuses_switches(final_norm=(
    "that is a plain-ViT switch (MPVGViT). Here the ViT output's Last LN is "
    'vit_output_norm (True/False) and where LN\'\'(pos_0) enters is last_ln_pe_port, one '
    f'of {LAST_LN_PE_PORTS}, e.g. --cfg-options model.backbone.vit_output_norm=False.'))
class MPVGViTAdapter(MPVGViT):
    """ViT-Adapter around an :class:`MPVGViT` (any PE structure) for mmdet / mmseg.

    Images ``(B, 3, H, W)`` -> a tuple of four ``(B, D, ceil(H/s), ceil(W/s))`` maps,
    ``s = 4, 8, 16, 32`` (``D = embed_dims``; use ``in_channels=[D] * 4`` in the FPN /
    UPerHead). ``H, W`` need only be multiples of 16 (the patch size), or anything with
    ``pad_to_patch=True`` (the default here; the ViT zero-pads bottom/right and the
    spatial prior's ceil-rounded maps match its patch grid).

    **It is an MPVGViT** (a subclass), so the ViT's parameters keep the classifier's
    names (``patch_embed.*``, ``pos_embed``, ``blocks.*``, ``pe.*``, ``norm.*``) and a
    classification checkpoint of mmpretrain's ``ImageClassifier`` loads with::

        init_cfg=dict(type='Pretrained', checkpoint='cls.pth', prefix='backbone.')

    The keys reported missing are then only the adapter's own modules
    (``spatial_prior``, ``level_embed``, ``interactions``, ``stride4_up``,
    ``output_norms``); ``head.*`` is filtered out by the prefix.

    **No class token** (ViT-Adapter interacts with patch tokens only): the inner ViT is
    always built with ``with_cls_token=False``, also for the ``default``/``lape``
    presets whose classifiers have one. Loading such a checkpoint, its ``cls_token`` is
    ignored (unexpected key) and MPVGViT's load hook drops the class row of ``pos_embed``.
    Since every ``LN'`` acts per token, running the ``LN'`` chain on the patch rows alone
    gives exactly the patch rows the classifier computed: the layer-wise PE stays aligned.

    **MPVG's Last-LN PE** (``last_ln_pe_port``; the paper does not say where it enters
    ViT-Adapter). By default the ViT's contribution to the outputs is its Last LN applied
    to the final tokens, ``LN_last(x_L)`` (ViT-Adapter proper has no final norm, see
    ``vit_output_norm`` below; we apply it so that the PE term enters exactly as in the
    classifier), as a stride-16 map that is resized to strides 4, 8, 32. Then:

    * ``'stride16'`` (default, the natural port: the ViT's own output is its stride-16
      level): the stride-16 output uses ``MPVGViT.forward_last_ln``, i.e. ``LN_last(x_L) + LN''(pos_0)``
      (with ``pos_0`` resampled to the input's patch grid); the other strides get
      ``LN_last(x_L)`` only.
    * ``'all_levels'``: ``LN_last(x_L) + LN''(pos_0)`` is resized to every stride.
    * ``'none'``: no Last-LN PE; the inner ViT is built without ``LN''`` (so no unused
      parameter under DDP; a checkpoint's ``pe.last_norm.*`` is ignored). This is the
      same network as the structure without ``last_ln_pos`` (MPVG -> PVG).

    Presets without a Last-LN PE (default, lape, pvg) are unaffected by the flag.

    **The official ViT-Adapter structure** (``czczup/ViT-Adapter``, ``detection/`` and
    ``segmentation/`` ``ViTAdapter`` on ``TIMMVisionTransformer``) differs from the
    defaults above in three places, each a switch here (defaults: ours):

    * ``vit_output_norm=False``: the ViT tokens enter the four outputs raw, as the official
      adapter (it builds no final norm); the inner ViT then has no Last LN (``norm`` is an
      identity, a checkpoint's ``norm.*`` is an unexpected key). With an MPVG structure,
      ``last_ln_pe_port`` still says where ``LN''(pos_0)`` is added, now to the raw tokens:
      ``'stride16'`` (the default), ``'all_levels'``, or ``'none'``. The paper does not
      say which; the demo study (``tools/analysis_tools/switch_study.py --switch
      last_ln_pe_port``, ``docs/studies/last_ln_pe_port_study.json``, README "ViT-Adapter:
      where the Last-LN PE goes") measures them in this form, and all three stay
      selectable;
    * ``window_padding='qkv'``: window-attention blocks zero-pad q, k, v after the qkv
      projection (official ``WindowedAttention``: padded keys have logit 0 and value 0),
      instead of padding the normed tokens before it (``'tokens'``: padded keys/values
      equal the qkv bias, as detectron2's ViTDet). Windows that contain padding (a side of
      the patch grid that is not a multiple of ``window_size``) differ between the two;
    * ``layer_scale=True``: every block has ``gamma1`` / ``gamma2`` ``(D,)`` on its
      attention / MLP branch (the official ``layer_scale``, on by default there, trained
      from 1); ``mpvg_mm.models.checkpoint_layout.fold_layer_scale`` folds them exactly
      into ``attn.proj`` / ``mlp.fc2`` for a model built without them.

    * ``vit_feature='per_group'``: output level ``i`` (strides 4, 8, 16, 32) adds the ViT
      tokens after interaction group ``i`` (the official ``segmentation/`` adapter; needs
      4 groups), instead of the final tokens at every level (``'last'``: ours and the
      official ``detection/`` adapter).

    ``pe_mode='default'`` with these switches computes the official ViT-Adapter (a
    converted official checkpoint reproduces the official outputs,
    ``tests/models/test_vit_adapter_official.py``;
    ``tools/model_converters/convert.py --layout vit-adapter``).

    Layer-wise lr decay: :meth:`get_layer_depth` (inherited) puts every adapter module at
    the top depth (full lr), like the Last LN.

    Args (ViT; see :class:`MPVGViT`):
        arch, pe_mode, pe_cfg, img_size, pretrained_img_size (checkpoints that do not record
        their grid), patch_size (must be 16), in_channels, qkv_bias,
        drop_path_rate (also the extractors' ConvFFN drop path, as in ViT-Adapter),
        with_cp (also checkpoints injectors and extractors), frozen_stages, init_cfg.
        with_cls_token: must be None or False (see above).
        pad_to_patch: default True here.

    Args (adapter; defaults are ViT-Adapter-Ti's):
        interaction_indexes: ``[[first, last], ...]`` contiguous block groups covering
            every block in order; None splits the blocks into 4 near-equal groups
            (DeiT-Ti: ``[[0, 2], [3, 5], [6, 8], [9, 11]]``).
        spatial_prior_channels: width of the spatial prior's stem (64).
        deform_num_heads: heads of the deformable attentions (6).
        deform_num_points: sampling points per head and level (4).
        deform_value_ratio: value projection width / ``D`` (1.0).
        with_cffn: ConvFFN in the extractors (True).
        cffn_ratio: ConvFFN hidden width / ``D`` (0.25).
        num_extra_extractors: extractors added after the last group (2).
        injector_gamma_init: initial injector gate (0.0).
        norm_cfg: norm of the spatial prior and of the four outputs
            (``dict(type='SyncBN')``; ``dict(type='BN')`` on one device / CPU).
        last_ln_pe_port: ``'stride16' | 'all_levels' | 'none'`` (above).
        vit_output_norm: apply the ViT's Last LN to the tokens that enter the outputs
            (True; the official adapter: False). See "The official ViT-Adapter structure".
        window_padding: ``'tokens'`` (default) or ``'qkv'`` (official).
        layer_scale: per-block ``gamma1`` / ``gamma2`` (False; official: True).
        vit_feature: ``'last'`` (default; official detection) or ``'per_group'``
            (official segmentation).
        window_size, window_block_indexes: window attention in the given ViT blocks
            (ViT-Adapter-Ti on COCO: 14 on all blocks but 2, 5, 8, 11); see ``MPVGViT``.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'deit-tiny',
                 pe_mode: str = 'mpvg',
                 pe_cfg: Optional[dict] = None,
                 with_cls_token: Optional[bool] = None,
                 img_size: Optional[Union[int, Sequence[int]]] = None,
                 patch_size: Optional[int] = None,
                 in_channels: int = 3,
                 qkv_bias: bool = True,
                 pad_to_patch: bool = True,
                 pretrained_img_size: Optional[Union[int, Sequence[int]]] = None,
                 drop_path_rate: float = 0.0,
                 window_size: int = 0,
                 window_block_indexes: Sequence[int] = (),
                 with_cp: bool = False,
                 frozen_stages: int = -1,
                 interaction_indexes: Optional[Sequence[Sequence[int]]] = None,
                 spatial_prior_channels: int = 64,
                 deform_num_heads: int = 6,
                 deform_num_points: int = 4,
                 deform_value_ratio: float = 1.0,
                 with_cffn: bool = True,
                 cffn_ratio: float = 0.25,
                 num_extra_extractors: int = 2,
                 injector_gamma_init: float = 0.0,
                 norm_cfg: dict = dict(type='SyncBN'),
                 last_ln_pe_port: str = 'stride16',
                 vit_output_norm: bool = True,
                 window_padding: str = 'tokens',
                 layer_scale: bool = False,
                 vit_feature: str = 'last',
                 init_cfg: Optional[Union[dict, list]] = None):
        if with_cls_token:
            raise ValueError('MPVGViTAdapter interacts with patch tokens only: leave '
                             'with_cls_token unset (a class-token checkpoint still loads; '
                             'its class row is dropped).')
        if last_ln_pe_port not in LAST_LN_PE_PORTS:
            raise ValueError(f'unknown last_ln_pe_port {last_ln_pe_port!r}; choose one of '
                             f'{LAST_LN_PE_PORTS}.')
        if window_padding not in WINDOW_PADDINGS:
            raise ValueError(f'unknown window_padding {window_padding!r}; choose one of '
                             f'{WINDOW_PADDINGS}.')
        if last_ln_pe_port == 'none':
            pe_cfg = dict(pe_cfg or {}, last_ln_pos=None)
        super().__init__(
            arch=arch, pe_mode=pe_mode, pe_cfg=pe_cfg, with_cls_token=False,
            out_type='featmap', img_size=img_size, patch_size=patch_size,
            in_channels=in_channels, qkv_bias=qkv_bias, pad_to_patch=pad_to_patch,
            pretrained_img_size=pretrained_img_size, drop_path_rate=drop_path_rate,
            window_size=window_size, window_block_indexes=window_block_indexes, with_cp=with_cp,
            frozen_stages=frozen_stages, init_cfg=init_cfg)
        # the outputs are always the four levels: MPVGViT's output selection does not apply
        del self.out_indices, self.out_type
        if self.patch_size != 16:
            raise ValueError(f'MPVGViTAdapter needs 16x16 patches (the ViT tokens are its '
                             f'stride-16 level), got patch_size={self.patch_size}.')
        self.last_ln_pe_port = last_ln_pe_port
        self.vit_output_norm = vit_output_norm
        if not vit_output_norm:
            self.norm = nn.Identity()  # the official adapter has no final norm
        for block in self.blocks:
            block.window_pad_after_qkv = window_padding == 'qkv'
            if layer_scale:
                block.enable_layer_scale()
        self.interaction_indexes = self._check_interaction_indexes(interaction_indexes)
        if vit_feature not in VIT_FEATURES:
            raise ValueError(f'unknown vit_feature {vit_feature!r}; choose one of '
                             f'{VIT_FEATURES}.')
        if vit_feature == 'per_group' and len(self.interaction_indexes) != 4:
            raise ValueError("vit_feature='per_group' adds group i's tokens to output level i: "
                             f'it needs 4 interaction groups, got {self.interaction_indexes}.')
        self.vit_feature = vit_feature

        D = self.embed_dims
        self.spatial_prior = SpatialPriorModule(in_channels, spatial_prior_channels, D,
                                                norm_cfg)
        self.level_embed = nn.Parameter(torch.zeros(NUM_SPATIAL_LEVELS, D))
        last = len(self.interaction_indexes) - 1
        self.interactions = nn.ModuleList([
            Interaction(D, deform_num_heads, deform_num_points, deform_value_ratio,
                        injector_gamma_init, with_cffn, cffn_ratio, drop_path_rate,
                        num_extra_extractors if i == last else 0)
            for i in range(len(self.interaction_indexes))
        ])
        self.stride4_up = nn.ConvTranspose2d(D, D, kernel_size=2, stride=2)
        self.output_norms = nn.ModuleList(
            [build_norm_layer(norm_cfg, D)[1] for _ in range(4)])
        self._init_adapter_weights(injector_gamma_init)

    # ------------------------------------------------------------------ construction
    def _check_interaction_indexes(self, indexes) -> List[List[int]]:
        if indexes is None:
            return default_interaction_indexes(self.num_layers)
        groups = [[int(first), int(last)] for first, last in indexes]
        expected_first = 0
        for first, last in groups:
            if first != expected_first or last < first:
                groups = None
                break
            expected_first = last + 1
        if not groups or expected_first != self.num_layers:
            raise ValueError(
                f'interaction_indexes={indexes} must be contiguous [first, last] groups '
                f'covering blocks 0..{self.num_layers - 1} in order (every block runs '
                'once, with its layer-wise PE), e.g. '
                f'{default_interaction_indexes(self.num_layers)}.')
        return groups

    def _init_adapter_weights(self, gamma_init: float) -> None:
        """ViT-Adapter's init of the adapter modules (the ViT keeps DeiT's init)."""
        for module in (self.spatial_prior, self.interactions, self.stride4_up,
                       self.output_norms):
            module.apply(_vit_adapter_init)
        for module in self.interactions.modules():
            if isinstance(module, MultiScaleDeformableAttention):
                module.init_weights()  # its own grid-shaped sampling-offset init
        nn.init.normal_(self.level_embed)
        for interaction in self.interactions:
            nn.init.constant_(interaction.injector.gamma, gamma_init)

    # ------------------------------------------------------------------ forward
    def _maybe_checkpoint(self, fn, *args):
        if self.with_cp and self.training:
            return cp.checkpoint(fn, *args, use_reentrant=False)
        return fn(*args)

    def _spatial_tokens(self, maps: Sequence[torch.Tensor]) -> torch.Tensor:
        """Stride-8/16/32 maps ``(B, D, h, w)`` -> ``(B, S, D)`` with level embeddings."""
        return torch.cat([map_to_tokens(m) + self.level_embed[i] for i, m in enumerate(maps)],
                         dim=1)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Images ``(B, 3, H, W)`` -> 4 maps ``(B, D, ceil(H/s), ceil(W/s))``, s=4/8/16/32."""
        prior = self.spatial_prior(x)
        level_shapes = [tuple(m.shape[-2:]) for m in prior[1:]]  # strides 8, 16, 32
        spatial = self._spatial_tokens(prior[1:])  # (B, S, D)
        tokens, grid, plan = self.prepare_tokens(x)  # (B, N, D), N = h16 * w16
        if tuple(grid) != level_shapes[1]:
            raise ValueError(
                f'the ViT patch grid {tuple(grid)} differs from the spatial prior\'s '
                f'stride-16 grid {level_shapes[1]} for input {tuple(x.shape[-2:])}: pad '
                f'inputs to multiples of 16 ({pad_divisor_hint(16)}) or build with '
                'pad_to_patch=True.')
        inject_inputs = deformable_inputs([grid], level_shapes, x.device)
        extract_inputs = deformable_inputs(level_shapes, [grid], x.device)

        group_tokens = []
        for (first, last), interaction in zip(self.interaction_indexes, self.interactions):
            tokens = self._maybe_checkpoint(interaction.inject, tokens, spatial,
                                            inject_inputs)
            for index in range(first, last + 1):
                tokens = self.forward_block(index, tokens, plan, grid)
            spatial = self._maybe_checkpoint(interaction.extract, spatial, tokens,
                                             extract_inputs, level_shapes)
            group_tokens.append(tokens)
        if self.vit_feature == 'last':
            group_tokens = [tokens] * 4
        return self._outputs(prior[0], spatial, level_shapes, group_tokens, grid, plan)

    def _vit_maps(self, group_tokens: Sequence[torch.Tensor], grid: Shape,
                  plan) -> Tuple[torch.Tensor, ...]:
        """The ViT's contribution per output stride, ``(B, D, h16, w16)`` each, in the
        order 4/8/16/32, from ``group_tokens[i]`` for level ``i`` (the Last LN unless
        ``vit_output_norm=False``; the Last-LN PE placed per ``last_ln_pe_port``)."""
        with_pe = plan.last is not None and self.last_ln_pe_port != 'none'
        maps = {}  # (group, with PE) -> map: the 'last' feature computes each once
        for level, tokens in enumerate(group_tokens):
            pe = with_pe and (self.last_ln_pe_port == 'all_levels' or level == 2)
            key = (id(tokens), pe)
            if key not in maps:
                maps[key] = tokens_to_map(
                    self.forward_last_ln(tokens, plan) if pe else self.norm(tokens), grid)
            maps[level] = maps[key]
        return tuple(maps[level] for level in range(len(group_tokens)))

    def _outputs(self, stride4: torch.Tensor, spatial: torch.Tensor,
                 level_shapes: Sequence[Shape], group_tokens: Sequence[torch.Tensor],
                 grid: Shape, plan) -> Tuple[torch.Tensor, ...]:
        levels = spatial.split([h * w for h, w in level_shapes], dim=1)
        stride8, stride16, stride32 = [
            tokens_to_map(level, shape) for level, shape in zip(levels, level_shapes)
        ]
        # 2*h8 >= h4 >= 2*h8 - 1: crop the up-sampled map's extra bottom/right row
        h4, w4 = stride4.shape[-2:]
        stride4 = stride4 + self.stride4_up(stride8)[..., :h4, :w4]
        maps = (stride4, stride8, stride16, stride32)
        outs = []
        for feature_map, vit_map, norm in zip(maps, self._vit_maps(group_tokens, grid, plan),
                                              self.output_norms):
            outs.append(norm(feature_map + resize_to(vit_map, feature_map.shape[-2:])))
        return tuple(outs)
