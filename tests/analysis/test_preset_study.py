"""The preset study on a tiny demo set: one seed, one epoch, every preset."""
import json
import math
import os.path as osp

import pytest
import torch

from mpvg_mm import demo
from mpvg_mm.analysis import preset_study as ps

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py')


pytestmark = pytest.mark.usefixtures('single_thread')


@pytest.fixture(scope='module')
def demo_imagenet(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo') / 'imagenet')
    demo.write_imagenet(root, seed=0, num_train=2, num_val=1)  # 16 train, 8 val
    return root


def test_every_preset_gives_the_expected_json(demo_imagenet, tmp_path, analysis_tool):
    out = tmp_path / 'study'
    analysis_tool('preset_study').main(['--data-root', demo_imagenet, '--seeds', '0', '--epochs', '1',
             '--batch-size', '8', '--out-dir', str(out)])
    with open(out / 'preset_study.json') as f:
        results = json.load(f)
    assert set(results) == {'settings', 'presets'}
    assert results['settings']['num_train'] == 16 and results['settings']['num_val'] == 8
    assert list(results['presets']) == list(ps.PRESETS)
    for name, res in results['presets'].items():
        assert set(res) == {'backbone', 'runs', 'val_acc_mean', 'val_acc_std',
                            'correlation_mean', 'correlation_vs_pos0_mean',
                            'last_ln_beta_var_mean'}, name
        (run, ) = res['runs']
        # the whole val split of 8 images: a multiple of 100 / 8
        assert run['seed'] == 0 and (run['val_acc'] / 12.5).is_integer()
        assert len(run['train_loss']) == 1 and math.isfinite(run['train_loss'][0])
        diag = run['diagnostics']
        assert len(diag['correlation']) == len(res['correlation_mean']) == 4
        assert all(c is not None and math.isfinite(c) for c in diag['correlation'])
        assert diag['last_ln_beta_var'] > 0  # one epoch of AdamW moved beta off 0
    assert results['presets']['default-gap']['backbone'] == dict(pe_mode='default',
                                                                 with_cls_token=False)


def test_the_tool_finds_its_default_config_from_any_directory(analysis_tool, tmp_path,
                                                              monkeypatch):
    tool = analysis_tool('preset_study')
    monkeypatch.chdir(tmp_path)
    assert tool.resolve_config(tool.DEFAULT_CONFIG) == CONFIG
    monkeypatch.chdir(ROOT)
    assert tool.resolve_config(tool.DEFAULT_CONFIG) == tool.DEFAULT_CONFIG


def test_evaluate_counts_top1_hits():
    """Logits as inputs (an identity model), 2 of 4 argmaxes right, in batches of 3."""

    class Identity(torch.nn.Module):

        def forward(self, x, mode):
            return x

    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 0.0], [1.0, 0.0]])
    assert ps.evaluate(Identity(), logits, torch.tensor([0, 1, 1, 1]), batch=3) == 50.0


def test_aggregate_of_known_runs():
    """Mean and population std of [50, 75, 100]; per-layer means skip undefined r."""

    def run(acc, corr, corr0, beta_var):
        return dict(val_acc=acc, diagnostics=dict(correlation=corr, correlation_vs_pos0=corr0,
                                                  last_ln_beta_var=beta_var))

    agg = ps.aggregate([run(50.0, [0.1, None, None], [0.5, 0.0, 1.0], 0.1),
                        run(75.0, [0.3, -0.2, None], [0.5, 0.2, 1.0], 0.2),
                        run(100.0, [None, -0.4, None], [0.5, 0.4, 1.0], 0.6)])
    assert agg['val_acc_mean'] == 75.0
    assert agg['val_acc_std'] == pytest.approx((1250 / 3)**0.5, rel=1e-12)
    assert agg['correlation_mean'] == pytest.approx([0.2, -0.3, None])
    assert agg['correlation_vs_pos0_mean'] == pytest.approx([0.5, 0.2, 1.0])
    assert agg['last_ln_beta_var_mean'] == pytest.approx(0.3)
    assert ps.aggregate([run(62.5, [0.1], [0.1], 0.1)])['val_acc_std'] == 0.0


def test_model_settings_follow_the_config():
    cfg = ps.load_config(CONFIG)
    model = ps.build_classifier(cfg, ps.PRESETS['default-gap-lastlnpe'])
    bb = model.backbone
    assert not bb.with_cls_token and bb.pe.structure.last_ln_pos == 0
    assert bb.pe.structure.layerwise_from is None and bb.embed_dims == 128
    # the Runner's data_preprocessor (mean/std of the config), not the default one
    assert model.data_preprocessor.mean.flatten().tolist() == pytest.approx(
        [123.675, 116.28, 103.53])
    lape = ps.build_classifier(cfg, ps.PRESETS['lape']).backbone
    assert lape.with_cls_token and lape.pe.structure.layerwise_from == 0


def test_schedule_is_warmup_then_cosine():
    """The config's LinearLR (1 epoch) + cosine, iteration-based, like the Runner."""
    from mmengine.optim import build_optim_wrapper
    cfg = ps.load_config(CONFIG)
    model = ps.build_classifier(cfg, ps.PRESETS['mpvg'])
    with ps._quiet_logger():
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base = cfg.optim_wrapper.optimizer.lr
    schedulers = ps._build_schedulers(cfg, wrapper, epochs=3, epoch_length=4)
    lrs = []
    for _ in range(12):
        lrs.append(wrapper.optimizer.param_groups[0]['lr'])
        wrapper.optimizer.step()  # no gradients: a no-op that keeps torch's order check quiet
        for s in schedulers:
            s.step()
    assert lrs[0] == pytest.approx(base * 1e-2)
    # mmengine's LinearLR reaches the full lr on the last iteration of its epoch
    assert lrs[3] == pytest.approx(base) and lrs[4] == pytest.approx(base)
    assert all(a > b for a, b in zip(lrs[4:], lrs[5:]))  # cosine decay afterwards
    assert lrs[-1] > 1e-5


def test_a_config_of_another_toolbox_is_refused():
    det = f'{ROOT}/configs/demo/mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco.py'
    with pytest.raises(ValueError, match="needs an mmpretrain ImageClassifier config, got "
                       "default_scope='mmdet', model type='MaskRCNN'"):
        ps.load_config(det)


def test_ceit_demo_config_runs_every_preset(demo_imagenet):
    """The study on the CeiT demo config (`--config`): each preset builds an MPVGCeiT of
    its structure (class token only in Default/LaPE; what the LCA reads follows it) and
    trains one epoch to finite numbers."""
    cfg = ps.load_config(osp.join(ROOT, 'configs/demo/mpvg-ceit-demo_mpvg_1xb64_demo-cls.py'),
                         demo_imagenet)
    for name, overrides in ps.PRESETS.items():
        bb = ps.build_classifier(cfg, overrides).backbone
        assert type(bb).__name__ == 'MPVGCeiT', name
        assert bb.with_cls_token == (name in ('default', 'lape')), name
        assert bb.out_type == ('cls_token' if bb.with_cls_token else 'avg_featmap'), name
    results = ps.run_study(cfg, presets=('lape', 'mpvg'), seeds=(0, ), epochs=1,
                           batch_size=8, diag_images=4, log=lambda s: None)
    for res in results['presets'].values():
        (run, ) = res['runs']
        assert math.isfinite(run['train_loss'][0]) and len(run['diagnostics']['correlation']) == 4


SWIN_CONFIG = osp.join(ROOT, 'configs/demo/mpvg-swin-demo_mpvg_1xb64_demo-cls.py')


@pytest.mark.slow
def test_swin_demo_config_runs_the_four_structures(demo_imagenet, tmp_path, analysis_tool):
    """The Swin demo config: the presets default to the four structures (Swin has no
    class token to switch off), each trained and diagnosed over its 8 blocks."""
    out = tmp_path / 'study'
    analysis_tool('preset_study').main([
        '--config', SWIN_CONFIG, '--data-root', demo_imagenet, '--seeds', '0', '--epochs',
        '1', '--batch-size', '8', '--max-val', '4', '--out-dir', str(out)])
    results = json.loads((out / 'preset_study.json').read_text())
    assert results['settings']['config'] == SWIN_CONFIG
    assert list(results['presets']) == ['default', 'lape', 'pvg', 'mpvg']
    for name, res in results['presets'].items():
        (run, ) = res['runs']
        assert (run['val_acc'] / 25).is_integer()  # 4 val images
        assert math.isfinite(run['train_loss'][0])
        # 4 stages of 2 blocks; PVG and MPVG take the layer-wise PE from block 0 in Swin
        expected = ['input'] * 8 if name == 'default' else ['layerwise'] * 8
        assert run['diagnostics']['pe_source'] == expected, name
        assert all(c is not None and math.isfinite(c) for c in run['diagnostics']['correlation'])
        assert run['diagnostics']['last_ln_beta_var'] > 0
    assert ps.applicable_presets(ps.load_config(CONFIG)) == list(ps.PRESETS)


def test_swin_refuses_the_class_token_ablations(demo_imagenet):
    with pytest.raises(ValueError, match=r"\['default-gap'\] switch the class token off.*"
                       r"MPVGSwin.*\['default', 'lape', 'pvg', 'mpvg'\]"):
        ps.run_study(SWIN_CONFIG, ['mpvg', 'default-gap'], seeds=[0], epochs=1,
                     data_root=demo_imagenet)


def test_t2t_vit_demo_config_runs_the_presets(demo_imagenet):
    """The study on the T2T-ViT demo config: each preset builds an MPVGT2TViT of its
    structure (class token only in Default/LaPE and the GAP ablations' switch honoured),
    and LaPE and MPVG train one epoch to finite numbers with the diagnostics."""
    cfg = ps.load_config(
        osp.join(ROOT, 'configs/demo/mpvg-t2t-vit-demo_mpvg_1xb64_demo-cls.py'), demo_imagenet)
    for name, overrides in ps.PRESETS.items():
        bb = ps.build_classifier(cfg, overrides).backbone
        assert type(bb).__name__ == 'MPVGT2TViT', name
        assert bb.with_cls_token == (name in ('default', 'lape')), name
    results = ps.run_study(cfg, presets=('lape', 'mpvg'), seeds=(0, ), epochs=1,
                           batch_size=8, diag_images=4, log=lambda s: None)
    for res in results['presets'].values():
        (run, ) = res['runs']
        assert math.isfinite(run['train_loss'][0])
        assert len(run['diagnostics']['correlation']) == bb.num_layers
