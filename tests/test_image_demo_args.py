"""demo/image_demo.py refuses bad arguments in one line before the model build, and a
checkpoint of another model as tools/test.py does (fast: no model, or the tiny demo ViT)."""
import numpy as np
import pytest
import torch

ROOT = __file__.rsplit('/tests/', 1)[0]
CLS = f'{ROOT}/configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py'
SEG = f'{ROOT}/configs/demo/upernet_mpvg-vit-demo_mpvg_1xb8_demo-ade.py'


@pytest.fixture
def image(tmp_path):
    import mmcv
    path = str(tmp_path / 'a.jpg')
    mmcv.imwrite(np.zeros((20, 30, 3), np.uint8), path)
    return path


@pytest.mark.parametrize('case, match', [
    ('missing image', 'image .*missing.jpg not found'),
    ('not an image', 'not an image'),
    ('missing config', 'config .*nope.py not found'),
    ('config first', 'the last argument must be the config.*give the images first'),
    ('missing weights', '--weights .*none.pth not found'),
    ('same picture', 'would both be drawn to .*a.png: rename one'),
    ('score', r'--score-thr 1.5 is outside \[0, 1\]'),
])
def test_bad_arguments_are_refused(image_demo, image, tmp_path, case, match):
    text = tmp_path / 'notes.txt'
    text.write_text('hello')
    other = tmp_path / 'b'
    other.mkdir()
    twin = str(other / 'a.png')
    import shutil
    shutil.copy(image, twin)
    images, config, kwargs = [image], CLS, {}
    if case == 'missing image':
        images = [str(tmp_path / 'missing.jpg')]
    elif case == 'not an image':
        images = [str(text)]
    elif case == 'missing config':
        config = str(tmp_path / 'nope.py')
    elif case == 'config first':
        images, config = [CLS], image
    elif case == 'missing weights':
        kwargs = dict(weights=str(tmp_path / 'none.pth'))
    elif case == 'same picture':
        images = [image, twin]
    elif case == 'score':
        kwargs = dict(score_thr=1.5)
    with pytest.raises(ValueError, match=match):
        image_demo.check_arguments(images, config, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason='a GPU is here')
def test_cuda_without_gpu_is_refused(image_demo, image):
    with pytest.raises(ValueError, match='no CUDA GPU.*--device cpu'):
        image_demo.check_arguments([image], CLS, device='cuda')


def test_main_prints_one_line_and_exits_nonzero(image_demo, image, capsys):
    with pytest.raises(SystemExit) as exit_info:
        image_demo.main([CLS, image])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'give the images first' in err[0]


def test_checkpoint_of_another_model_is_refused(image_demo, tmp_path):
    ckpt = str(tmp_path / 'other.pth')  # another task's weights: no key of the classifier
    torch.save({'state_dict': {'roi_head.bbox_head.fc_cls.weight': torch.zeros(5, 4)}}, ckpt)
    with pytest.raises(ValueError, match='other.pth does not fit the model of .*missing in '
                                         'the checkpoint.*not in the model'):
        image_demo.make_inferencer(CLS, ckpt)


def test_segmentor_without_weights_uses_label_indices(image_demo):
    _, inferencer = image_demo.make_inferencer(SEG)
    classes = inferencer.model.dataset_meta['classes']
    assert list(classes) == [str(i) for i in range(
        inferencer.model.decode_head.num_classes)]  # not mmseg's Cityscapes names


@pytest.mark.parametrize('height, width', [(20, 20), (9, 40)])
def test_vit_segmentor_runs_on_a_tiny_image(image_demo, tmp_path, height, width):
    """The neck's 0.25 scale of the stride-8 maps needs 32 px: the test-time padding."""
    import mmcv
    path = str(tmp_path / 'tiny.jpg')
    mmcv.imwrite(np.random.RandomState(0).randint(0, 256, (height, width, 3), np.uint8), path)
    (picture, line), = image_demo.run([path], SEG, out_dir=str(tmp_path / 'out'))
    assert mmcv.imread(picture).shape[:2] == (height, width)
    shares = [float(part.split()[1].rstrip('%')) for part in line.split(', ')]
    assert sum(shares) == pytest.approx(100, abs=0.2)
