"""Every config in configs/ builds: model, dataset and pipeline types, optimizer."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope, init_default_scope

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(f'{ROOT}/configs/**/*.py', recursive=True)
                 if '/_base_/' not in p)


def _registries(scope):
    module = __import__(f'{scope}.registry', fromlist=['MODELS'])
    return module.MODELS, module.DATASETS, module.TRANSFORMS


def _check_dataset(cfg, DATASETS, TRANSFORMS, where):
    if cfg.get('type') in ('ConcatDataset', 'RepeatDataset', 'ClassBalancedDataset'):
        inner = cfg.get('datasets') or [cfg['dataset']]
        for c in inner:
            _check_dataset(c, DATASETS, TRANSFORMS, where)
        return
    assert DATASETS.get(cfg['type']) is not None, f'{where}: dataset {cfg["type"]}'
    for t in cfg.get('pipeline', []):
        assert TRANSFORMS.get(t['type']) is not None, f'{where}: transform {t["type"]}'


def test_configs_exist():
    assert len(CONFIGS) >= 20


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, f'{ROOT}/configs') for p in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert 'mpvg_mm' in cfg.custom_imports['imports']
    scope = cfg.default_scope
    DefaultScope._instance_dict.clear()
    init_default_scope(scope)
    MODELS, DATASETS, TRANSFORMS = _registries(scope)
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if loader:
            _check_dataset(loader['dataset'], DATASETS, TRANSFORMS, f'{split}_dataloader')
    model = model.to_empty(device='cpu')
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    assert optim.optimizer.param_groups


def test_no_weight_decay_on_pe_norms_biases_and_tokens():
    cfg = Config.fromfile(f'{ROOT}/configs/mpvg/deit-tiny_mpvg_8xb128_in1k.py')
    DefaultScope._instance_dict.clear()
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    wd = {}
    names = {id(p): n for n, p in model.named_parameters()}
    for group in optim.optimizer.param_groups:
        for p in group['params']:
            wd[names[id(p)]] = group['weight_decay']
    assert wd['backbone.pos_embed'] == 0
    assert wd['backbone.pe.layer_norms.5.weight'] == 0
    assert wd['backbone.pe.last_norm.bias'] == 0
    assert wd['backbone.blocks.3.attn.qkv.bias'] == 0
    assert wd['backbone.norm.weight'] == 0
    assert wd['backbone.blocks.3.attn.qkv.weight'] == pytest.approx(0.05)
    assert wd['head.fc.weight'] == pytest.approx(0.05)


def test_metafiles_point_at_configs_and_model_index_lists_them():
    import yaml
    metafiles = sorted(glob.glob(f'{ROOT}/configs/*/metafile.yml'))
    assert metafiles
    with open(f'{ROOT}/model-index.yml') as f:
        imported = set(yaml.safe_load(f)['Import'])
    for metafile in metafiles:
        assert osp.relpath(metafile, ROOT) in imported, metafile
        with open(metafile) as f:
            meta = yaml.safe_load(f)
        for model in meta['Models']:
            assert osp.isfile(f'{ROOT}/{model["Config"]}'), model['Name']
            assert model['Results'], model['Name']
