"""Run a config (and checkpoint) on your own images and write the drawn predictions.

    python demo/image_demo.py IMG [IMG ...] CONFIG [--weights CKPT] [--out-dir DIR]

The config's ``default_scope`` picks the toolbox's inferencer, as its own
``demo/image_demo.py`` would: mmpretrain's ``ImageClassificationInferencer``, mmdet's
``DetInferencer`` or mmseg's ``MMSegInferencer``. Each picture is written as
``DIR/<image name>.png``; one line per image gives the prediction. Any image size runs:
the demo configs' test pipelines resize (classification, detection) or the backbone pads
to the patch (segmentation, ``pad_to_patch``; the ViT segmentor pads images under 32x32). Without ``--weights`` the model is randomly
initialised (the toolboxes warn) and the classes are the label indices. Bad arguments
(a missing or non-image input, the config not last, a missing checkpoint, a checkpoint of
another model, ``--device cuda`` without a GPU, two inputs with the same picture name, a
score threshold outside [0, 1]) are refused in one line before the model is built.
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

SCOPES = ('mmpretrain', 'mmdet', 'mmseg')


def picture_path(image: str, out_dir: str) -> str:
    """``out_dir/<image name without extension>.png``, where the picture of ``image`` goes."""
    return osp.join(out_dir, osp.splitext(osp.basename(image))[0] + '.png')


def check_arguments(images, config, weights=None, device='cpu', score_thr=0.3,
                    out_dir='demo_out') -> None:
    """Refuses what would fail (or overwrite) later, before the slow model build.

    Raises:
        ValueError: one line naming the problem and the fix.
    """
    import mmcv
    if not config.endswith('.py'):
        first = next((path for path in images if path.endswith('.py')), None)
        raise ValueError(
            f'{config}: the last argument must be the config (a .py file)'
            + (f'; {first} is a config: give the images first, then the config'
               if first else ''))
    if not osp.isfile(config):
        raise ValueError(f'config {config} not found: give the path of a config file '
                         '(e.g. configs/demo/...py)')
    for image in images:
        if image.endswith('.py'):
            raise ValueError(f'{image} is a config, not an image: give the images first, '
                             'then one config')
        if not osp.isfile(image):
            raise ValueError(f'image {image} not found (or not a file): give image files')
        try:
            readable = mmcv.imread(image) is not None
        except Exception:  # noqa: BLE001 - any decoder failure means "not an image"
            readable = False
        if not readable:
            raise ValueError(f'{image} is not an image OpenCV can read: give .jpg/.png/... '
                             'files')
    pictures = {}
    for image in images:
        path = picture_path(image, out_dir)
        if path in pictures:
            raise ValueError(f'{pictures[path]} and {image} would both be drawn to {path}: '
                             'rename one or run them separately')
        pictures[path] = image
    if weights is not None and '://' not in weights and not osp.isfile(weights):
        raise ValueError(f'--weights {weights} not found: give a checkpoint file (or none '
                         'for random weights)')
    if not 0 <= score_thr <= 1:
        raise ValueError(f'--score-thr {score_thr} is outside [0, 1]: detection scores are '
                         'probabilities')
    if str(device).startswith('cuda'):
        import torch
        if not torch.cuda.is_available():
            raise ValueError(f'--device {device}: no CUDA GPU is available here; use '
                             '--device cpu')


def make_inferencer(config: str, weights=None, device: str = 'cpu'):
    """``(scope, inferencer)`` for the config's ``default_scope``; a checkpoint whose
    weights do not fit the model (another config's or another task's) is refused as
    ``tools/test.py`` refuses it (``mpvg_mm.cli.load_fitting_weights``).

    Raises:
        ValueError: when the scope is none of mmpretrain, mmdet, mmseg, or the checkpoint
            does not fit.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config)  # imports mpvg_mm (custom_imports)
    scope = cfg.get('default_scope')
    if scope not in SCOPES:
        raise ValueError(f'{config}: default_scope={scope!r}; image_demo.py knows {SCOPES}')
    checkpoint = None
    if weights is not None and '://' not in weights:
        from mpvg_mm.compat import load_checkpoint_file
        checkpoint = load_checkpoint_file(weights, map_location='cpu')
    inferencer = _build_inferencer(scope, cfg, weights, device, checkpoint)
    if checkpoint is not None:
        from mpvg_mm.cli import load_fitting_weights
        load_fitting_weights(inferencer.model, checkpoint, weights, config,
                             override='pass the config it was trained with')
    return scope, inferencer


def _build_inferencer(scope, cfg, weights, device, checkpoint):
    if scope == 'mmpretrain':
        from mmpretrain.apis import ImageClassificationInferencer
        return ImageClassificationInferencer(cfg, pretrained=weights or False, device=device)
    if scope == 'mmdet':
        from mmdet.apis import DetInferencer
        return DetInferencer(cfg, weights=weights, device=device, show_progress=False)
    from mmseg.apis import MMSegInferencer
    meta = (checkpoint or {}).get('meta') or {}
    if weights is not None and ('dataset_meta' in meta or 'CLASSES' in meta or
                                checkpoint is None):
        return MMSegInferencer(cfg, weights=weights, device=device)
    # no class names known (no weights, or none saved): the label indices, not mmseg's
    # Cityscapes fallback (19 names for a model with other classes)
    num_classes = cfg.model.decode_head.num_classes
    dataset_meta = dict(classes=[str(i) for i in range(num_classes)],
                        palette=np.random.RandomState(0).randint(
                            0, 256, (num_classes, 3)).tolist())
    inferencer = MMSegInferencer(cfg, weights=weights, device=device, **dataset_meta)
    inferencer.model.dataset_meta = dataset_meta
    return inferencer


def _num_classes(model) -> int:
    """The number of classes of a classifier, detector or segmentor (from its head)."""
    for head in ('head', 'decode_head'):
        if hasattr(model, head):
            return getattr(model, head).num_classes
    return model.roi_head.bbox_head.num_classes


def summary(scope: str, sample, classes, score_thr: float) -> str:
    """One line: the top class (classification), the detections above ``score_thr``
    (detection) or each class's share of the pixels (segmentation)."""
    if scope == 'mmpretrain':
        scores = sample.pred_score
        label = int(scores.argmax())
        return f'{classes[label]} ({float(scores[label]):.3f})'
    if scope == 'mmdet':
        pred = sample.pred_instances
        keep = pred.scores >= score_thr
        found = [f'{classes[int(label)]} {float(score):.2f}'
                 for label, score in zip(pred.labels[keep], pred.scores[keep])]
        return f'{len(found)} above {score_thr}: ' + ', '.join(found)
    seg = np.asarray(sample)  # mmseg's inferencer: the (H, W) label map
    shares = np.bincount(seg.ravel(), minlength=len(classes)) / seg.size
    return ', '.join(f'{name} {100 * share:.1f}%' for name, share in zip(classes, shares)
                     if share > 0)


def _one_pixel_picture(visualizer, image: str, labels) -> 'np.ndarray':
    """The ``(1, 1, 3)`` RGB picture of a one-pixel image's segmentation, blended as
    mmseg's ``SegLocalVisualizer`` blends (``alpha`` of the class colour). mmseg 1.x's
    visualizer cannot draw it: it indexes its colour mask with a one-element torch
    tensor, which numpy reads as an integer index (``IndexError`` on a 1x1 image)."""
    import mmcv
    import numpy as np
    rgb = mmcv.imread(image, channel_order='rgb').astype(np.float64)
    palette = visualizer.dataset_meta['palette']
    label = int(np.asarray(labels).reshape(-1)[0])
    color = np.asarray(palette[label] if label < len(palette) else (0, 0, 0), np.float64)
    return (rgb * (1 - visualizer.alpha) + color * visualizer.alpha).astype(np.uint8)


def run(images, config, weights=None, out_dir='demo_out', device='cpu', score_thr=0.3):
    """Runs the config on each image, writes ``out_dir/<name>.png``; returns a list of
    ``(picture path, summary line)``."""
    import mmcv
    check_arguments(images, config, weights, device, score_thr, out_dir)
    scope, inferencer = make_inferencer(config, weights, device)
    classes = (inferencer.classes if scope == 'mmpretrain' else
               (getattr(inferencer.model, 'dataset_meta', None) or {}).get('classes'))
    if not classes:  # no weights (or none with class names): the label indices
        classes = [str(i) for i in range(_num_classes(inferencer.model))]
    os.makedirs(out_dir, exist_ok=True)
    results = []
    for image in images:
        path = picture_path(image, out_dir)
        if scope == 'mmpretrain':  # draws to show_dir/<stem>.png (short side 256 px)
            sample = inferencer(image, return_datasamples=True, show_dir=out_dir,
                                resize=256)[0]
            results.append((path, summary(scope, sample, classes, score_thr)))
            continue
        if scope == 'mmdet':
            out = inferencer(image, return_datasamples=True, return_vis=True,
                             pred_score_thr=score_thr, no_save_pred=True)
            sample, vis = out['predictions'][0], out['visualization']
        elif mmcv.imread(image).shape[:2] == (1, 1):
            sample = inferencer(image)['predictions']  # (1, 1) labels
            vis = _one_pixel_picture(inferencer.visualizer, image, sample)
        else:
            out = inferencer(image, return_vis=True)  # (H, W) labels and the picture
            sample, vis = out['predictions'], out['visualization']
        if isinstance(vis, list):  # mmdet: a list; mmseg: the one picture of one image
            vis = vis[0]
        mmcv.imwrite(vis[..., ::-1], path)  # the visualizers draw RGB
        results.append((path, summary(scope, sample, classes, score_thr)))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('inputs', nargs='+', help='image files, then the config')
    parser.add_argument('--weights', help='checkpoint (published or from training)')
    parser.add_argument('--out-dir', default='demo_out')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detections drawn and listed from this score')
    args = parser.parse_args(argv)
    if len(args.inputs) < 2:
        parser.error('give one or more images, then the config')
    *images, config = args.inputs
    try:
        check_arguments(images, config, args.weights, args.device, args.score_thr,
                        args.out_dir)
        results = run(images, config, args.weights, args.out_dir, args.device, args.score_thr)
    except ValueError as error:
        print(f'image_demo.py: error: {error}', file=sys.stderr)
        sys.exit(2)
    for path, line in results:
        print(f'{path}: {line}')


if __name__ == '__main__':
    main()
