"""The toolboxes' own scripts on the demo configs, as an OpenMMLab user runs them.

mmpretrain's, mmdet's and mmseg's ``tools/train.py`` and ``tools/test.py`` ship inside their
wheels (``<package>/.mim/tools/``, what ``mim train/test`` runs). Nobody imports ``mpvg_mm``
by hand: the configs' ``custom_imports`` do it. Each toolbox trains a few iterations on the
generated data, then its test script evaluates the checkpoint and (mmdet, mmseg) draws the
predictions with ``--show-dir``. The checkpoints are reused by test_publish_model.py.

Each script runs in a process forked from one interpreter that imported only torch,
mmengine and mmcv (``python``): no toolbox and nothing of the project is imported before
the script runs, as in a user's fresh ``python SCRIPT``, without paying ~7 s of
torch/mmengine imports per script.
"""
import glob
import os.path as osp

import pytest

ROOT = __file__.rsplit('/tests/', 1)[0]
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures('single_thread')]

#: toolbox -> (demo config, demo data format, train length, what its test script reports)
DEMO = {
    'mmpretrain': ('configs/demo/mpvg-vit-demo_mpvg_1xb64_demo-cls.py', 'imagenet',
                   ['train_cfg.max_epochs=2', 'train_cfg.val_interval=2'], 'accuracy/top1'),
    'mmdet': ('configs/demo/mask-rcnn_mpvg-vit-demo-mln_mpvg_1xb8_demo-coco.py', 'coco',
              ['train_cfg.max_epochs=1', 'train_cfg.val_interval=2',
               'model.backbone.init_cfg=None', 'model.test_cfg.rcnn.score_thr=0.0'],
              'coco/bbox_mAP'),
    'mmseg': ('configs/demo/upernet_mpvg-vit-demo_mpvg_1xb8_demo-ade.py', 'ade20k',
              ['train_cfg.max_iters=2', 'train_cfg.val_interval=4',
               'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=4'],
              'mIoU'),
}
NUM_VAL = 4  # per split (coco, ade20k) or per class (imagenet)


def shipped_script(toolbox, name):
    """``<toolbox>/.mim/tools/<name>``: the script the wheel ships (skips when absent, as
    in an install from a source tree without the .mim folder)."""
    package = __import__(toolbox)
    path = osp.join(osp.dirname(package.__file__), '.mim', 'tools', name)
    if not osp.isfile(path):
        pytest.skip(f'{toolbox} is installed without its .mim/tools/{name}')
    return path


def data_options(toolbox, data_root):
    """--cfg-options that point a demo config at generated data under ``data_root``."""
    fmt = DEMO[toolbox][1]
    root = f'{data_root}/{fmt}/'
    opts = [f'{split}_dataloader.dataset.data_root={root}' for split in ('train', 'val', 'test')]
    if toolbox == 'mmdet':  # CocoMetric reads its own ground truth
        ann = root + 'annotations/instances_val2017.json'
        opts += [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']
    return opts


def demo_val_images(data_root, toolbox):
    fmt = DEMO[toolbox][1]
    pattern = dict(imagenet='val/*/*.JPEG', coco='val2017/*.jpg',
                   ade20k='images/validation/*.jpg')[fmt]
    return sorted(glob.glob(f'{data_root}/{fmt}/{pattern}'))


@pytest.fixture(scope='module')
def demo_data(tmp_path_factory, make_demo_data):
    out = tmp_path_factory.mktemp('upstream_data')
    make_demo_data(out, '--num-train', '8', '--num-val', str(NUM_VAL))
    return str(out)


#: what the forked scripts find imported: the toolboxes' common dependencies only
PRELOAD = '''
import torch, mmcv, mmengine.runner
imported = sorted({name.split('.')[0] for name in sys.modules} &
                  {'mpvg_mm', 'mmpretrain', 'mmdet', 'mmseg'})
assert not imported, imported
'''


@pytest.fixture(scope='module')
def python(fork_server):
    """``python(args, cwd=...)``: as ``run_python``, forked from the :data:`PRELOAD`
    interpreter."""
    server = fork_server(PRELOAD)
    return lambda args, cwd: server.run(args[0], args[1:], cwd=cwd)


@pytest.fixture(scope='module')
def trained(demo_data, tmp_path_factory, python):
    """``trained(toolbox)``: the work dir and checkpoint of the toolbox's shipped train.py
    on its demo config (run once per module)."""
    done = {}

    def train(toolbox):
        if toolbox not in done:
            config, _, schedule, _ = DEMO[toolbox]
            work_dir = str(tmp_path_factory.mktemp(f'{toolbox}_train'))
            out = python([shipped_script(toolbox, 'train.py'), f'{ROOT}/{config}',
                          '--work-dir', work_dir, '--cfg-options', *schedule,
                          *data_options(toolbox, demo_data)], cwd=work_dir)
            with open(osp.join(work_dir, 'last_checkpoint')) as f:
                ckpt = f.read().strip()
            assert osp.isfile(ckpt), out[-3000:]
            done[toolbox] = dict(config=f'{ROOT}/{config}', ckpt=ckpt, log=out)
        return done[toolbox]

    return train


@pytest.mark.parametrize('toolbox', list(DEMO))
def test_shipped_train_then_test(toolbox, trained, demo_data, python, tmp_path):
    run = trained(toolbox)
    metric = DEMO[toolbox][3]
    assert metric in run['log']  # the validation at the end of training
    args = [shipped_script(toolbox, 'test.py'), run['config'], run['ckpt'],
            '--work-dir', str(tmp_path / 'test')]
    if toolbox != 'mmpretrain':
        args += ['--show-dir', str(tmp_path / 'show')]
    out = python([*args, '--cfg-options', *data_options(toolbox, demo_data)],
                 cwd=str(tmp_path))
    assert metric in out and '(test)' in out, out[-3000:]
    if toolbox == 'mmpretrain':
        return
    # mmdet draws every test image, mmseg every `interval`-th one (the demo config's 4:
    # the last of the 4 test images here): both write pictures
    drawn = glob.glob(str(tmp_path / '**' / '*.png'), recursive=True) + glob.glob(
        str(tmp_path / '**' / '*.jpg'), recursive=True)
    assert drawn, f'--show-dir drew nothing under {tmp_path}'


# Run in a process forked after PRELOAD: what a user of the published weights has (the
# toolboxes and mpvg_mm installed, nothing of them imported). Prints the inferencer's
# scores with the published and with the training checkpoint.
LOAD_PUBLISHED = r'''
import json, pickle, sys
import numpy as np
import torch
toolbox, config, published, original, image = sys.argv[1:]
assert 'mpvg_mm' not in sys.modules
ckpt = torch.load(published, map_location='cpu', weights_only=True)
assert sorted(ckpt) == ['meta', 'state_dict'], sorted(ckpt)
from mmengine.runner import CheckpointLoader
CheckpointLoader.load_checkpoint(published, map_location='cpu')
try:  # a training checkpoint: its message hub needs the project's allow-list
    torch.load(original, map_location='cpu', weights_only=True)
    refused = False
except pickle.UnpicklingError:
    refused = True
assert 'mpvg_mm' not in sys.modules  # so far, weights only


def scores(weights, **kwargs):
    if toolbox == 'mmpretrain':
        from mmpretrain.apis import ImageClassificationInferencer
        inferencer = ImageClassificationInferencer(model=config, pretrained=weights,
                                                   device='cpu')
        return inferencer(image)[0]['pred_scores'].tolist()
    if toolbox == 'mmdet':
        from mmdet.apis import DetInferencer
        inferencer = DetInferencer(weights=weights, device='cpu', **kwargs)
        return inferencer(image)['predictions'][0]['scores']
    from mmseg.apis import MMSegInferencer
    inferencer = MMSegInferencer(model=config, weights=weights, device='cpu')
    return inferencer(image, return_datasamples=True).seg_logits.data.mean((1, 2)).tolist()


result = dict(refused=refused, published=scores(published))
result['original'] = scores(original)  # loads now: the config imported mpvg_mm
if toolbox == 'mmdet':  # above, the config from the checkpoint's meta; here, the file
    result['published_with_config'] = scores(published, model=config)
    result['original_with_config'] = scores(original, model=config)
print('RESULT', json.dumps(result))
'''


@pytest.mark.parametrize('toolbox', list(DEMO))
def test_published_checkpoint_loads_without_the_project(toolbox, trained, demo_data, tool,
                                                        python, tmp_path):
    """tools/model_converters/publish_model.py: meta and state_dict only, named by its
    sha256, readable by torch.load(weights_only=True) and the toolbox's inferencer in a
    process that imported nothing of the project; same predictions as the training
    checkpoint."""
    import hashlib
    import json

    import torch
    run = trained(toolbox)
    published = tool('model_converters/publish_model').publish(run['ckpt'],
                                                               str(tmp_path / 'model.pth'))
    with open(published, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    assert osp.basename(published) == f'model-{sha[:8]}.pth'
    before = torch.load(run['ckpt'], map_location='cpu', weights_only=True)
    after = torch.load(published, map_location='cpu', weights_only=True)
    assert after['meta']['cfg'] == before['meta']['cfg']
    assert after['meta']['dataset_meta'] == before['meta']['dataset_meta']
    assert after['state_dict'].keys() == before['state_dict'].keys()
    for key, value in before['state_dict'].items():
        assert torch.equal(after['state_dict'][key], value), key

    image = demo_val_images(demo_data, toolbox)[0]
    script = tmp_path / 'load_published.py'
    script.write_text(LOAD_PUBLISHED)
    out = python([str(script), toolbox, run['config'], published, run['ckpt'], image],
                 cwd=str(tmp_path))
    result = json.loads(out.split('RESULT ', 1)[1].splitlines()[0])
    assert result['refused']  # why publishing is needed (README, "Checkpoints")
    assert result['published'], result
    torch.testing.assert_close(torch.tensor(result['published']),
                               torch.tensor(result['original']))
    if toolbox == 'mmdet':
        torch.testing.assert_close(torch.tensor(result['published_with_config']),
                                   torch.tensor(result['original_with_config']))
