"""Generate the official ViT-Adapter golden fixture (run once; the tests do not need it).

    python tests/data/vit_adapter_official/make_fixture.py /path/to/ViT-Adapter/git-dir

Runs the official ``ViTAdapter`` of ``czczup/ViT-Adapter`` (``detection/`` and
``segmentation/``, which differ in the ViT tokens they add to the outputs) on CPU: its
files are taken from the given git checkout (``git archive HEAD``; nothing of it is copied
into this project), its mmcv 1.x / mmdet 2.x imports (registry, ``BaseModule``, logger,
checkpoint loader: registration and init only) are stubbed, its compiled deformable
attention is replaced by the pure-PyTorch ``ms_deform_attn_core_pytorch`` it ships, and
SyncBN by BN (eval mode). A tiny DeiT-Ti-like configuration (below) with random weights
runs once on a 128x160 input (an 8x10 patch grid: window size 3 pads both sides), and
``fixture.pth`` receives the weights (official names, under ``backbone.``), the input,
the configuration and the four output maps of each variant (the same weights). ``README.md`` beside it records the commit.
"""
import io
import subprocess
import sys
import tarfile
import tempfile
import types
from pathlib import Path

import torch
import torch.nn as nn

#: The tiny configuration (official ``ViTAdapter`` kwargs).
OFFICIAL_CFG = dict(
    img_size=64, pretrain_size=64, patch_size=16, embed_dim=48, depth=4, num_heads=3,
    mlp_ratio=2, conv_inplane=16, n_points=2, deform_num_heads=6, cffn_ratio=0.25,
    deform_ratio=1.0, interaction_indexes=[[0, 0], [1, 1], [2, 2], [3, 3]],
    window_attn=[True, True, True, False], window_size=[3, 3, 3, None], drop_path_rate=0.0)
INPUT_SIZE = (128, 160)


def _stub(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


def load_official(git_dir: str, workdir: str):
    """The official ``ViTAdapter`` classes ``(detection, segmentation)`` with their
    OpenMMLab 1.x imports stubbed."""
    tar = subprocess.run(['git', f'--git-dir={git_dir}', 'archive', 'HEAD', 'detection/ops',
                          'detection/mmdet_custom/models/backbones',
                          'segmentation/mmseg_custom/models/backbones'], check=True,
                         capture_output=True).stdout
    tarfile.open(fileobj=io.BytesIO(tar)).extractall(workdir)
    root = Path(workdir) / 'detection'
    sys.path.insert(0, str(root))

    class Registry:
        def register_module(self, *args, **kwargs):
            return lambda cls: cls

    class BaseModule(nn.Module):
        def __init__(self, init_cfg=None):
            super().__init__()

    for name in ('mmdet', 'mmdet.models', 'mmseg', 'mmseg.models', 'mmcv', 'mmcv_custom'):
        _stub(name)
    for toolbox in ('mmdet', 'mmseg'):
        _stub(f'{toolbox}.models.builder', BACKBONES=Registry())
        _stub(f'{toolbox}.utils', get_root_logger=lambda *a, **k: None)
    _stub('mmcv.runner', BaseModule=BaseModule)
    sys.modules['mmcv_custom'].my_load_checkpoint = None
    _stub('MultiScaleDeformableAttention')  # the CUDA extension, unused on CPU
    import importlib
    func = importlib.import_module('ops.functions.ms_deform_attn_func')
    attn = importlib.import_module('ops.modules.ms_deform_attn')
    attn.MSDeformAttnFunction = types.SimpleNamespace(  # the shipped pure-PyTorch path
        apply=lambda value, shapes, start, loc, weights, step:
        func.ms_deform_attn_core_pytorch(value, shapes, loc, weights))
    classes = []
    for name, path in (('official_det', root / 'mmdet_custom/models/backbones'),
                       ('official_seg', Path(workdir) / 'segmentation/mmseg_custom/models/'
                        'backbones')):
        _stub(name).__path__ = [str(path)]
        classes.append(importlib.import_module(f'{name}.vit_adapter').ViTAdapter)
    return classes


def sync_bn_to_bn(module: nn.Module) -> nn.Module:
    for name, child in module.named_children():
        if isinstance(child, nn.SyncBatchNorm):
            bn = nn.BatchNorm2d(child.num_features, child.eps, child.momentum)
            bn.load_state_dict(child.state_dict())
            setattr(module, name, bn)
        else:
            sync_bn_to_bn(child)
    return module


def randomize(model: nn.Module, seed: int = 0) -> None:
    """Every parameter and BN statistic random (gates and scales away from 0 / 1)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name.endswith('gamma') or 'gamma1' in name or 'gamma2' in name:
                p.copy_(0.8 + 0.3 * noise)
            elif p.dim() == 1 and ('norm' in name or '.1.weight' in name or
                                   'stem.4' in name or 'stem.7' in name):
                p.copy_(1.0 + 0.2 * noise) if name.endswith('weight') else p.copy_(0.2 * noise)
            elif 'sampling_offsets.bias' in name:
                p.add_(0.3 * noise)
            elif p.dim() == 1:
                p.copy_(0.1 * noise)
            else:
                fan_in = p[0].numel()
                p.copy_(noise / fan_in ** 0.5)
        for name, b in model.named_buffers():
            if name.endswith('running_mean'):
                b.copy_(0.1 * torch.randn(b.shape, generator=gen))
            elif name.endswith('running_var'):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen))


def main(git_dir: str):
    out_dir = Path(__file__).resolve().parent
    commit = subprocess.run(['git', f'--git-dir={git_dir}', 'rev-parse', 'HEAD'], check=True,
                            capture_output=True, text=True).stdout.strip()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as workdir:
        det_cls, seg_cls = load_official(git_dir, workdir)
        model = sync_bn_to_bn(det_cls(**OFFICIAL_CFG))
        seg_model = sync_bn_to_bn(seg_cls(**OFFICIAL_CFG))
    randomize(model)
    seg_model.load_state_dict(model.state_dict(), strict=True)  # the same weights
    model.eval(), seg_model.eval()
    image = torch.randn(1, 3, *INPUT_SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        outputs = [o.contiguous() for o in model(image)]
        seg_outputs = [o.contiguous() for o in seg_model(image)]
    state = {'backbone.' + k: v.clone() for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=state, input=image, outputs=outputs,
                    outputs_segmentation=seg_outputs, config=OFFICIAL_CFG, commit=commit),
               out_dir / 'fixture.pth')
    print(f'commit {commit}; {len(state)} tensors; outputs '
          f'{[tuple(o.shape) for o in outputs]}; max |out| '
          f'{max(o.abs().max().item() for o in outputs):.3f} (detection), '
          f'{max(o.abs().max().item() for o in seg_outputs):.3f} (segmentation)')


if __name__ == '__main__':
    main(sys.argv[1])
