"""demo/image_demo.py: every demo config on a real photograph (matplotlib's
grace_hopper.jpg, 512x600) and a non-square crop of it (361x233, no side a multiple of the
8x8 patches), with the inferencer of the config's toolbox; the picture is written."""
import glob
import os.path as osp

import matplotlib
import mmcv
import pytest

ROOT = __file__.rsplit('/tests/', 1)[0]
PHOTO = osp.join(matplotlib.get_data_path(), 'sample_data', 'grace_hopper.jpg')
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('single_thread')]


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    if not osp.isfile(PHOTO):
        pytest.skip(f'{PHOTO}: this matplotlib ships no sample data')
    crop = str(tmp_path_factory.mktemp('photo') / 'crop.jpg')
    mmcv.imwrite(mmcv.imread(PHOTO)[40:273, 100:461], crop)  # 233 x 361
    return [PHOTO, crop]


@pytest.mark.parametrize('config', sorted(glob.glob(f'{ROOT}/configs/demo/*.py')),
                         ids=osp.basename)
def test_every_demo_config_runs_on_a_photograph(config, images, image_demo, tmp_path):
    results = image_demo.run(images, config, out_dir=str(tmp_path))  # random weights
    assert [path for path, _ in results] == [
        str(tmp_path / 'grace_hopper.png'), str(tmp_path / 'crop.png')]
    for (path, line), image in zip(results, images):
        drawn = mmcv.imread(path)
        height, width = mmcv.imread(image).shape[:2]
        if 'demo-cls' in config:  # mmpretrain draws the short side at 256 px
            assert min(drawn.shape[:2]) == 256
            assert drawn.shape[0] / drawn.shape[1] == pytest.approx(height / width, rel=0.02)
            assert '(' in line  # "class (score)"
        else:  # mmdet and mmseg draw on the image at its size
            assert drawn.shape[:2] == (height, width)
            assert line


def test_unknown_scope_is_refused(image_demo, tmp_path):
    config = tmp_path / 'other.py'
    config.write_text("default_scope = 'mmocr'\n")
    with pytest.raises(ValueError, match="default_scope='mmocr'"):
        image_demo.make_inferencer(str(config))


def test_one_pixel_image_through_a_segmentor(image_demo, tmp_path):
    """mmseg's visualizer fails on 1x1 images (a one-element torch mask read as an index);
    the demo draws that pixel itself: the class colour blended as mmseg blends it."""
    import numpy as np
    image = str(tmp_path / 'dot.png')
    mmcv.imwrite(np.array([[[10, 200, 30]]], np.uint8), image)  # BGR
    config = f'{ROOT}/configs/demo/upernet_mpvg-vit-demo_mpvg_1xb8_demo-ade.py'
    _, inferencer = image_demo.make_inferencer(config)
    [(path, line)] = image_demo.run([image], config, out_dir=str(tmp_path / 'out'))
    label = int(line.split()[0])
    assert line == f'{label} 100.0%'
    palette, alpha = inferencer.visualizer.dataset_meta['palette'], inferencer.visualizer.alpha
    expected = (np.array([30, 200, 10]) * (1 - alpha) + np.array(palette[label]) * alpha)
    drawn = mmcv.imread(path, channel_order='rgb')
    assert drawn.shape == (1, 1, 3)
    np.testing.assert_allclose(drawn[0, 0], expected.astype(np.uint8), atol=1)
