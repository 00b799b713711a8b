"""Detection end to end: Mask R-CNN on the generated COCO scenes with the real tools.

* ``tools/train.py`` then ``tools/test.py`` on the demo config (a few iterations);
  CocoMetric reports bbox and segm AP;
* a classification checkpoint of the demo backbone loads into the detector's backbone
  with every key (``init_cfg=Pretrained, prefix='backbone.'``);
* ``Config.fromfile`` + ``Runner.from_cfg`` (what mmdet's own ``tools/train.py`` does, run
  by tests/e2e/test_upstream_tools.py) run the config without anyone importing ``mpvg_mm``
  by hand: ``custom_imports`` does it.

The configs' own checks (weight decay, layer-wise lr decay) are in tests/test_configs.py.
"""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

ROOT = __file__.rsplit('/tests/', 1)[0]
DEMO_DET = f'{ROOT}/configs/demo/mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco.py'
DEMO_CLS = f'{ROOT}/configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'
NUM_TRAIN, NUM_VAL = 8, 4


def _cls_checkpoint(path):
    """A checkpoint of the demo classifier (mmpretrain ImageClassifier). Every tensor is
    moved off its initial value (LayerNorms start at 1/0 in any model), so that equal
    tensors in the detector can only come from loading it."""
    import mmpretrain.registry
    DefaultScope._instance_dict.clear()
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = mmpretrain.registry.MODELS.build(Config.fromfile(DEMO_CLS).model)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.01 * torch.randn_like(param))
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, path)
    return model.state_dict()


@pytest.fixture(scope='module')
def demo(tmp_path_factory, make_demo_data):
    out = tmp_path_factory.mktemp('det')
    make_demo_data(out, '--formats', 'coco', '--num-train', str(NUM_TRAIN), '--num-val',
                   str(NUM_VAL))
    root = f'{out}/coco/'
    ckpt = str(out / 'cls.pth')
    cls_state = _cls_checkpoint(ckpt)
    config = out / 'demo_det.py'
    # 2 epochs of 2 iterations; score_thr=0 so that an untrained model still returns
    # detections (CocoMetric reports nothing for an empty result set)
    config.write_text(
        f"_base_ = ['{DEMO_DET}']\n"
        f"data_root = '{root}'\n"
        f"model = dict(backbone=dict(init_cfg=dict(checkpoint='{ckpt}')),\n"
        "             test_cfg=dict(rcnn=dict(score_thr=0.0)))\n"
        "train_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root))\n"
        "val_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root))\n"
        "test_dataloader = val_dataloader\n"
        "val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')\n"
        "test_evaluator = val_evaluator\n"
        "max_epochs = 2\n"
        "param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,\n"
        "                        end=4)]\n"
        "train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)\n"
        "default_hooks = dict(logger=dict(interval=1),\n"
        "                     checkpoint=dict(interval=max_epochs))\n")
    return dict(config=str(config), ckpt=ckpt, cls_state=cls_state)


def _assert_coco_metrics(out):
    for key in ('coco/bbox_mAP', 'coco/segm_mAP', 'bbox_mAP_copypaste', 'segm_mAP_copypaste'):
        assert key in out, f'{key} not reported:\n{out[-3000:]}'


@pytest.mark.slow
def test_train_then_test(demo, tmp_path, run_in_process):
    wd = tmp_path / 'wd'
    out = run_in_process('train.py', [demo['config'], '--work-dir', str(wd)])
    assert f"load backbone. in model from: {demo['ckpt']}" in out
    assert 'Epoch(train) [2][2/2]' in out
    _assert_coco_metrics(out)  # the validation after the last epoch
    ckpt = wd / 'epoch_2.pth'
    assert ckpt.is_file()
    out = run_in_process('test.py', [demo['config'], str(ckpt), '--work-dir',
                                     str(tmp_path / 'test')])
    _assert_coco_metrics(out)
    assert f'Epoch(test) [{NUM_VAL // 4}/{NUM_VAL // 4}]' in out


def test_cls_checkpoint_loads_into_detector_backbone(demo):
    """Every backbone tensor of the detector comes from the classifier's checkpoint."""
    import mmdet.registry
    cfg = Config.fromfile(demo['config'])
    DefaultScope._instance_dict.clear()
    init_default_scope('mmdet')
    detector = mmdet.registry.MODELS.build(cfg.model)
    detector.init_weights()
    expected = {k[len('backbone.'):]: v for k, v in demo['cls_state'].items()
                if k.startswith('backbone.')}
    got = detector.backbone.state_dict()
    assert set(got) == set(expected)  # nothing missing, nothing left over
    for name, value in expected.items():
        torch.testing.assert_close(got[name], value, msg=name)


@pytest.mark.slow
def test_upstream_runner_from_cfg_needs_no_manual_import(demo, tmp_path, run_python):
    """Config.fromfile + Runner.from_cfg (what every OpenMMLab train script does) in a
    fresh interpreter: custom_imports registers mpvg_mm's modules into mmdet."""
    script = ("import sys\n"
              "from mmengine.config import Config\n"
              "from mmengine.runner import Runner\n"
              "assert 'mpvg_mm' not in sys.modules\n"
              "cfg = Config.fromfile(sys.argv[1])\n"
              "cfg.work_dir = sys.argv[2]\n"
              "runner = Runner.from_cfg(cfg)\n"
              "print(type(runner.model).__name__, type(runner.model.backbone).__name__,\n"
              "      type(runner.model.neck).__name__)\n")
    out = run_python(['-c', script, demo['config'], str(tmp_path / 'wd')], cwd=str(tmp_path))
    assert 'MaskRCNN MPVGViT MultiLevelNeck' in out

