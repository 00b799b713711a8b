"""``SimpleFeaturePyramid``: ViTDet's multi-scale pyramid from a single stride-16 map.

Li et al., "Exploring Plain Vision Transformer Backbones for Object Detection" (ECCV
2022): a plain ViT keeps one stride-16 map; the pyramid is built from it alone by
up-sampling (transposed convs), identity and down-sampling (max-pool), then a 1x1 and a
3x3 conv with a channels-first LayerNorm each. Use it with a plain :class:`MPVGViT`
(``out_type='featmap'``) instead of the adapter.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of ``(B, C, H, W)`` maps (``LN2d``), at every pixel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def build_norm_2d(norm_cfg: dict, channels: int) -> nn.Module:
    """``type='LN2d'`` -> :class:`LayerNorm2d`; any other type through mmcv (BN, GN...)."""
    cfg = dict(norm_cfg)
    if cfg.pop('type') == 'LN2d':
        return LayerNorm2d(channels, **cfg)
    return build_norm_layer(norm_cfg, channels)[1]


class SimpleFeaturePyramid(BaseModule):
    """ViTDet's simple feature pyramid.

    Input: the backbone's outputs (a tuple/list, whose **last** entry is used) or one
    tensor, ``(B, C_in, h, w)`` at stride 16. Output: a tuple of ``num_outs`` maps
    ``(B, out_channels, ...)``; for the default scales, strides 4, 8, 16, 32 (sizes
    ``4h, 2h, h, ceil(h/2)``), plus stride 64 (``ceil``) per extra level: a stride-2
    sub-sampling (max-pool of kernel 1) of the previous one, as ViTDet's extra level for
    the RPN (``num_outs=5`` for Mask R-CNN).

    Per scale factor, before the 1x1 and 3x3 convs (each followed by ``norm_cfg``):

    * 4.0: ``ConvT(C, C/2, 2, 2) -> LN2d -> GELU -> ConvT(C/2, C/4, 2, 2)``
    * 2.0: ``ConvT(C, C/2, 2, 2)``
    * 1.0: identity
    * 0.5: ``MaxPool(2, 2)`` (``ceil_mode``: odd sizes keep their last row/column)

    Args:
        in_channels: ``C_in`` (the ViT's embed dims).
        out_channels: channels of every output (256).
        scale_factors: a subset of ``(4.0, 2.0, 1.0, 0.5)``, in the output order.
        num_outs: number of outputs, ``>= len(scale_factors)``; the extra ones are
            stride-2 sub-samplings of the last output.
        norm_cfg: norm of the convs and of the 4x branch (``dict(type='LN2d')``,
            eps 1e-6; other types go through mmcv's ``build_norm_layer``).
        init_cfg: mmengine init config.
    """

    SUPPORTED_SCALES = (4.0, 2.0, 1.0, 0.5)

    def __init__(self,
                 in_channels: int = 768,
                 out_channels: int = 256,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 num_outs: int = 5,
                 norm_cfg: dict = dict(type='LN2d', eps=1e-6),
                 init_cfg: Optional[Union[dict, list]] = None):
        super().__init__(init_cfg=init_cfg)
        self.scale_factors = tuple(float(s) for s in scale_factors)
        unknown = [s for s in self.scale_factors if s not in self.SUPPORTED_SCALES]
        if unknown or not self.scale_factors:
            raise ValueError(f'scale_factors={tuple(scale_factors)}: each must be one of '
                             f'{self.SUPPORTED_SCALES}.')
        if num_outs < len(self.scale_factors):
            raise ValueError(f'num_outs={num_outs} is smaller than the '
                             f'{len(self.scale_factors)} scale factors.')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.resamplers = nn.ModuleList()
        self.lateral_convs = nn.ModuleList()
        self.output_convs = nn.ModuleList()
        for scale in self.scale_factors:
            resampler, channels = self._resampler(scale, in_channels, norm_cfg)
            self.resamplers.append(resampler)
            self.lateral_convs.append(nn.Sequential(
                nn.Conv2d(channels, out_channels, 1, bias=False),
                build_norm_2d(norm_cfg, out_channels)))
            self.output_convs.append(nn.Sequential(
                nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
                build_norm_2d(norm_cfg, out_channels)))
        self._init_convs()

    @staticmethod
    def _resampler(scale: float, channels: int, norm_cfg: dict) -> Tuple[nn.Module, int]:
        """The branch that brings the stride-16 map to ``16 / scale``, and its width."""
        if scale == 4.0:
            return nn.Sequential(
                nn.ConvTranspose2d(channels, channels // 2, 2, stride=2),
                build_norm_2d(norm_cfg, channels // 2), nn.GELU(),
                nn.ConvTranspose2d(channels // 2, channels // 4, 2, stride=2)), channels // 4
        if scale == 2.0:
            return nn.ConvTranspose2d(channels, channels // 2, 2, stride=2), channels // 2
        if scale == 1.0:
            return nn.Identity(), channels
        return nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True), channels

    def _init_convs(self) -> None:
        """Uniform (Caffe2 "Xavier") fill for the 1x1/3x3 convs, as ViTDet."""
        for conv in self.modules():
            if isinstance(conv, nn.Conv2d):
                nn.init.kaiming_uniform_(conv.weight, a=1)
                if conv.bias is not None:
                    nn.init.zeros_(conv.bias)

    def forward(self, inputs: Union[torch.Tensor, Sequence[torch.Tensor]]
                ) -> Tuple[torch.Tensor, ...]:
        x = inputs if torch.is_tensor(inputs) else inputs[-1]
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'SimpleFeaturePyramid expects a (B, {self.in_channels}, h, w) '
                             f'stride-16 map, got {tuple(x.shape)}.')
        outs = [
            output_conv(lateral_conv(resampler(x))) for resampler, lateral_conv, output_conv
            in zip(self.resamplers, self.lateral_convs, self.output_convs)
        ]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)
