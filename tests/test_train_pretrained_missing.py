"""tools/train.py: a missing Pretrained init checkpoint (the demo detector before the demo
classifier is trained) is refused before the runner is built, naming both fixes."""
import pytest
from mmengine.config import Config

from mpvg_mm.cli import check_pretrained_files, train_main

ROOT = __file__.rsplit('/tests/', 1)[0]
DET = f'{ROOT}/configs/demo/mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco.py'


def test_demo_detector_without_classifier_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no work_dirs/demo_cls_mpvg/epoch_30.pth here
    with pytest.raises(FileNotFoundError, match=(
            r'model\.backbone\.init_cfg\.checkpoint=work_dirs/demo_cls_mpvg/epoch_30\.pth '
            r'does not exist: .*`make demo` trains the demo classifier first.*'
            r'--cfg-options model\.backbone\.init_cfg=None')):
        train_main([DET, '--work-dir', str(tmp_path / 'w')])
    assert not (tmp_path / 'w').exists()  # refused before the runner was built


def test_existing_or_remote_checkpoints_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(DET)
    (tmp_path / 'work_dirs' / 'demo_cls_mpvg').mkdir(parents=True)
    (tmp_path / 'work_dirs' / 'demo_cls_mpvg' / 'epoch_30.pth').write_bytes(b'x')
    check_pretrained_files(cfg)
    cfg.model.backbone.init_cfg = [dict(type='Pretrained', checkpoint='https://x/y.pth'),
                                   dict(type='Pretrained', checkpoint='gone.pth')]
    with pytest.raises(FileNotFoundError, match=r'model\.backbone\.init_cfg\.1\.checkpoint'):
        check_pretrained_files(cfg)
    cfg.model.backbone.init_cfg = None
    check_pretrained_files(cfg)
