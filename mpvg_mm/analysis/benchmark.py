"""Speed, memory, parameters and FLOPs of the PE structures against reference ViTs.

Models compared per architecture (each one a full classifier ``(B, 3, S, S) -> (B, C)``):

* ``default``, ``lape``, ``pvg``, ``mpvg``: :class:`MPVGViT` presets + a linear head;
* ``mpvg-folded``: MPVG after inference folding (``pe_cfg=dict(last_ln_pos=None)``, the
  Last-LN PE folded into the head bias; structurally PVG);
* ``mmpretrain-vit``: mmpretrain's ``VisionTransformer`` (class token) + a linear head;
  it calls ``F.scaled_dot_product_attention`` on torch >= 2 (its fastest path);
* ``timm-vit``: timm's ``VisionTransformer`` with fused attention forced on (when timm is
  installed).

Swin archs (``swin-tiny``, ``swin-small``, ``swin-base``, or a dict with ``depths``): the
presets are :class:`MPVGSwin` (GAP in the backbone, fused window attention) and the
baseline ``mmpretrain-swin`` is mmpretrain's ``SwinTransformer`` with the absolute PE on
(the paper's Default) + GAP + a linear head; the ratios read ``vs_default`` and
``vs_mmpretrain`` (against it). Small stage grids are padded to the window in both.

CeiT archs (``ceit-tiny``, ``ceit-small``, ``ceit-base``, or a dict with
``stem_channels``): the presets are :class:`MPVGCeiT` (+ folded MPVG); no installed
toolbox has a CeiT to compare with, so the ratios read ``vs_default`` only.
T2T-ViT archs (``t2t-vit-7``, or a dict with ``token_dims``): the presets are
:class:`MPVGT2TViT`; no toolbox builds its Performer tokenizer, so the only ratio is
``vs_default``. The families are one table, :data:`ARCH_FAMILIES` (per family: the arch
names and aliases, our backbone builder, the peer models, the ratio bases and the arch
resolver; :func:`arch_family` picks the entry): a new backbone family is a new entry.

Measurement protocol (:func:`run_benchmark`):

* the same random input batch for every model; ``warmup`` untimed rounds, then ``iters``
  timed rounds; in every round each model runs one forward and one forward+backward, in
  an order rotated by one model per round, so machine noise hits all models alike;
  throughput = batch / median step time; a speed ratio against a base model is the
  median over rounds of the per-round ratio of step times (:func:`paired_speed_ratio`).
  Forward: eval mode under
  ``torch.inference_mode``. Forward+backward: train mode, cross-entropy on random labels,
  gradients cleared (``set_to_none``) before each step, no optimizer step. CUDA steps are
  bracketed by ``torch.cuda.synchronize``. ``--amp``: ``torch.autocast`` (fp16 on CUDA,
  bf16 on CPU).
* peak memory, one extra step per model and mode after the timing: CUDA:
  ``torch.cuda.max_memory_allocated`` during the step minus ``memory_allocated`` before it
  (activations, gradients and workspaces; the weights are not included). CPU (Linux):
  peak RSS growth during the step: freed heap memory is returned to the OS
  (``malloc_trim``), the kernel's high-water mark is reset (``/proc/self/clear_refs``)
  and ``VmHWM - VmRSS(before)`` is read from ``/proc/self/status``; approximate (allocator
  and oneDNN caches), ``None`` where ``/proc`` does not allow it.
* parameters: ``mmengine.analysis.parameter_count`` of the models built for ``img_size``
  (the PE tables' rows depend on it: ViT, CeiT, T2T-ViT, Swin); FLOPs: mmengine's ``FlopAnalyzer``
  (what ``get_model_complexity_info`` runs) for one image, with one handle added for
  ``aten::scaled_dot_product_attention`` (``B*H*N*M*(d_qk + d_v)``), which mmengine does
  not count. Like fvcore, mmengine counts a multiply-add as one "flop": ``flops`` are
  MACs. Achieved FLOP/s = ``2 * flops * images/s`` (forward) and ``6 * flops * images/s``
  (forward+backward, the usual 3x estimate), compared with the machine's measured peak:
  the best of a few large square matmuls (fp32; with ``--amp`` also the AMP dtype).

This module measures and returns numbers; the command line, the Markdown table and the
JSON file are ``tools/analysis_tools/benchmark.py``.
"""
import ctypes
import gc
import platform
import statistics
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models import ARCH_ALIASES, ARCH_SETTINGS, MPVGSwin, MPVGT2TViT, MPVGViT, resolve_arch
from ..models.backbones.mpvg_ceit import (CEIT_ARCH_ALIASES, CEIT_ARCH_SETTINGS, MPVGCeiT,
                                          resolve_ceit_arch)
from ..models.backbones.mpvg_t2t_vit import T2T_ARCH_SETTINGS, resolve_t2t_arch

#: ``(model name, PE kwargs)`` of our benchmarked backbones, in table order: the four
#: presets and MPVG after inference folding
OUR_VARIANTS = (*((name, dict(pe_mode=name)) for name in ('default', 'lape', 'pvg', 'mpvg')),
                ('mpvg-folded', dict(pe_mode='mpvg', pe_cfg=dict(last_ln_pos=None))))
OUR_PRESETS = tuple(name for name, _ in OUR_VARIANTS)
#: the ratio columns of ViT archs: ratio key -> baseline model in the results
RATIO_BASES = {'vs_default': 'default', 'vs_mmpretrain': 'mmpretrain-vit',
               'vs_timm': 'timm-vit'}
#: Swin arch names -> mmpretrain's Swin arch names
SWIN_ARCHS = {'swin-tiny': 'tiny', 'swin-small': 'small', 'swin-base': 'base'}
RATIO_METRICS = ('fwd_img_s', 'fwd_bwd_img_s', 'peak_mem_fwd_mb', 'peak_mem_fwd_bwd_mb',
                 'params', 'flops')
#: ratios of these are paired per round (:func:`paired_speed_ratio`)
SPEED_METRICS = ('fwd_img_s', 'fwd_bwd_img_s')

Arch = Union[str, dict]


# --------------------------------------------------------------------------- models
class ClassifierNet(nn.Module):
    """``backbone -> (B, D) feature -> Linear -> (B, num_classes)``."""

    def __init__(self, backbone: nn.Module, dims: int, num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(dims, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(x)
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]
        return self.head(feats)


class _GAP(nn.Module):
    """``(B, C, h, w)`` feature maps (the last one) -> ``(B, C)``."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)[-1].mean((2, 3))


def _vit_backbone(arch: Arch, img_size: int, **pe_kwargs) -> nn.Module:
    settings = resolve_arch(arch)
    return MPVGViT(arch={k: settings[k] for k in ('embed_dims', 'num_layers', 'num_heads',
                                                   'mlp_ratio', 'patch_size')},
                   img_size=img_size, **pe_kwargs)


def _mmpretrain_vit(arch: Arch, img_size: int, num_classes: int) -> nn.Module:
    """mmpretrain's ViT with our arch's widths (for DeiT-Ti/S/B: its own ``deit-*``
    arch-zoo entries, which hold exactly these four numbers) + a linear head."""
    from mmpretrain.models import VisionTransformer
    settings = resolve_arch(arch)
    widths = dict(embed_dims=settings['embed_dims'], num_layers=settings['num_layers'],
                  num_heads=settings['num_heads'],
                  feedforward_channels=int(settings['embed_dims'] * settings['mlp_ratio']))
    vit = VisionTransformer(arch=widths, img_size=img_size, patch_size=settings['patch_size'],
                            out_type='cls_token', with_cls_token=True, final_norm=True)
    return ClassifierNet(vit, settings['embed_dims'], num_classes)


def _timm_vit(arch: Arch, img_size: int, num_classes: int) -> Optional[nn.Module]:
    """timm's ViT with our arch's widths and its fused attention forced on; None without
    timm."""
    try:
        from timm.models.vision_transformer import VisionTransformer
    except ImportError:
        return None
    settings = resolve_arch(arch)
    model = VisionTransformer(img_size=img_size, patch_size=settings['patch_size'],
                              embed_dim=settings['embed_dims'], depth=settings['num_layers'],
                              num_heads=settings['num_heads'], mlp_ratio=settings['mlp_ratio'],
                              num_classes=num_classes, class_token=True, global_pool='token')
    for module in model.modules():  # force timm's fused (SDPA) attention path
        if hasattr(module, 'fused_attn'):
            module.fused_attn = True
    return model


def _swin_arch(arch: Arch) -> Arch:
    """mmpretrain's Swin arch (name or dict) for one of ours."""
    return SWIN_ARCHS[arch.lower()] if isinstance(arch, str) else arch


def _swin_backbone(arch: Arch, img_size: int, **pe_kwargs) -> nn.Module:
    return MPVGSwin(arch=_swin_arch(arch), img_size=img_size, pad_small_map=True,
                    out_type='avg_featmap', **pe_kwargs)


def _mmpretrain_swin(arch: Arch, img_size: int, num_classes: int) -> nn.Module:
    """mmpretrain's ``SwinTransformer`` with the absolute PE on (the paper's Default) +
    GAP + a linear head."""
    from mmpretrain.models import SwinTransformer
    peer = SwinTransformer(arch=_swin_arch(arch), img_size=img_size, pad_small_map=True,
                           use_abs_pos_embed=True)
    return ClassifierNet(_GAP(peer), peer.num_features[-1], num_classes)


def _embed_dims(backbone: nn.Module) -> int:
    return backbone.embed_dims


class ArchFamily(NamedTuple):
    """One backbone family of the benchmark (an entry of :data:`ARCH_FAMILIES`).

    Attributes:
        backbone_type: the registered name of our backbone (configs' ``backbone.type``).
        names: the arch names it accepts (lower case, aliases included) -> canonical name.
        dict_key: the key that marks an arch dict as this family's (None: the fallback,
            which takes every arch the others do not).
        backbone: ``(arch, img_size, **pe_kwargs) -> backbone`` of our models.
        feature_dims: ``backbone -> int``, the width of its pooled output (the head's input).
        peers: peer model name -> ``(arch, img_size, num_classes) -> classifier`` (or None:
            its library is not installed), built after ours in this order.
        ratio_bases: the ratio columns, ``{'vs_...': model name}``.
        settings: the resolver: ``arch -> its full settings`` as the results record them.
        speed_targets: the least speed ratio (forward and forward+backward) every preset
            of ours must reach per ratio column (:func:`check_speed_targets`).
    """
    backbone_type: str
    names: Dict[str, str]
    dict_key: Optional[str]
    backbone: Callable[..., nn.Module]
    feature_dims: Callable[[nn.Module], int]
    peers: Dict[str, Callable[[Arch, int, int], Optional[nn.Module]]]
    ratio_bases: Dict[str, str]
    settings: Callable[[Arch], dict]
    speed_targets: Dict[str, float]


def _canonical(settings: Dict[str, dict], aliases: Dict[str, str]) -> Dict[str, str]:
    return {**{name: name for name in settings}, **aliases}


#: The backbone families, tried in this order; the ViT, last, takes every other arch.
ARCH_FAMILIES: Dict[str, ArchFamily] = {
    'swin': ArchFamily(
        backbone_type='MPVGSwin', names=_canonical(SWIN_ARCHS, {}), dict_key='depths',
        backbone=_swin_backbone, feature_dims=lambda backbone: backbone.stage_dims[-1],
        peers={'mmpretrain-swin': _mmpretrain_swin},
        ratio_bases={'vs_default': 'default', 'vs_mmpretrain': 'mmpretrain-swin'},
        settings=lambda arch: dict(arch=_swin_arch(arch)),
        speed_targets={'vs_default': 0.98, 'vs_mmpretrain': 1.0}),
    # no installed toolbox has a CeiT: ratios against our Default only
    'ceit': ArchFamily(
        backbone_type='MPVGCeiT', names=_canonical(CEIT_ARCH_SETTINGS, CEIT_ARCH_ALIASES),
        dict_key='stem_channels',
        backbone=lambda arch, img_size, **kw: MPVGCeiT(arch=arch, img_size=img_size, **kw),
        feature_dims=_embed_dims, peers={}, ratio_bases={'vs_default': 'default'},
        settings=resolve_ceit_arch, speed_targets={'vs_default': 0.98}),
    # no toolbox builds T2T-ViT's Performer tokenizer: ratios against our Default only
    't2t': ArchFamily(
        backbone_type='MPVGT2TViT', names=_canonical(T2T_ARCH_SETTINGS, {}),
        dict_key='token_dims',
        backbone=lambda arch, img_size, **kw: MPVGT2TViT(arch=arch, img_size=img_size, **kw),
        feature_dims=_embed_dims, peers={}, ratio_bases={'vs_default': 'default'},
        settings=resolve_t2t_arch, speed_targets={'vs_default': 0.98}),
    'vit': ArchFamily(
        backbone_type='MPVGViT', names=_canonical(ARCH_SETTINGS, ARCH_ALIASES), dict_key=None,
        backbone=_vit_backbone, feature_dims=_embed_dims,
        peers={'mmpretrain-vit': _mmpretrain_vit, 'timm-vit': _timm_vit},
        ratio_bases=RATIO_BASES, settings=resolve_arch, speed_targets={'vs_default': 0.98}),
}


def arch_family(arch: Arch) -> ArchFamily:
    """The :data:`ARCH_FAMILIES` entry of an arch: by name (any case, aliases included)
    or, for a dict, by its family's key (``depths``: Swin, ``stem_channels``: CeiT,
    ``token_dims``: T2T-ViT); anything else is a ViT (whose resolver rejects an unknown
    name, naming the known ones)."""
    for family in ARCH_FAMILIES.values():
        if family.dict_key is None or (arch.lower() in family.names if isinstance(arch, str)
                                       else family.dict_key in arch):
            return family
    raise AssertionError('the last entry of ARCH_FAMILIES takes every arch')


def build_models(arch: Arch, img_size: int, num_classes: int = 1000,
                 include_timm: bool = True) -> Dict[str, nn.Module]:
    """The benchmarked classifiers for one arch, keyed by model name (module docstring):
    ours (:data:`OUR_VARIANTS`), then the family's peers (``timm-*`` only with
    ``include_timm``; one whose library is not installed is left out)."""
    family = arch_family(arch)
    models: Dict[str, nn.Module] = {}
    for name, pe_kwargs in OUR_VARIANTS:
        backbone = family.backbone(arch, img_size, **pe_kwargs)
        models[name] = ClassifierNet(backbone, family.feature_dims(backbone), num_classes)
    for name, build in family.peers.items():
        if include_timm or not name.startswith('timm-'):
            peer = build(arch, img_size, num_classes)
            if peer is not None:
                models[name] = peer
    return models


# --------------------------------------------------------------------------- FLOPs
def _sdpa_flop_jit(inputs, outputs) -> int:
    """MACs of ``aten::scaled_dot_product_attention``: q (.., N, d), k (.., M, d),
    v (.., M, dv) -> ``prod(batch dims) * N * M * (d + dv)``."""
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(inputs[i]) for i in range(3))
    batch = 1
    for s in q[:-2]:
        batch *= s
    return batch * q[-2] * k[-2] * (q[-1] + v[-1])


def count_complexity(model: nn.Module, img_size: int) -> dict:
    """``{'params': int, 'flops': int}`` for one ``(1, 3, S, S)`` image (flops = MACs,
    mmengine's convention)."""
    from mmengine.analysis import FlopAnalyzer, parameter_count
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        image = torch.randn(1, 3, img_size, img_size, device=device)
        analyzer = FlopAnalyzer(model, (image, ))
        analyzer.set_op_handle('aten::scaled_dot_product_attention', _sdpa_flop_jit)
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        flops = int(analyzer.total())
    finally:
        model.train(was_training)
    return dict(params=int(parameter_count(model)['']), flops=flops)


def config_input_shape(cfg) -> Tuple[int, int]:
    """The ``(H, W)`` one test image has when it reaches a config's model.

    * mmpretrain: the backbone's ``img_size`` (the test pipeline's crop);
    * mmdet: the test ``Resize`` scale read as ``(short, long)`` bounds, the largest input
      it lets through (``(1333, 800)`` -> 800 x 1333), padded to ``pad_size_divisor``;
    * mmseg: the sliding window (``test_cfg.crop_size``) or the data preprocessor's
      ``size`` (whole-image inference): what one forward pass sees.

    Raises:
        ValueError: when the config states no such size.
    """
    scope = cfg.get('default_scope')
    model = cfg.model
    if scope == 'mmpretrain':
        size = model.backbone.get('img_size')
        if size is None:  # the arch's (the family's resolver, the ViT's by default)
            kind = str(model.backbone.get('type')).split('.')[-1]
            resolve = next((f.settings for f in ARCH_FAMILIES.values()
                            if f.backbone_type == kind), resolve_arch)
            size = resolve(model.backbone.arch).get('img_size')
            if size is None:
                raise ValueError(f'the config\'s backbone ({kind}) sets no img_size and its '
                                 'arch has none: set model.backbone.img_size or pass '
                                 'input_shape')
        return (size, size) if isinstance(size, int) else tuple(size)
    if scope == 'mmdet':
        resize = [t for t in cfg.test_dataloader.dataset.pipeline if t['type'] == 'Resize']
        if not resize:
            raise ValueError('the mmdet config has no Resize in its test pipeline: pass '
                             'input_shape')
        long, short = sorted(resize[0]['scale'], reverse=True)
        div = model.data_preprocessor.get('pad_size_divisor', 1)
        return (-(-short // div) * div, -(-long // div) * div)
    if scope == 'mmseg':
        test_cfg = model.get('test_cfg') or {}
        size = (test_cfg.get('crop_size') if test_cfg.get('mode') == 'slide' else
                model.data_preprocessor.get('size'))
        if size is None:
            raise ValueError('the mmseg config sets no test crop_size or data_preprocessor '
                             'size: pass input_shape')
        return tuple(size)
    raise ValueError(f'default_scope={scope!r}: one of mmpretrain, mmdet, mmseg expected')


def count_config_complexity(cfg, input_shape: Optional[Tuple[int, int]] = None) -> dict:
    """``{'params', 'flops', 'input_shape'}`` of a config's whole model (classifier,
    detector or segmentor) on one image of ``input_shape`` (default
    :func:`config_input_shape`), flops = MACs as mmengine's ``FlopAnalyzer`` counts them
    (+ SDPA). A detector runs as mmdet's ``tools/analysis_tools/get_flops.py`` runs it:
    ``forward(inputs, data_samples, mode='tensor')`` with the image's meta; its RoI
    heads see the proposals an untrained RPN gives (up to ``test_cfg.rpn.max_per_img``).
    """
    from functools import partial

    from mmengine.analysis import FlopAnalyzer, parameter_count

    from mpvg_mm.registry import build_model
    height, width = input_shape or config_input_shape(cfg)
    model = build_model(cfg).eval()
    image = torch.randn(1, 3, height, width)
    if cfg.get('default_scope') == 'mmdet':
        from mmdet.structures import DetDataSample
        meta = dict(img_shape=(height, width), ori_shape=(height, width),
                    pad_shape=(height, width), batch_input_shape=(height, width),
                    scale_factor=(1.0, 1.0))
        model.forward = partial(model.forward, data_samples=[DetDataSample(metainfo=meta)],
                                mode='tensor')
    with torch.no_grad():
        analyzer = FlopAnalyzer(model, (image, ))
        analyzer.set_op_handle('aten::scaled_dot_product_attention', _sdpa_flop_jit)
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        flops = int(analyzer.total())
    return dict(params=int(parameter_count(model)['']), flops=flops,
                input_shape=(height, width))


# --------------------------------------------------------------------------- timing
def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _autocast(device: torch.device, amp: bool):
    if not amp:
        return nullcontext()
    dtype = torch.float16 if device.type == 'cuda' else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_steps(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
               amp: bool) -> Dict[str, Callable[[], None]]:
    """``{'fwd': f, 'fwd_bwd': g}``: one forward (eval, inference mode) / one
    forward+backward (train mode) on the given batch."""
    device = images.device

    def fwd():
        model.eval()
        with torch.inference_mode(), _autocast(device, amp):
            model(images)

    def fwd_bwd():
        model.train()
        model.zero_grad(set_to_none=True)
        with _autocast(device, amp):
            loss = F.cross_entropy(model(images).float(), labels)
        loss.backward()

    return dict(fwd=fwd, fwd_bwd=fwd_bwd)


def time_call(fn: Callable[[], None], device: torch.device) -> float:
    """Seconds of one call, CUDA-synchronised."""
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def timed_rounds(steps: Dict[str, Dict[str, Callable[[], None]]], warmup: int, iters: int,
                 device: torch.device,
                 after_round: Callable[[int], None] = lambda rnd: None) -> dict:
    """The measurement protocol (module docstring): ``warmup`` untimed, then ``iters``
    timed rounds; in each, every model runs each of its steps once, in an order rotated
    by one model per round. ``steps``: ``{model: {mode: step}}``; returns ``{model: {mode:
    [seconds per timed round]}}``. ``after_round(rnd)`` runs after each round."""
    names = list(steps)
    times = {name: {mode: [] for mode in steps[name]} for name in names}
    for rnd in range(warmup + iters):
        shift = rnd % len(names)
        for name in names[shift:] + names[:shift]:
            for mode, step in steps[name].items():
                t = time_call(step, device)
                if rnd >= warmup:
                    times[name][mode].append(t)
        after_round(rnd)
    return times


class MatmulPeak:
    """The machine's matmul FLOP/s: the best over all probes of one square ``n x n``
    product (``2 n^3`` FLOPs) per dtype. Probed a few times at the start and once per
    benchmark round, so that it sees the same machine load as the models."""

    def __init__(self, device: torch.device, dtypes: Dict[str, torch.dtype],
                 size: Optional[int] = None):
        self.device = device
        self.size = size or (8192 if device.type == 'cuda' else 1024)
        gen = torch.Generator().manual_seed(0)
        self.operands = {
            key: tuple(torch.randn(self.size, self.size, generator=gen).to(device, dtype)
                       for _ in range(2)) for key, dtype in dtypes.items()}
        for a, b in self.operands.values():  # warm-up (library init, clocks)
            time_call(lambda: torch.mm(a, b), device)
        self.best = {key: 0.0 for key in dtypes}

    def probe(self, repeats: int = 1) -> None:
        for key, (a, b) in self.operands.items():
            for _ in range(repeats):
                seconds = time_call(lambda: torch.mm(a, b), self.device)
                self.best[key] = max(self.best[key], 2.0 * self.size**3 / seconds)


# --------------------------------------------------------------------------- memory
_STATUS = '/proc/self/status'


def _status_kib(key: str) -> int:
    with open(_STATUS) as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise KeyError(key)


def _malloc_trim() -> None:
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def cpu_peak_rss_supported() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        _status_kib('VmHWM')
        return True
    except (OSError, KeyError):
        return False


def peak_memory_mb(fn: Callable[[], None], device: torch.device) -> Optional[float]:
    """Peak extra memory (MiB) of one call (module docstring), None if unmeasurable.

    Call ``gc.collect()`` beforehand if garbage may be pending (it is slow: once per
    memory pass, not per call)."""
    if device.type == 'cuda':
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        _sync(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    if not cpu_peak_rss_supported():
        return None
    _malloc_trim()
    base = _status_kib('VmRSS')
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset the high-water mark to the current RSS
    fn()
    return max(_status_kib('VmHWM') - base, 0) / 1024


# --------------------------------------------------------------------------- run
def _arch_key(arch: Union[str, dict]) -> str:
    """The results key of an arch: its canonical name (aliases of
    :data:`mpvg_mm.models.ARCH_ALIASES` resolved), or ``custom-...`` for a dict."""
    if isinstance(arch, str):
        return arch_family(arch).names.get(arch.lower(), arch.lower())
    return 'custom-' + '-'.join(f'{k}{arch[k]}' for k in sorted(arch))


def benchmark_arch(arch: Union[str, dict], batch_size: int, img_size: int, iters: int,
                   warmup: int, device: torch.device, amp: bool, num_classes: int,
                   include_timm: bool, peak: Optional[MatmulPeak] = None,
                   log: Callable[[str], None] = print) -> dict:
    """Measure every model of :func:`build_models` for one arch (module docstring)."""
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(batch_size, 3, img_size, img_size, generator=gen).to(device)
    labels = torch.randint(0, num_classes, (batch_size, ), generator=gen).to(device)
    models = {k: m.to(device) for k, m in
              build_models(arch, img_size, num_classes, include_timm).items()}
    names = list(models)
    results = {name: count_complexity(m, img_size) for name, m in models.items()}
    steps = {name: make_steps(m, images, labels, amp) for name, m in models.items()}

    def after_round(rnd: int) -> None:
        if peak is not None:
            peak.probe()
        log(f'  round {rnd + 1}/{warmup + iters}' + (' (warm-up)' if rnd < warmup else ''))

    times = timed_rounds(steps, warmup, iters, device, after_round)
    for model in models.values():  # gradients left by the timing would skew the memory
        model.zero_grad(set_to_none=True)
    gc.collect()
    for name in names:
        r = results[name]
        for mode, factor in (('fwd', 2.0), ('fwd_bwd', 6.0)):
            median = statistics.median(times[name][mode])
            r[f'{mode}_times_s'] = times[name][mode]
            r[f'{mode}_img_s'] = batch_size / median
            r[f'{mode}_achieved_flop_s'] = factor * r['flops'] * r[f'{mode}_img_s']
        for mode in ('fwd', 'fwd_bwd'):
            r[f'peak_mem_{mode}_mb'] = peak_memory_mb(steps[name][mode], device)
        models[name].zero_grad(set_to_none=True)
    ratios = {}
    family = arch_family(arch)
    bases = family.ratio_bases
    for key, base in bases.items():
        if base not in results:
            continue
        ratios[key] = {name: {m: (paired_speed_ratio(times[name][m[:-len('_img_s')]],
                                                     times[base][m[:-len('_img_s')]])
                                  if m in SPEED_METRICS else
                                  _ratio(results[name][m], results[base][m]))
                              for m in RATIO_METRICS} for name in names}
    return dict(models=results, ratios=ratios, ratio_bases=bases,
                settings=family.settings(arch))


def check_speed_targets(results: dict) -> List[dict]:
    """Every speed ratio of our models (:data:`OUR_PRESETS`, ``mpvg-folded`` included) against
    its family's :attr:`ArchFamily.speed_targets`, for the results of
    :func:`run_benchmark`: one ``{'arch', 'model', 'metric', 'base', 'ratio', 'target',
    'ok'}`` per check (the targets of the Swin, CeiT and T2T-ViT issues: >= 0.98x our own
    Default, and for Swin >= 1.0x mmpretrain's)."""
    checks = []
    for arch, res in results['archs'].items():
        targets = arch_family(arch).speed_targets
        for name in res['models']:
            if name not in OUR_PRESETS:
                continue
            for base, target in targets.items():
                for metric in SPEED_METRICS:
                    ratio = res['ratios'].get(base, {}).get(name, {}).get(metric)
                    checks.append(dict(arch=arch, model=name, metric=metric, base=base,
                                       ratio=ratio, target=target,
                                       ok=ratio is not None and ratio >= target))
    return checks


def paired_speed_ratio(times: Sequence[float], base_times: Sequence[float]) -> float:
    """Throughput of a model relative to ``base`` as the median over rounds of
    ``base_time[r] / time[r]``: each round times both models back to back, so a change
    of machine load between rounds cancels in the round's ratio (a ratio of the two
    medians would keep it)."""
    return statistics.median(b / t for t, b in zip(times, base_times))


def _ratio(a, b) -> Optional[float]:
    if a is None or b is None or b == 0:
        return None
    return float(a) / float(b)


def run_benchmark(archs: Sequence[Union[str, dict]] = ('deit-tiny', ), batch_size: int = 64,
                  img_size: int = 224, iters: int = 10, warmup: int = 3,
                  device: Union[str, torch.device] = 'cpu', amp: bool = False,
                  threads: Optional[int] = None, num_classes: int = 1000,
                  include_timm: bool = True, matmul_size: Optional[int] = None,
                  log: Callable[[str], None] = print) -> dict:
    """Benchmark every arch; returns ``{'settings', 'matmul_peak_flop_s', 'archs'}`` where
    ``archs[name] = {'models': {model: metrics}, 'ratios': {'vs_default' | 'vs_mmpretrain'
    | 'vs_timm': {model: {metric: ratio}}}, 'settings': arch settings}``."""
    device = torch.device(device)
    if threads:
        torch.set_num_threads(threads)
    dtypes = dict(fp32=torch.float32)
    if amp:
        dtypes['amp'] = torch.float16 if device.type == 'cuda' else torch.bfloat16
    peak = MatmulPeak(device, dtypes, matmul_size)
    peak.probe(3)
    out = dict(
        settings=dict(batch_size=batch_size, img_size=img_size, iters=iters, warmup=warmup,
                      device=str(device), amp=amp, threads=torch.get_num_threads(),
                      num_classes=num_classes, torch=torch.__version__,
                      machine=platform.machine(), processor=platform.processor(),
                      cuda_device=(torch.cuda.get_device_name(device)
                                   if device.type == 'cuda' else None),
                      tf32_matmul=(torch.backends.cuda.matmul.allow_tf32
                                   if device.type == 'cuda' else None),
                      memory_method=('cuda max_memory_allocated - memory_allocated before'
                                     if device.type == 'cuda' else
                                     'peak RSS growth (malloc_trim, clear_refs, VmHWM)'
                                     if cpu_peak_rss_supported() else 'unavailable'),
                      flops_convention='mmengine FlopAnalyzer (+SDPA handle), one '
                      'multiply-add = 1 flop; achieved FLOP/s = 2x (fwd) / 6x (fwd+bwd)'),
        matmul_peak_flop_s=peak.best,
        archs={},
    )
    for arch in archs:
        key = _arch_key(arch)
        log(f'benchmarking {key} (batch {batch_size}, {img_size}px, {device}, amp={amp})')
        out['archs'][key] = benchmark_arch(arch, batch_size, img_size, iters, warmup, device,
                                           amp, num_classes, include_timm, peak, log)
    peak_key = 'amp' if amp else 'fp32'
    for res in out['archs'].values():  # against the final (best) peak
        for r in res['models'].values():
            for mode in ('fwd', 'fwd_bwd'):
                r[f'{mode}_frac_of_peak'] = r[f'{mode}_achieved_flop_s'] / peak.best[peak_key]
    out['matmul_peak_flop_s'] = dict(peak.best)
    return out


# --------------------------------------------------------------------------- window attention
#: Swin-T's window attention per stage at 224: (windows per image, heads, channels)
SWIN_T_WINDOWS = ((64, 3, 96), (16, 6, 192), (4, 12, 384), (1, 24, 768))


def window_attention_benchmark(batch_size: int = 4, iters: int = 10, warmup: int = 2,
                               device: Union[str, torch.device] = 'cpu',
                               threads: Optional[int] = None,
                               log: Callable[[str], None] = print) -> dict:
    """Our :class:`~mpvg_mm.models.backbones.mpvg_swin.FusedWindowMSA`
    (``scaled_dot_product_attention``, the relative position bias + shift mask as its
    additive mask) against mmpretrain's ``WindowMSA`` (explicit softmax) on the same
    weights, at Swin-T's four stage shapes (7x7 windows, a shifted-window mask), timed in
    the rounds of :func:`timed_rounds`, as the models of :func:`benchmark_arch`.

    Returns:
        ``{'settings', 'stages': [{'windows', 'heads', 'channels', 'fwd_x', 'fwd_bwd_x'}]}``;
        ``*_x``: mmpretrain's time over ours, paired per round (> 1: ours is faster).
    """
    from mmpretrain.models.utils.attention import WindowMSA

    from mpvg_mm.models.backbones.mpvg_swin import FusedWindowMSA
    device = torch.device(device)
    if threads:
        torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    stages = []
    for windows, heads, channels in SWIN_T_WINDOWS:
        ours = FusedWindowMSA(channels, (7, 7), heads).to(device)
        peer = WindowMSA(channels, (7, 7), heads).to(device)
        peer.load_state_dict(ours.state_dict())
        x = torch.randn(batch_size * windows, 49, channels, generator=gen).to(device)
        mask = torch.zeros(windows, 49, 49).masked_fill(
            torch.rand(windows, 49, 49, generator=gen) < 0.3, -100.0).to(device)
        times = timed_rounds({name: _window_steps(attn, x, mask) for name, attn in
                              (('ours', ours), ('mmpretrain', peer))}, warmup, iters, device)
        stages.append(dict(windows=windows * batch_size, heads=heads, channels=channels, **{
            f'{mode}_x': paired_speed_ratio(times['ours'][mode], times['mmpretrain'][mode])
            for mode in ('fwd', 'fwd_bwd')}))
        log(f'  stage {len(stages)}/{len(SWIN_T_WINDOWS)}')
    return dict(settings=dict(batch_size=batch_size, iters=iters, warmup=warmup,
                              device=str(device), threads=torch.get_num_threads(),
                              torch=torch.__version__),
                stages=stages)


def _window_steps(attn: nn.Module, x: torch.Tensor,
                  mask: torch.Tensor) -> Dict[str, Callable[[], None]]:
    """``{'fwd', 'fwd_bwd'}`` steps of a window attention (the sum as its loss)."""
    def fwd():
        with torch.inference_mode():
            attn(x, mask)

    def fwd_bwd():
        attn.zero_grad(set_to_none=True)
        attn(x, mask).sum().backward()

    return dict(fwd=fwd, fwd_bwd=fwd_bwd)
