"""The recipes that run, per real config, against the numbers the reference code
produces (configs/README.md has the audit, value by value, with the sources).

For each family the optimizer wrapper is built with mmengine's builders on the model
at its real size (no data, no forward pass) and the parameter schedulers with
mmengine's Runner logic; the lr they give per parameter group and per iteration, the
weight decay, the sampler, the EMA and the evaluation settings are asserted against
literals from the reference: DeiT / LaPE ``main.py`` (lr 5e-4 x batch / 512, warmup_lr
1e-6, min_lr 1e-5, 5 warm-up epochs, RASampler x3, ModelEma 0.99996, no clipping),
Compact-Transformers ``configs/datasets/cifar100.yml`` (ViT-Lite), ViT-Adapter's
``mask_rcnn_deit_adapter_tiny_fpn_3x_coco.py`` and ``upernet_deit_adapter_tiny_512_160k_ade20k.py``,
mmseg's ``vit_deit-s16-ln_mln_upernet_8xb2-160k_ade20k-512x512.py``, T2T-ViT's ``main.py`` (timm's
train.py) and ``transfer_learning.py``.
"""
import ast
import functools
import glob
import math
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from test_configs import _build_on_meta, _optim_wrapper_and_groups

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PRESETS = ('default', 'lape', 'pvg', 'mpvg')
DEIT = [f'mpvg/deit-{size}_{preset}_8xb128_in1k'
        for size in ('tiny', 'small', 'base') for preset in PRESETS]
VIT_LITE = [f'vit_lite/vit-lite-7-4_{preset}_1xb128_cifar100' for preset in PRESETS]
ADAPTER_DET = [f'mask_rcnn/mask-rcnn_vit-adapter-deit-tiny_{p}_4xb2-ms-3x_coco' for p in PRESETS]
PLAIN_DET = [f'mask_rcnn/mask-rcnn_mpvg-vit-deit-tiny-sfp_{p}_4xb2-ms-3x_coco' for p in PRESETS]
ADAPTER_SEG = [f'upernet/upernet_vit-adapter-deit-tiny_{p}_4xb2-160k_ade20k-512x512'
               for p in PRESETS]
PLAIN_SEG = [f'upernet/upernet_mpvg-vit-deit-tiny_{p}_8xb2-160k_ade20k-512x512'
             for p in PRESETS]
T2T = [f't2t_vit/t2t-vit-7_{preset}_8xb64_in1k' for preset in PRESETS]
T2T_FT = [f't2t_vit/t2t-vit-7_{preset}_1xb128_cifar100-ft' for preset in PRESETS]
IMAGENET_TRAIN = 1281167  # ImageNet-1K training images
# iterations per epoch at 8 GPUs x 128 with 3 repeats: each rank draws
# ceil(1281167 / 8) = 160146 images per epoch, in floor(160146 / 128) = 1251 full
# batches (DeiT's RASampler: 1281024 / 8 = 160128 images, 1251 batches, drop_last)
IMAGENET_EPOCH_ITERS = 1251


@functools.lru_cache(maxsize=None)
def _cfg(name):
    """The config (read once per session; the tests do not change it)."""
    return Config.fromfile(f'{ROOT}/configs/{name}.py')


def _total_batch(cfg, gpus):
    return cfg.train_dataloader.batch_size * gpus


def _fake_runner(cfg, gpus, epoch_length):
    """What mmengine's ``Runner.scale_lr`` and ``Runner._build_param_scheduler`` read."""
    return SimpleNamespace(_train_dataloader=cfg.train_dataloader, world_size=gpus,
                           logger=MMLogger.get_instance('test_recipes'),
                           param_schedulers=None, _train_loop=None,
                           train_dataloader=range(epoch_length))


def _build(cfg, gpus, epoch_length, auto_scale_lr=False):
    """The optimizer wrapper of ``cfg`` on its real model, the lr scaled as
    ``tools/train.py --auto-scale-lr`` does at ``gpus`` GPUs, and the param schedulers
    built on it as the Runner builds them.
    Returns (model, wrapper, {name: group}, schedulers)."""
    model, wrapper, groups = _optim_wrapper_and_groups(cfg)
    runner = _fake_runner(cfg, gpus, epoch_length)
    if auto_scale_lr:
        Runner.scale_lr(runner, wrapper, dict(cfg.auto_scale_lr, enable=True))
    schedulers = Runner._build_param_scheduler(runner, cfg.param_scheduler, wrapper)
    return model, wrapper, groups, schedulers


def _lr_trace(cfg, lr, epoch_length, epochs=None, iters=None, auto_scale_gpus=None):
    """The lr the schedule gives at every training iteration, on a one-group optimizer
    at base lr ``lr`` (every group follows the same factors), stepped as mmengine's
    ParamSchedulerHook steps: iteration-based schedulers after every iteration,
    epoch-based ones after every epoch. ``auto_scale_gpus``: first scale ``lr`` as
    ``--auto-scale-lr`` does at that many GPUs (mmengine's ``Runner.scale_lr``)."""
    param = torch.nn.Parameter(torch.zeros(1))
    wrapper = OptimWrapper(torch.optim.AdamW([param], lr=lr))
    if auto_scale_gpus:
        Runner.scale_lr(_fake_runner(cfg, auto_scale_gpus, epoch_length), wrapper,
                        dict(cfg.auto_scale_lr, enable=True))
    schedulers = Runner._build_param_scheduler(
        _fake_runner(cfg, 1, epoch_length), cfg.param_scheduler, wrapper)
    total = iters if iters is not None else epochs * epoch_length
    trace = []
    for it in range(total):
        trace.append(wrapper.optimizer.param_groups[0]['lr'])
        for s in schedulers:
            if not s.by_epoch:
                s.step()
        if (it + 1) % epoch_length == 0:
            for s in schedulers:
                if s.by_epoch:
                    s.step()
    return trace


# ----------------------------------------------------------------------------- DeiT

@pytest.mark.parametrize('name', ['mpvg/deit-base_mpvg_8xb128_in1k',
                                  'mpvg/deit-tiny_default_8xb128_in1k'])
def test_deit_lr_at_the_papers_batch_and_with_auto_scale_lr(name):
    """DeiT's main.py: lr = 5e-4 * batch * world_size / 512 -> 1e-3 at 8 x 128, every
    group (no layer decay); with --auto-scale-lr at 4 x 128 = 512 images, 5e-4."""
    cfg = _cfg(name)
    assert _total_batch(cfg, 8) == 1024
    _, wrapper, groups, _ = _build(cfg, 8, IMAGENET_EPOCH_ITERS)
    assert {round(g['initial_lr'], 12) for g in groups.values()} == {1e-3}
    optimizer = wrapper.optimizer
    assert type(optimizer).__name__ == 'AdamW'
    assert optimizer.defaults['betas'] == (0.9, 0.999)
    assert optimizer.defaults['eps'] == 1e-8
    _, _, groups, _ = _build(cfg, 4, IMAGENET_EPOCH_ITERS, auto_scale_lr=True)
    assert {round(g['initial_lr'], 12) for g in groups.values()} == {5e-4}


def test_deit_schedule_warm_up_from_1e6_cosine_to_1e5():
    """5 warm-up epochs from warmup_lr 1e-6 to 1e-3, then cosine to min_lr 1e-5 at
    epoch 300 (timm's CosineLRScheduler as DeiT calls it); 300 epochs."""
    cfg = _cfg('mpvg/deit-tiny_mpvg_8xb128_in1k')
    assert cfg.train_cfg.max_epochs == 300
    _, _, _, schedulers = _build(cfg, 8, IMAGENET_EPOCH_ITERS)
    warmup, cosine = schedulers
    assert (warmup.begin, warmup.end) == (0, 5 * IMAGENET_EPOCH_ITERS)
    assert (cosine.begin, cosine.end) == (5 * IMAGENET_EPOCH_ITERS, 300 * IMAGENET_EPOCH_ITERS)
    assert not warmup.by_epoch and not cosine.by_epoch  # stepped per iteration
    epoch_length = 4  # the factors do not depend on it; a short epoch keeps it fast
    trace = _lr_trace(cfg, 1e-3, epoch_length, epochs=300)
    assert trace[0] == pytest.approx(1e-6)
    assert trace[5 * epoch_length] == pytest.approx(1e-3)
    assert max(trace) == pytest.approx(1e-3)
    mid = trace[(5 + 295 // 2) * epoch_length]  # halfway through the cosine
    assert mid == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + math.cos(math.pi * 147 / 295)),
                                rel=1e-3)
    assert trace[-1] == pytest.approx(1e-5, rel=1e-3)
    # with --auto-scale-lr at 512 images the warm-up starts at 5e-7 (mmengine scales
    # every lr of the schedule; DeiT's warmup_lr stays 1e-6): the peak is 5e-4
    trace = _lr_trace(cfg, 5e-4, epoch_length, epochs=6)
    assert (trace[0], trace[5 * epoch_length]) == (pytest.approx(5e-7), pytest.approx(5e-4))


def test_deit_repeated_augmentation_three_repeats(monkeypatch):
    """DeiT's RASampler (3 repeats): each rank draws len/world_size images per epoch, and
    every drawn image comes three times, on different ranks."""
    from mmpretrain.datasets.samplers import repeat_aug
    from mmpretrain.registry import DATA_SAMPLERS
    cfg = _cfg('mpvg/deit-tiny_mpvg_8xb128_in1k')
    sampler_cfg = cfg.train_dataloader.sampler
    world = 8
    per_rank = []
    for rank in range(world):
        monkeypatch.setattr(repeat_aug, 'get_dist_info', lambda r=rank: (r, world))
        sampler = DATA_SAMPLERS.build(sampler_cfg,
                                      default_args=dict(dataset=range(480), seed=0))
        assert type(sampler).__name__ == 'RepeatAugSampler'
        per_rank.append(list(sampler))
        assert len(per_rank[-1]) == len(sampler) == 480 // world
    drawn = [i for r in per_rank for i in r]
    counts = {i: drawn.count(i) for i in set(drawn)}
    assert set(counts.values()) == {3}
    for i in counts:  # the three copies land on three different ranks
        assert sum(i in r for r in per_rank) == 3
    # at ImageNet's size, 8 ranks x 128 images: 1251 iterations an epoch, as DeiT's
    monkeypatch.setattr(repeat_aug, 'get_dist_info', lambda: (0, world))
    sampler = DATA_SAMPLERS.build(sampler_cfg, default_args=dict(dataset=range(IMAGENET_TRAIN),
                                                                 seed=0))
    loader = torch.utils.data.DataLoader(range(IMAGENET_TRAIN), sampler=sampler,
                                         batch_size=cfg.train_dataloader.batch_size,
                                         drop_last=cfg.train_dataloader.drop_last)
    assert len(loader) == IMAGENET_EPOCH_ITERS


def test_deit_model_ema_decay_099996_evaluated_on_the_trained_weights():
    """DeiT's ModelEma: ema = 0.99996 * ema + 0.00004 * param after every iteration; the
    accuracy main.py reports is the trained model's, not the EMA's."""
    from mmengine.hooks import EMAHook as MMEngineEMAHook
    from mmengine.registry import DefaultScope, init_default_scope
    from mmpretrain.registry import HOOKS
    for name in ('mpvg/deit-tiny_mpvg_8xb128_in1k', 'mpvg/deit-base_default_8xb128_in1k',
                 'mpvg/deit-tiny_mpvg-non-hierarchical_8xb128_in1k'):
        cfg = _cfg(name)
        hooks = [h for h in cfg.custom_hooks if h['type'] == 'EMAHook']
        assert len(hooks) == 1, name
    DefaultScope._instance_dict.clear()
    init_default_scope('mmpretrain')
    hook_cfg = dict(hooks[0])
    hook_cfg.pop('priority')  # the Runner's (register_hook), not the hook's
    hook = HOOKS.build(hook_cfg)
    assert isinstance(hook, MMEngineEMAHook)
    model = torch.nn.Linear(2, 2)
    runner = SimpleNamespace(model=model)
    hook.before_run(runner)
    ema0 = model.weight.detach().clone()
    hook.ema_model.update_parameters(model)  # the first update copies
    with torch.no_grad():
        model.weight.add_(1.0)
    hook.ema_model.update_parameters(model)
    expected = 0.99996 * ema0 + (1 - 0.99996) * (ema0 + 1.0)
    torch.testing.assert_close(hook.ema_model.module.weight, expected, rtol=0, atol=1e-7)
    # validation and test run on the trained weights: nothing is swapped in
    trained = model.weight.detach().clone()
    hook.before_val_epoch(runner)
    hook.before_test_epoch(runner)
    torch.testing.assert_close(model.weight, trained)


@pytest.mark.parametrize('name', ['mpvg/deit-tiny_mpvg_8xb128_in1k',
                                  'mpvg/deit-base_pvg_8xb128_in1k'])
def test_deit_regularisation_and_augmentation(name):
    """drop path 0.1 (linear over the blocks), label smoothing 0.1, Mixup 0.8 / CutMix 1.0
    with a 0.5 switch, RandAugment m9 mstd 0.5, random erasing 0.25, bicubic 224 crops,
    test at short side 224 then centre 224 (LaPE's crop ratio 1.0); no gradient
    clipping."""
    cfg = _cfg(name)
    model = _build_on_meta(cfg)
    assert model.backbone.blocks[-1].drop_path.drop_prob == pytest.approx(0.1)
    assert model.backbone.blocks[0].drop_path.drop_prob == 0.0
    assert cfg.model.head.loss.label_smooth_val == 0.1
    augments = {a['type']: a['alpha'] for a in cfg.model.train_cfg.augments}
    assert augments == {'Mixup': 0.8, 'CutMix': 1.0}
    assert cfg.model.train_cfg.get('probs') is None  # one of the two, evenly: switch 0.5
    train = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    assert (train['RandomResizedCrop']['scale'], train['RandomResizedCrop']['interpolation']) \
        == (224, 'bicubic')
    assert (train['RandAugment']['magnitude_level'], train['RandAugment']['magnitude_std'],
            train['RandAugment']['num_policies']) == (9, 0.5, 2)
    assert train['RandomErasing']['erase_prob'] == 0.25
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        test = {t['type']: t for t in loader.dataset.pipeline}
        # LaPE's build_transform: Resize(int(1.0 * 224), bicubic), CenterCrop(224)
        assert (test['ResizeEdge']['scale'], test['ResizeEdge']['interpolation']) \
            == (224, 'bicubic')
        assert test['CenterCrop']['crop_size'] == 224
    assert 'clip_grad' not in cfg.optim_wrapper or cfg.optim_wrapper.clip_grad is None


# Regularisation per family, from the reference code (not read from a config):
# (drop path, label smoothing, {Mixup/CutMix: alpha}, RandAugment (m, mstd, ops),
# random erasing); None = not used. Mixup and CutMix switch with probability 0.5 (one
# of the two at random per batch: mmpretrain's ``probs`` unset).
_DEIT_AUG = (0.1, 0.1, {'Mixup': 0.8, 'CutMix': 1.0}, (9, 0.5, 2), 0.25)  # LaPE main.py
REGULARISATION = {
    'mpvg': _DEIT_AUG,
    'ceit': _DEIT_AUG,  # coeusguo/ceit main.py (DeiT's defaults)
    'swin': (0.2, 0.1, {'Mixup': 0.8, 'CutMix': 1.0}, (9, 0.5, 2), 0.25),  # Swin config.py, swin_tiny yaml
    'vit_lite': (0.1, 0.1, {'Mixup': 0.8, 'CutMix': 1.0}, (9, 0.5, 2), 0.25),  # cifar100.yml
    't2t_vit': (0.1, 0.1, {'Mixup': 0.8, 'CutMix': 1.0}, (9, 0.5, 2), 0.25),  # T2T main.py
    't2t_vit-ft': (0.1, None, None, None, None),  # transfer_learning.py: plain CE, no aug
}
CLASSIFIERS = sorted(
    f'{family}/{osp.basename(path)[:-3]}' for family in ('mpvg', 'ceit', 'swin', 'vit_lite', 't2t_vit')
    for path in glob.glob(f'{ROOT}/configs/{family}/*.py')
    if not osp.basename(path).startswith(('mask-rcnn_', 'upernet_')))


def test_every_classifier_config_is_in_the_regularisation_check():
    assert len(CLASSIFIERS) == 20 + 4 + 4 + 4 + 8, CLASSIFIERS


@pytest.mark.parametrize('name', CLASSIFIERS)
def test_every_classifier_runs_its_familys_regularisation(name):
    """Every real classifier config (all sizes, presets and ablations), merged with its
    bases as the Runner merges it: the regularisation of its family's reference. A
    preset that overrides any of it inside ``model`` fails here."""
    family = name.split('/')[0] + ('-ft' if name.endswith('-ft') else '')
    drop_path, smooth, augments, rand_augment, erase = REGULARISATION[family]
    cfg = _cfg(name)
    assert cfg.model.backbone.drop_path_rate == pytest.approx(drop_path)
    loss = cfg.model.head.loss
    train_cfg = cfg.model.get('train_cfg') or {}
    train = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    if smooth is None:
        assert loss.type == 'CrossEntropyLoss' and not loss.get('label_smooth_val')
    else:
        assert (loss.type, loss.label_smooth_val, loss.mode) == ('LabelSmoothLoss', smooth, 'original')
    if augments is None:
        assert not train_cfg.get('augments')
    else:
        assert {a['type']: a['alpha'] for a in train_cfg['augments']} == augments
        assert train_cfg.get('probs') is None  # switch 0.5
    if rand_augment is None:
        assert 'RandAugment' not in train and 'RandomErasing' not in train
    else:
        ra = train['RandAugment']
        assert (ra['magnitude_level'], ra['magnitude_std'], ra['num_policies']) == rand_augment
        assert ra['policies'] == 'timm_increasing'  # rand-...-inc1
        assert (train['RandomErasing']['erase_prob'], train['RandomErasing']['mode']) \
            == (erase, 'rand')


# ----------------------------------------------------------------------------- Swin

SWIN = [f'swin/swin-tiny_{preset}_16xb64_in1k' for preset in PRESETS]


@pytest.mark.parametrize('gpus', [8, 4])
def test_auto_scale_lr_scales_warm_up_start_and_end_as_the_references(gpus):
    """With ``--auto-scale-lr`` at a total batch B (1024, 512): the lr at iteration 0,
    the peak and the last lr, against the references' formulas.
    DeiT (LaPE main.py): lr = 5e-4 B / 512; warmup_lr 1e-6 and min_lr 1e-5 absolute. Ours
    scales the warm-up start with the lr (LinearLR's start_factor is relative): 1e-6 at
    1024, 5e-7 at 512 (stated in configs/README.md); the end lr is absolute, as DeiT's.
    Swin (main.py): lr, WARMUP_LR and MIN_LR all x B / 512 (5e-4, 5e-7, 5e-6 per 512)."""
    epoch_length = 2
    deit = _cfg('mpvg/deit-tiny_mpvg_8xb128_in1k')
    batch = _total_batch(deit, gpus)
    trace = _lr_trace(deit, deit.optim_wrapper.optimizer.lr, epoch_length, epochs=300,
                      auto_scale_gpus=gpus)
    assert max(trace) == pytest.approx(5e-4 * batch / 512)
    assert trace[0] == pytest.approx(1e-6 * batch / 1024)  # DeiT: 1e-6 at any batch
    assert trace[-1] == pytest.approx(1e-5, rel=1e-2)  # DeiT: min_lr 1e-5 at any batch
    swin = _cfg(SWIN[-1])
    swin_gpus = gpus * 2  # 16 x 64 = 1024, 8 x 64 = 512
    batch = _total_batch(swin, swin_gpus)
    trace = _lr_trace(swin, swin.optim_wrapper.optimizer.lr, epoch_length, epochs=300,
                      auto_scale_gpus=swin_gpus)
    assert max(trace) == pytest.approx(5e-4 * batch / 512)
    assert trace[0] == pytest.approx(5e-7 * batch / 512)
    assert trace[-1] == pytest.approx(5e-6 * batch / 512, rel=1e-2)



def test_swin_recipe():
    """Swin's ``config.py``/``main.py`` (the paper's Table 7 Swin row): BASE_LR 5e-4,
    WARMUP_LR 5e-7 and MIN_LR 5e-6, each scaled by total batch / 512 -> 1e-3, 1e-6 and
    1e-5 at 16 x 64; 20 warm-up epochs of 300; AdamW wd 0.05, eps 1e-8; CLIP_GRAD 5.0;
    DROP_PATH_RATE 0.2 for Swin-T; no repeated augmentation and no model EMA."""
    cfg = _cfg(SWIN[-1])
    assert _total_batch(cfg, 16) == 1024 and cfg.train_cfg.max_epochs == 300
    _, wrapper, groups, schedulers = _build(cfg, 16, 100)
    assert {round(g['initial_lr'], 12) for g in groups.values()} == {1e-3}
    assert (wrapper.optimizer.defaults['eps'], wrapper.optimizer.defaults['weight_decay']) \
        == (1e-8, 0.05)
    assert wrapper.clip_grad_kwargs['max_norm'] == 5.0
    warmup, cosine = schedulers
    assert (warmup.begin, warmup.end, cosine.begin) == (0, 20 * 100, 20 * 100)
    trace = _lr_trace(cfg, 1e-3, 4, epochs=300)
    assert trace[0] == pytest.approx(1e-6)
    assert trace[20 * 4] == pytest.approx(1e-3)
    assert trace[-1] == pytest.approx(1e-5, rel=1e-3)
    assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
    assert not [h for h in cfg.get('custom_hooks', []) if 'EMA' in h['type']]
    model = _build_on_meta(cfg)
    depths = [len(stage.blocks) for stage in model.backbone.stages]
    rates = [b.ffn.dropout_layer.drop_prob if hasattr(b.ffn.dropout_layer, 'drop_prob')
             else None for stage in model.backbone.stages for b in stage.blocks]
    assert depths == [2, 2, 6, 2]
    assert rates[-1] == pytest.approx(0.2)


# ----------------------------------------------------------------------------- CeiT

CEIT = [f'ceit/ceit-tiny_{preset}_8xb128_in1k' for preset in PRESETS]


@pytest.mark.parametrize('name', [CEIT[0], CEIT[-1]])
def test_ceit_recipe(name):
    """coeusguo/ceit main.py (DeiT's, the paper's Table 7 CeiT row): lr 5e-4 x batch / 512
    -> 1e-3 at 8 x 128, AdamW eps 1e-8, wd 0.05 except pos_embed, cls_token and 1-D
    parameters (BN and conv biases included; the LCA's pos_layer_embed is decayed), 5
    warm-up epochs from 1e-6, cosine to 1e-5 at epoch 300, RASampler x3, ModelEma 0.99996
    over the whole state dict (BN statistics too), drop path 0.1, no clipping."""
    cfg = _cfg(name)
    assert _total_batch(cfg, 8) == 1024 and cfg.train_cfg.max_epochs == 300
    model, wrapper, groups, schedulers = _build(cfg, 8, IMAGENET_EPOCH_ITERS)
    assert {round(g['initial_lr'], 12) for g in groups.values()} == {1e-3}
    assert (wrapper.optimizer.defaults['eps'], wrapper.optimizer.defaults['betas']) == \
        (1e-8, (0.9, 0.999))
    decay = {n: g['weight_decay'] for n, g in groups.items()}
    assert decay['backbone.pos_embed'] == 0.0
    assert decay['backbone.pos_layer_embed'] == 0.05
    assert decay['backbone.i2t.backbone.bn.weight'] == decay['backbone.i2t.proj.bias'] == 0.0
    assert decay['backbone.blocks.0.leff.conv2.weight'] == 0.05
    assert decay['backbone.lca.attn.qkv.weight'] == 0.05
    assert decay.get('backbone.cls_token', 0.0) == 0.0
    warmup, cosine = schedulers
    assert (warmup.begin, warmup.end) == (0, 5 * IMAGENET_EPOCH_ITERS)
    assert cosine.end == 300 * IMAGENET_EPOCH_ITERS
    trace = _lr_trace(cfg, 1e-3, 4, epochs=300)
    assert trace[0] == pytest.approx(1e-6) and trace[5 * 4] == pytest.approx(1e-3)
    assert trace[-1] == pytest.approx(1e-5, rel=1e-3)
    sampler = cfg.train_dataloader.sampler
    assert (sampler.type, sampler.num_repeats) == ('RepeatAugSampler', 3)
    ema = [h for h in cfg.custom_hooks if h['type'] == 'EMAHook']
    assert len(ema) == 1 and ema[0]['momentum'] == pytest.approx(4e-5)
    assert ema[0]['update_buffers'] is True and ema[0]['evaluate_on_origin'] is True
    assert model.backbone.blocks[-1].drop_path.drop_prob == pytest.approx(0.1)
    assert model.backbone.blocks[0].drop_path.drop_prob == 0.0
    assert 'clip_grad' not in cfg.optim_wrapper or cfg.optim_wrapper.clip_grad is None
    assert cfg.model.head.loss.label_smooth_val == 0.1
    for loader in (cfg.val_dataloader, cfg.test_dataloader):  # CeiT's datasets.py: 256 -> 224
        test = {t['type']: t for t in loader.dataset.pipeline}
        assert (test['ResizeEdge']['scale'], test['ResizeEdge']['interpolation']) \
            == (256, 'bicubic')
        assert test['CenterCrop']['crop_size'] == 224


# ------------------------------------------------------------------------- ViT-Lite

@pytest.mark.parametrize('name', VIT_LITE)
def test_vit_lite_recipe(name):
    """Compact-Transformers cifar100.yml: AdamW lr 6e-4 at batch 128 (no scaling), wd
    0.06 on every non-1-D parameter (the PE included), warm-up 10 epochs from 1e-6,
    cosine to 1e-5 at epoch 300, 10 cooldown epochs at 1e-5; no EMA, no repeats."""
    cfg = _cfg(name)
    assert _total_batch(cfg, 1) == 128 and cfg.train_cfg.max_epochs == 310
    _, _, groups, _ = _build(cfg, 1, 391)
    assert {round(g['initial_lr'], 12) for g in groups.values()} == {6e-4}
    assert groups['backbone.pos_embed']['weight_decay'] == 0.06
    assert groups['backbone.blocks.0.attn.qkv.weight']['weight_decay'] == 0.06
    assert groups['backbone.blocks.0.norm1.weight']['weight_decay'] == 0.0
    assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
    assert not [h for h in cfg.get('custom_hooks', []) if h['type'] == 'EMAHook']
    epoch_length = 2
    trace = _lr_trace(cfg, 6e-4, epoch_length, epochs=310)
    assert trace[0] == pytest.approx(1e-6)
    assert trace[10 * epoch_length] == pytest.approx(6e-4)
    # the cosine over epochs 10-300 from the peak; timm's (computed from epoch 0 under the
    # warm-up) is lower mid-schedule: the difference configs/README.md states
    mid = trace[155 * epoch_length]
    assert mid == pytest.approx(1e-5 + (6e-4 - 1e-5) * (1 + math.cos(math.pi * 145 / 290)) / 2)
    timm = 1e-5 + (6e-4 - 1e-5) * (1 + math.cos(math.pi * 155 / 300)) / 2
    assert mid / timm == pytest.approx(1.05, abs=0.01)
    assert trace[300 * epoch_length - 1] == pytest.approx(1e-5, rel=1e-2)
    assert trace[300 * epoch_length:] == pytest.approx([1e-5] * 10 * epoch_length, rel=1e-3)
    train = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    assert train['RandomResizedCrop']['crop_ratio_range'] == (0.8, 1.0)
    assert train['RandomErasing']['erase_prob'] == 0.25


# ------------------------------------------------------------------- ViT-Adapter COCO

def test_vit_adapter_mask_rcnn_recipe():
    """ViT-Adapter-Ti Mask R-CNN 3x+MS: AdamW lr 1e-4 at the paper's batch 8 on every
    group, wd 0.05 except names with level_embed/pos_embed/norm/bias (the injector
    gammas decayed); 500 warm-up iterations from 1e-3 x lr, lr / 10 after epochs 27 and
    33 of 36; multi-scale training ending in a 1024 crop."""
    cfg = _cfg(ADAPTER_DET[-1])
    assert _total_batch(cfg, 4) == 8 and cfg.train_cfg.max_epochs == 36
    _, _, groups, _ = _build(cfg, 4, 100)
    assert {round(g['initial_lr'], 12) for g in groups.values()} == {1e-4}
    assert groups['backbone.interactions.0.injector.gamma']['weight_decay'] == 0.05
    assert groups['backbone.level_embed']['weight_decay'] == 0.0
    assert groups['backbone.pe.last_norm.weight']['weight_decay'] == 0.0
    epoch_length = 501
    trace = _lr_trace(cfg, 1e-4, epoch_length, epochs=36)
    assert trace[0] == pytest.approx(1e-7)
    assert trace[500] == pytest.approx(1e-4)
    assert trace[27 * epoch_length - 1] == pytest.approx(1e-4)
    assert trace[27 * epoch_length] == pytest.approx(1e-5)
    assert trace[33 * epoch_length] == pytest.approx(1e-6)
    train = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    crop = cfg.train_dataloader.dataset.pipeline[train.index('RandomChoice') + 1]
    assert (crop['type'], crop['crop_size']) == ('RandomCrop', (1024, 1024))


# ------------------------------------------------------------------ ViT-Adapter ADE20K

def test_vit_adapter_upernet_recipe():
    """ViT-Adapter-Ti UperNet 160k: AdamW lr 12e-5 at the paper's batch 8, layer decay
    0.95 over 12 blocks (BEiT's constructor: block i at 0.95 ** (12 - i), patch
    embedding and pos_embed at 0.95 ** 13, the rest 1; ours: LN' of block k at block k's
    rate, LN'' and the Last LN 1), wd 0.01 on all but 1-D (pos_embed
    and level_embed decayed), warm-up 1500 iterations from 1e-6 x lr, poly to 0 at 160k;
    slide test 512/341 on images resized to multiples of 32."""
    cfg = _cfg(ADAPTER_SEG[-1])
    assert _total_batch(cfg, 4) == 8 and cfg.train_cfg.max_iters == 160000
    _, _, groups, _ = _build(cfg, 4, 1)
    lr = 12e-5
    assert groups['backbone.pos_embed']['initial_lr'] == pytest.approx(lr * 0.95**13)
    assert groups['backbone.patch_embed.proj.weight']['initial_lr'] == pytest.approx(lr * 0.95**13)
    assert groups['backbone.blocks.0.attn.qkv.weight']['initial_lr'] == pytest.approx(lr * 0.95**12)
    assert groups['backbone.blocks.11.mlp.fc2.weight']['initial_lr'] == pytest.approx(lr * 0.95)
    for k in (1, 6, 11):  # LN' entering block k: block k's rate
        assert groups[f'backbone.pe.layer_norms.{k}.weight']['initial_lr'] == \
            pytest.approx(lr * 0.95**(12 - k))
    for name in ('backbone.level_embed', 'backbone.interactions.0.injector.gamma',
                 'backbone.pe.last_norm.weight', 'backbone.norm.weight',
                 'decode_head.conv_seg.weight'):
        assert groups[name]['initial_lr'] == pytest.approx(lr), name
    assert groups['backbone.pos_embed']['weight_decay'] == 0.01
    assert groups['backbone.level_embed']['weight_decay'] == 0.01
    assert groups['backbone.interactions.0.injector.gamma']['weight_decay'] == 0.0
    trace = _lr_trace(cfg, lr, 1, iters=160000)
    assert trace[0] == pytest.approx(lr * 1e-6)
    assert trace[1500] == pytest.approx(lr)
    assert trace[80750] == pytest.approx(lr * 0.5, rel=1e-3)  # poly, power 1
    assert trace[-1] == pytest.approx(0.0, abs=lr * 1e-5)  # poly to min_lr 0
    assert cfg.model.test_cfg.mode == 'slide'
    assert (cfg.model.test_cfg.crop_size, cfg.model.test_cfg.stride) == ((512, 512), (341, 341))
    test = {t['type']: t for t in cfg.test_dataloader.dataset.pipeline}
    assert test['ResizeToMultiple']['size_divisor'] == 32
    assert test['LoadAnnotations']['reduce_zero_label'] is True


# ------------------------------------------------------------------- plain-ViT dense

def test_plain_vit_upernet_recipe():
    """mmseg's DeiT UperNet (MLN, final LN): AdamW lr 6e-5 at 8 x 2, no layer decay,
    wd 0.01, 1500 warm-up iterations, poly over 160k; whole-image test."""
    cfg = _cfg(PLAIN_SEG[-1])
    assert _total_batch(cfg, 8) == 16 and cfg.train_cfg.max_iters == 160000
    _, _, groups, schedulers = _build(cfg, 8, 1)
    assert {round(g['initial_lr'], 12) for g in groups.values()} == {6e-5}
    assert groups['backbone.blocks.0.attn.qkv.weight']['weight_decay'] == 0.01
    assert (schedulers[0].start_factor, schedulers[0].end) == (1e-6, 1500)
    assert (schedulers[1].begin, schedulers[1].end, schedulers[1].eta_min) == (1500, 160000, 0)
    assert cfg.model.test_cfg.mode == 'whole'
    assert cfg.model.backbone.drop_path_rate == 0.1


def test_plain_vit_mask_rcnn_recipe():
    """Ours (not in the paper): the adapter's 3x+MS data and schedule (lr 1e-4 at 8,
    wd 0.05, 500 warm-up iterations, steps 27/33 of 36) with layer decay 0.9."""
    cfg = _cfg(PLAIN_DET[-1])
    assert _total_batch(cfg, 4) == 8 and cfg.train_cfg.max_epochs == 36
    _, _, groups, schedulers = _build(cfg, 4, 100)
    assert groups['rpn_head.rpn_conv.weight']['initial_lr'] == pytest.approx(1e-4)
    assert groups['backbone.blocks.0.attn.qkv.weight']['initial_lr'] == pytest.approx(1e-4 * 0.9**12)
    assert (schedulers[0].start_factor, schedulers[0].end) == (1e-3, 500)
    assert schedulers[1].milestones == {27: 1, 33: 1}


@pytest.mark.parametrize('name', DEIT + SWIN + VIT_LITE + ADAPTER_DET + PLAIN_DET + ADAPTER_SEG
                         + PLAIN_SEG + T2T + T2T_FT)
def test_every_preset_runs_its_familys_recipe(name):
    """The other presets and sizes change the model only: each such config inherits the
    family's config of its folder and sets nothing but ``model``, so the optimizer,
    schedule, data, sampler and hooks asserted above are theirs too (read from the file's
    top-level assignments, without loading it)."""
    path = f'{ROOT}/configs/{name}.py'
    with open(path) as f:
        tree = ast.parse(f.read())
    assigned = {target.id for node in tree.body if isinstance(node, ast.Assign)
                for target in node.targets}
    bases = next(ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and node.targets[0].id == '_base_')
    if name.endswith(('_mpvg_8xb128_in1k', '_mpvg_16xb64_in1k', '_mpvg_1xb128_cifar100', '_mpvg_4xb2-ms-3x_coco',
                      '_mpvg_8xb64_in1k', '_mpvg_1xb128_cifar100-ft',
                      '_mpvg_4xb2-160k_ade20k-512x512', '_mpvg_8xb2-160k_ade20k-512x512')):
        if 'deit-tiny' in name or not name.startswith('mpvg/'):
            return  # the family's config itself, asserted above
    assert assigned == {'_base_', 'model'}, (name, assigned)
    assert len(bases) == 1 and bases[0].startswith('./'), bases


# ------------------------------------------------------------------------- T2T-ViT-7

def test_t2t_vit_recipe():
    """T2T-ViT main.py (timm's train.py) with the README's `--lr 1e-3 --weight-decay .03`
    at 4 x 128: AdamW lr 1e-3 at the total batch 512 (no scaling), eps 1e-8, wd 0.03;
    warm-up 10 epochs from warmup_lr 1e-6, cosine to min_lr 1e-5 at 300, 10 cooldown
    epochs at 1e-5 (310); model EMA 0.99996, validated (timm's eval_metrics =
    ema_eval_metrics); drop path 0.1; no clipping; no repeated augmentation."""
    cfg = _cfg(T2T[-1])
    assert _total_batch(cfg, 8) == 512 and cfg.train_cfg.max_epochs == 310
    _, wrapper, groups, _ = _build(cfg, 8, 2502)
    assert {round(g['initial_lr'], 12) for g in groups.values()} == {1e-3}
    optimizer = wrapper.optimizer
    assert type(optimizer).__name__ == 'AdamW'
    assert (optimizer.defaults['eps'], optimizer.defaults['weight_decay']) == (1e-8, 0.03)
    assert groups['backbone.blocks.0.attn.qkv.weight']['weight_decay'] == 0.03
    assert groups['backbone.norm.weight']['weight_decay'] == 0.0
    assert 'backbone.pos_embed' not in groups  # the fixed sinusoid
    epoch_length = 2
    trace = _lr_trace(cfg, 1e-3, epoch_length, epochs=310)
    assert trace[0] == pytest.approx(1e-6)
    assert trace[10 * epoch_length] == pytest.approx(1e-3)
    assert trace[300 * epoch_length - 1] == pytest.approx(1e-5, rel=1e-2)
    assert trace[300 * epoch_length:] == pytest.approx([1e-5] * 10 * epoch_length, rel=1e-3)
    _, _, groups, _ = _build(cfg, 4, 2502, auto_scale_lr=True)
    assert {round(g['initial_lr'], 12) for g in groups.values()} == {5e-4}
    hooks = [h for h in cfg.custom_hooks if h['type'] == 'EMAHook']
    assert len(hooks) == 1 and hooks[0]['momentum'] == pytest.approx(4e-5)
    assert hooks[0].get('evaluate_on_ema', True) and not hooks[0].get('evaluate_on_origin')
    assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
    assert 'clip_grad' not in cfg.optim_wrapper or cfg.optim_wrapper.clip_grad is None
    model = _build_on_meta(cfg)
    assert model.backbone.blocks[-1].drop_path.drop_prob == pytest.approx(0.1)
    assert cfg.model.head.loss.label_smooth_val == 0.1


@pytest.mark.parametrize('name', T2T_FT)
def test_t2t_vit_cifar100_fine_tune_recipe(name):
    """T2T-ViT transfer_learning.py: SGD momentum 0.9, wd 5e-4, lr 0.05 for the head and
    transfer_ratio 0.01 x 0.05 for tokens_to_token and blocks (LN' with its blocks);
    cls_token, pos_embed, the Last LN (and LN'') in no group: frozen; CosineAnnealingLR
    T_max 60, eta_min 2e-4 per epoch; batch 128, 60 epochs; Resize 224, RandomCrop 224
    padding 28, flip; plain cross-entropy, no Mixup; from the preset's own ImageNet
    checkpoint."""
    preset = name.split('_')[-3]
    cfg = Config.fromfile(f'{ROOT}/configs/{name}.py')  # changed below: not the cached one
    init = cfg.model.backbone.init_cfg
    assert _total_batch(cfg, 1) == 128 and cfg.train_cfg.max_epochs == 60
    cfg.model.backbone.init_cfg = None
    model, wrapper, groups, schedulers = _build(cfg, 1, 391)
    assert type(wrapper.optimizer).__name__ == 'SGD'
    assert wrapper.optimizer.defaults['momentum'] == 0.9
    lrs = {n: round(g['initial_lr'], 12) for n, g in groups.items()}
    assert lrs['head.fc.weight'] == lrs['head.fc.bias'] == 0.05
    backbone = {n for n in lrs if n.startswith('backbone.')}
    assert {lrs[n] for n in backbone} == {5e-4}
    assert any(n.startswith('backbone.tokens_to_token.') for n in backbone)
    assert {n.split('.')[1] for n in backbone} <= {'tokens_to_token', 'blocks', 'pe'}
    assert not any(n.startswith('backbone.pe.last_norm') for n in backbone)
    assert {g['weight_decay'] for g in groups.values()} == {5e-4}
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert {'backbone.norm.weight', 'backbone.norm.bias', 'backbone.pos_embed'} <= frozen
    assert ('backbone.cls_token' in frozen) == (preset in ('default', 'lape'))
    assert ('backbone.pe.last_norm.weight' in frozen) == (preset == 'mpvg')
    (cosine, ) = schedulers
    assert (cosine.T_max, cosine.eta_min, cosine.by_epoch) == (60, 2e-4, True)
    # torch's CosineAnnealingLR stepped after each of the 60 epochs: epoch e runs at
    # 2e-4 + (0.05 - 2e-4) * (1 + cos(pi * e / 60)) / 2
    trace = _lr_trace(cfg, 0.05, 1, epochs=60)
    assert trace == pytest.approx([2e-4 + (0.05 - 2e-4) * (1 + math.cos(math.pi * e / 60)) / 2
                                   for e in range(60)])
    train = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    assert (train['Resize']['scale'], train['RandomCrop']['crop_size'],
            train['RandomCrop']['padding'], train['RandomFlip']['prob']) == (224, 224, 28, 0.5)
    assert cfg.model.head.loss.type == 'CrossEntropyLoss'
    assert not cfg.model.get('train_cfg', {}).get('augments')
    assert cfg.model.head.num_classes == 100
    assert init.checkpoint == f'work_dirs/t2t-vit-7_{preset}_8xb64_in1k/epoch_310.pth'
    assert init.prefix == 'backbone.'
    # transfer_learning.py: load_for_transfer_learning(..., use_ema=True)
    assert (init.type, init.use_ema) == ('MPVGPretrained', True)


SWIN_DENSE = sorted(f'swin/{osp.basename(p)[:-3]}' for p in glob.glob(f'{ROOT}/configs/swin/*.py')
                    if osp.basename(p).startswith(('mask-rcnn_', 'upernet_')))


@pytest.mark.parametrize('name', ADAPTER_DET + PLAIN_DET + ADAPTER_SEG + PLAIN_SEG + SWIN_DENSE)
def test_dense_configs_start_from_the_trained_classifier_weights(name):
    """ViT-Adapter and mmseg's DeiT UperNet start from DeiT's released weights, the
    trained (non-EMA) model; Swin's recipe has no EMA: the trained weights too."""
    assert len(SWIN_DENSE) == 12
    init = _cfg(name).model.backbone.init_cfg
    preset = next(p for p in PRESETS if f'_{p}_' in name)
    classifier = 'swin-tiny_{}_16xb64_in1k/epoch_300' if name.startswith('swin/') \
        else 'deit-tiny_{}_8xb128_in1k/epoch_300'
    assert (init.type, init.use_ema, init.prefix) == ('MPVGPretrained', False, 'backbone.')
    assert init.checkpoint == f'work_dirs/{classifier.format(preset)}.pth'
