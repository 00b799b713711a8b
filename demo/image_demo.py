"""Run a config (and checkpoint) on your own images and write the drawn predictions.

    python demo/image_demo.py IMG [IMG ...] CONFIG [--weights CKPT] [--out-dir DIR]

The config's ``default_scope`` picks the toolbox's inferencer, as its own
``demo/image_demo.py`` would: mmpretrain's ``ImageClassificationInferencer``, mmdet's
``DetInferencer`` or mmseg's ``MMSegInferencer``. Each picture is written as
``DIR/<image name>.png``; one line per image gives the prediction. Any image size runs:
the demo configs' test pipelines resize (classification, detection) or the backbone pads
to the patch (segmentation, ``pad_to_patch``). Without ``--weights`` the model is randomly
initialised (the toolboxes warn).
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

SCOPES = ('mmpretrain', 'mmdet', 'mmseg')


def make_inferencer(config: str, weights=None, device: str = 'cpu'):
    """``(scope, inferencer)`` for the config's ``default_scope``.

    Raises:
        ValueError: when the scope is none of mmpretrain, mmdet, mmseg.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config)  # imports mpvg_mm (custom_imports)
    scope = cfg.get('default_scope')
    if scope == 'mmpretrain':
        from mmpretrain.apis import ImageClassificationInferencer
        return scope, ImageClassificationInferencer(cfg, pretrained=weights or False,
                                                    device=device)
    if scope == 'mmdet':
        from mmdet.apis import DetInferencer
        return scope, DetInferencer(cfg, weights=weights, device=device, show_progress=False)
    if scope == 'mmseg':
        from mmseg.apis import MMSegInferencer
        return scope, MMSegInferencer(cfg, weights=weights, device=device)
    raise ValueError(f'{config}: default_scope={scope!r}; image_demo.py knows {SCOPES}')


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


def run(images, config, weights=None, out_dir='demo_out', device='cpu', score_thr=0.3):
    """Runs the config on each image, writes ``out_dir/<name>.png``; returns a list of
    ``(picture path, summary line)``."""
    import mmcv
    scope, inferencer = make_inferencer(config, weights, device)
    classes = (inferencer.classes if scope == 'mmpretrain' else
               (getattr(inferencer.model, 'dataset_meta', None) or {}).get('classes'))
    if not classes:  # no weights (or none with class names): the label indices
        classes = [str(i) for i in range(_num_classes(inferencer.model))]
    os.makedirs(out_dir, exist_ok=True)
    results = []
    for image in images:
        path = osp.join(out_dir, osp.splitext(osp.basename(image))[0] + '.png')
        if scope == 'mmpretrain':  # draws to show_dir/<stem>.png (short side 256 px)
            sample = inferencer(image, return_datasamples=True, show_dir=out_dir,
                                resize=256)[0]
            results.append((path, summary(scope, sample, classes, score_thr)))
            continue
        if scope == 'mmdet':
            out = inferencer(image, return_datasamples=True, return_vis=True,
                             pred_score_thr=score_thr, no_save_pred=True)
            sample, vis = out['predictions'][0], out['visualization']
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
    for path, line in run(images, config, args.weights, args.out_dir, args.device,
                          args.score_thr):
        print(f'{path}: {line}')


if __name__ == '__main__':
    main()
