"""Procedural demo scenes and the three on-disk datasets drawn from them.

One scene source feeds three real dataset layouts, so that every toolbox trains on
data it reads with its own, unchanged dataset class:

* ``imagenet`` (mmpretrain ``ImageNet`` / ``CustomDataset``): one object per image,
  label = shape x side of the image its centre lies in (``circle_left``, ...). The
  side makes the task position-dependent, so position embedding matters.
* ``coco`` (mmdet ``CocoDataset``, pycocotools): 1..3 objects, boxes, polygon (or RLE)
  instance masks that follow the occlusion order of the render.
* ``ade20k`` (mmseg ``ADE20KDataset(reduce_zero_label=True)``): semantic maps with
  0 = background and shape ``c`` stored as ``c + 1``.

Each shape class is filled with its own pattern (:data:`SHAPE_FILLS`: solid circles,
striped squares, checkered triangles, dotted crosses) in a random colour, as real
categories have their own texture. A small ViT trained for minutes on CPU learns such
local appearance quickly and silhouettes slowly, so the pattern is what lets the demo
models get far above chance in a CPU budget. ``textured=False`` (``make_demo_data.py
--flat``) draws every object in one flat colour: the silhouette is then the only cue.

Everything is deterministic: each image has its own generator, seeded from
``(seed, format, split, index)``, so one sample can be regenerated without the rest
(:func:`imagenet_scene`, :func:`instance_scene`). Only numpy and cv2 are used (cv2
for contour extraction and image encoding).

Coordinates: a :class:`Scene` is resolution-free; object centres are fractions of
the image width / height (x to the right, y downwards) and object sizes fractions of
the shorter image side. Pixel ``(row i, col j)`` has its centre at ``(j + .5, i + .5)``.
"""
import json
import os
import os.path as osp
import zlib
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

#: The shape classes, in label order (COCO category id = index + 1, ADE20K value =
#: index + 1, mmseg label after ``reduce_zero_label`` = index).
SHAPES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'cross')
#: The image halves of the position-dependent classification task, in label order.
SIDES: Tuple[str, ...] = ('left', 'right')
#: A fixed display palette of the shape classes (RGB), e.g. for mmseg's ``metainfo``.
SHAPE_PALETTE: Tuple[Tuple[int, int, int], ...] = ((220, 20, 60), (0, 130, 200),
                                                   (255, 200, 0), (60, 180, 75))
#: Fill patterns of objects, and the one of each shape class (index = shape index).
FILLS: Tuple[str, ...] = ('solid', 'stripes', 'checker', 'dots')
SHAPE_FILLS: Tuple[str, ...] = FILLS
#: Fill patterns repeat every FILL_PERIOD pixels (axis-aligned, at any image size); their
#: second colour is the object's colour times FILL_SHADE.
FILL_PERIOD = 4
FILL_SHADE = 0.4
#: Background texture kinds.
BACKGROUND_KINDS: Tuple[str, ...] = ('noise', 'stripes', 'gradient')
#: The dataset formats :func:`write_dataset` knows, in the order they are written.
FORMATS: Tuple[str, ...] = ('imagenet', 'coco', 'ade20k')
#: Split names of each on-disk layout, keyed by the generic split ('train' / 'val').
SPLIT_DIRS: Dict[str, Dict[str, str]] = {
    'imagenet': {'train': 'train', 'val': 'val'},
    'coco': {'train': 'train2017', 'val': 'val2017'},
    'ade20k': {'train': 'training', 'val': 'validation'},
}
#: Default image size (pixels, square) of each format.
DEFAULT_IMG_SIZE: Dict[str, int] = {'imagenet': 32, 'coco': 128, 'ade20k': 128}
#: Default image counts: ImageNet per class, COCO / ADE20K per split.
DEFAULT_NUM_TRAIN: Dict[str, int] = {'imagenet': 100, 'coco': 200, 'ade20k': 200}
DEFAULT_NUM_VAL: Dict[str, int] = {'imagenet': 20, 'coco': 50, 'ade20k': 50}

JPEG_QUALITY = 95
_SPLIT_CODES = {'train': 0, 'val': 1}
# Shape geometry, as multiples of an object's ``size`` (its nominal half extent).
_SQUARE_HALF_SIDE = 0.85
_TRIANGLE_CIRCUMRADIUS = 1.15
_CROSS_HALF_WIDTH = 0.35
#: The largest distance from an object's centre to its silhouette, per unit size.
_MAX_EXTENT = max(1.0, _SQUARE_HALF_SIDE * np.sqrt(2), _TRIANGLE_CIRCUMRADIUS,
                  float(np.hypot(1.0, _CROSS_HALF_WIDTH)))

Size = Union[int, Tuple[int, int]]


# --------------------------------------------------------------------------- classes
def shape_classes() -> Tuple[str, ...]:
    """Class names of the COCO and ADE20K datasets (``SHAPES``)."""
    return SHAPES


def imagenet_classes() -> Tuple[str, ...]:
    """Class names of the classification task: ``f'{shape}_{side}'``.

    Label ``shape_index * len(SIDES) + side_index``, i.e. ``('circle_left',
    'circle_right', 'square_left', ...)``.
    """
    return tuple(f'{shape}_{side}' for shape in SHAPES for side in SIDES)


def imagenet_label(shape: int, side: int) -> int:
    """Label index of ``(shape index, side index)`` in :func:`imagenet_classes`."""
    return shape * len(SIDES) + side


def side_of(center_x: float) -> int:
    """Side index (0 = left, 1 = right) of a normalised x coordinate."""
    return int(center_x >= 0.5)


# ---------------------------------------------------------------------- scene types
@dataclass(frozen=True)
class SceneObject:
    """One shape, in one colour or a two-tone fill pattern.

    Attributes:
        shape: index into :data:`SHAPES`.
        center: ``(cx, cy)``, fractions of the image width and height.
        size: nominal half extent, fraction of the shorter image side (the radius
            of a circle, the arm half-length of a cross).
        angle: rotation of the silhouette in radians.
        color: RGB, each 0..255.
        fill: one of :data:`FILLS`; ``'solid'`` is ``color`` alone, the others
            alternate ``color`` and ``FILL_SHADE * color`` (see :func:`fill_pattern`).
    """
    shape: int
    center: Tuple[float, float]
    size: float
    angle: float
    color: Tuple[int, int, int]
    fill: str = 'solid'


@dataclass(frozen=True)
class Background:
    """A textured background.

    Attributes:
        kind: one of :data:`BACKGROUND_KINDS`.
        colors: RGB colours; ``noise``: a ``g x g`` grid flattened row-major,
            ``stripes`` / ``gradient``: the two end colours.
        grid: side ``g`` of the ``noise`` colour grid (0 for other kinds).
        angle: direction of stripes / gradient, radians.
        frequency: stripe periods across the image (``stripes`` only).
        phase: stripe phase, radians (``stripes`` only).
        noise_sigma: std of the per-pixel Gaussian noise added to the whole image.
        noise_seed: seed of that noise (so the render needs no outside generator).
    """
    kind: str
    colors: Tuple[Tuple[int, int, int], ...]
    grid: int = 0
    angle: float = 0.0
    frequency: float = 0.0
    phase: float = 0.0
    noise_sigma: float = 0.0
    noise_seed: int = 0


@dataclass(frozen=True)
class Scene:
    """A background and objects, drawn in order (later objects on top)."""
    background: Background
    objects: Tuple[SceneObject, ...]


# -------------------------------------------------------------------------- seeding
def _hw(size: Size) -> Tuple[int, int]:
    """``(height, width)`` from an int (square) or a ``(height, width)`` pair."""
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    height, width = size
    return int(height), int(width)


def sample_rng(seed: int, fmt: str, split: str, *keys: int) -> np.random.Generator:
    """The generator of one sample: independent per ``(seed, fmt, split, *keys)``.

    ``fmt`` is hashed with CRC32 (stable across runs, unlike ``hash``).
    """
    entropy = [int(seed), zlib.crc32(fmt.encode()), _SPLIT_CODES[split], *map(int, keys)]
    return np.random.default_rng(np.random.SeedSequence(entropy))


# ------------------------------------------------------------------------- sampling
def _hsv_to_rgb(hue: float, sat: float, val: float) -> Tuple[int, int, int]:
    """RGB (0..255 ints) of an HSV colour with all components in [0, 1]."""
    h6 = (hue % 1.0) * 6.0
    sector = int(h6) % 6
    frac = h6 - int(h6)
    p, q, t = val * (1 - sat), val * (1 - sat * frac), val * (1 - sat * (1 - frac))
    rgb = [(val, t, p), (q, val, p), (p, val, t), (p, q, val), (t, p, val),
           (val, p, q)][sector]
    return tuple(int(round(255 * c)) for c in rgb)


def sample_background(rng: np.random.Generator) -> Background:
    """A random muted background: smooth colour noise, stripes or a gradient."""
    kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))]
    base = rng.uniform(60, 190, size=3)

    def muted(n: int) -> Tuple[Tuple[int, int, int], ...]:
        cols = np.clip(base + rng.uniform(-45, 45, size=(n, 3)), 0, 255)
        return tuple(tuple(int(v) for v in c) for c in np.rint(cols))

    noise_sigma = float(rng.uniform(0, 6))
    noise_seed = int(rng.integers(2**31))
    if kind == 'noise':
        grid = int(rng.integers(3, 7))
        return Background(kind, muted(grid * grid), grid=grid, noise_sigma=noise_sigma,
                          noise_seed=noise_seed)
    angle = float(rng.uniform(0, np.pi))
    if kind == 'stripes':
        return Background(kind, muted(2), angle=angle,
                          frequency=float(rng.uniform(1.5, 6)),
                          phase=float(rng.uniform(0, 2 * np.pi)),
                          noise_sigma=noise_sigma, noise_seed=noise_seed)
    return Background(kind, muted(2), angle=angle, noise_sigma=noise_sigma,
                      noise_seed=noise_seed)


def sample_object_color(rng: np.random.Generator, background: Background,
                        avoid: Sequence[Tuple[int, int, int]] = (),
                        min_distance: float = 110.0,
                        tries: int = 32) -> Tuple[int, int, int]:
    """A saturated colour far (Euclidean RGB) from the background and ``avoid``.

    Falls back to the best of ``tries`` candidates if none is far enough.
    """
    refs = np.array(list(background.colors) + list(avoid), dtype=np.float64)
    refs = np.concatenate([refs, refs.mean(0, keepdims=True)])
    best, best_dist = None, -1.0
    for _ in range(tries):
        color = _hsv_to_rgb(rng.uniform(), rng.uniform(0.55, 1.0), rng.uniform(0.55, 1.0))
        dist = float(np.min(np.linalg.norm(refs - np.array(color), axis=1)))
        if dist >= min_distance:
            return color
        if dist > best_dist:
            best, best_dist = color, dist
    return best


def sample_object(rng: np.random.Generator, background: Background,
                  shape: Optional[int] = None,
                  x_range: Tuple[float, float] = (0.0, 1.0),
                  y_range: Tuple[float, float] = (0.0, 1.0),
                  size_range: Tuple[float, float] = (0.1, 0.2),
                  avoid_colors: Sequence[Tuple[int, int, int]] = (),
                  textured: bool = True) -> SceneObject:
    """A random object whose centre lies in ``x_range`` x ``y_range`` (fractions).

    The ranges are shrunk so that the whole silhouette stays inside the image
    (assuming a square image). ``textured``: fill it with its class's pattern
    (:data:`SHAPE_FILLS`), else solid. The fill draws no random numbers, so a scene's
    geometry and colours do not depend on it.
    """
    if shape is None:
        shape = int(rng.integers(len(SHAPES)))
    size = float(rng.uniform(*size_range))
    margin = size * _MAX_EXTENT
    lo_x, hi_x = max(x_range[0], margin), min(x_range[1], 1 - margin)
    lo_y, hi_y = max(y_range[0], margin), min(y_range[1], 1 - margin)
    if lo_x > hi_x or lo_y > hi_y:
        raise ValueError(f'object of size {size:.3f} does not fit in x {x_range}, '
                         f'y {y_range}')
    center = (float(rng.uniform(lo_x, hi_x)), float(rng.uniform(lo_y, hi_y)))
    angle = float(rng.uniform(0, 2 * np.pi))
    color = sample_object_color(rng, background, avoid_colors)
    fill = SHAPE_FILLS[shape] if textured else 'solid'
    return SceneObject(shape, center, size, angle, color, fill)


def sample_classification_scene(rng: np.random.Generator, shape: int, side: int,
                                size_range: Tuple[float, float] = (0.14, 0.22),
                                gap: float = 0.06, textured: bool = True) -> Scene:
    """One object of ``shape`` whose centre is in the ``side`` half of the image.

    The centre stays ``gap`` (fraction of the width) away from the midline.
    """
    background = sample_background(rng)
    x_range = (0.0, 0.5 - gap) if side == 0 else (0.5 + gap, 1.0)
    obj = sample_object(rng, background, shape=shape, x_range=x_range,
                        size_range=size_range, textured=textured)
    return Scene(background, (obj, ))


def sample_instance_scene(rng: np.random.Generator, min_objects: int = 1,
                          max_objects: int = 3,
                          size_range: Tuple[float, float] = (0.08, 0.2),
                          tries: int = 20, textured: bool = True) -> Scene:
    """A scene of ``min_objects..max_objects`` random objects that overlap only partly.

    Two objects' centres are at least ``1.2 * larger + 0.3 * smaller`` size apart, so
    neither centre is covered by the other's silhouette; an object that cannot be
    placed within ``tries`` is skipped (the first one always fits).
    """
    background = sample_background(rng)
    num = int(rng.integers(min_objects, max_objects + 1))
    objects: List[SceneObject] = []
    for _ in range(num):
        for _ in range(tries):
            cand = sample_object(rng, background, size_range=size_range,
                                 avoid_colors=[o.color for o in objects],
                                 textured=textured)
            if all(_far_enough(cand, o) for o in objects):
                objects.append(cand)
                break
    return Scene(background, tuple(objects))


def _far_enough(a: SceneObject, b: SceneObject) -> bool:
    """Whether two objects' centres are far enough apart (see sample_instance_scene)."""
    dist = np.hypot(a.center[0] - b.center[0], a.center[1] - b.center[1])
    big, small = max(a.size, b.size), min(a.size, b.size)
    return dist >= 1.2 * big + 0.3 * small


# ------------------------------------------------------------------------ rendering
def _pixel_grid(height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(x, y)``, each of shape (H, W), in pixels."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    return xs, ys


def _bilinear_upsample(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear interpolation of a (g, g, C) grid spread over (height, width, C)."""
    g = grid.shape[0]
    ys = (np.arange(height) + 0.5) / height * (g - 1)
    xs = (np.arange(width) + 0.5) / width * (g - 1)
    y0 = np.clip(np.floor(ys).astype(int), 0, g - 2)
    x0 = np.clip(np.floor(xs).astype(int), 0, g - 2)
    wy = (ys - y0)[:, None, None]
    wx = (xs - x0)[None, :, None]
    top = grid[y0][:, x0] * (1 - wx) + grid[y0][:, x0 + 1] * wx
    bottom = grid[y0 + 1][:, x0] * (1 - wx) + grid[y0 + 1][:, x0 + 1] * wx
    return top * (1 - wy) + bottom * wy


def render_background(background: Background, height: int, width: int) -> np.ndarray:
    """The background alone, float64 RGB of shape (H, W, 3), without pixel noise."""
    colors = np.asarray(background.colors, dtype=np.float64)
    if background.kind == 'noise':
        grid = colors.reshape(background.grid, background.grid, 3)
        return _bilinear_upsample(grid, height, width)
    xs, ys = _pixel_grid(height, width)
    proj = (xs / width * np.cos(background.angle) + ys / height * np.sin(background.angle))
    if background.kind == 'stripes':
        t = 0.5 + 0.5 * np.sin(2 * np.pi * background.frequency * proj + background.phase)
    elif background.kind == 'gradient':
        t = (proj - proj.min()) / max(float(np.ptp(proj)), 1e-9)
    else:
        raise ValueError(f'unknown background kind {background.kind!r}')
    t = t[..., None]
    return colors[0] * (1 - t) + colors[1] * t


def object_mask(obj: SceneObject, height: int, width: int) -> np.ndarray:
    """The full (unoccluded) silhouette of ``obj``: bool array of shape (H, W)."""
    xs, ys = _pixel_grid(height, width)
    scale = obj.size * min(height, width)
    dx, dy = xs - obj.center[0] * width, ys - obj.center[1] * height
    cos, sin = np.cos(obj.angle), np.sin(obj.angle)
    u, v = (cos * dx + sin * dy) / scale, (-sin * dx + cos * dy) / scale
    name = SHAPES[obj.shape]
    if name == 'circle':
        return u * u + v * v <= 1.0
    if name == 'square':
        return np.maximum(np.abs(u), np.abs(v)) <= _SQUARE_HALF_SIDE
    if name == 'triangle':
        # equilateral: inside iff the projection on each vertex direction, negated,
        # is within the inradius (half the circumradius)
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            theta = -np.pi / 2 + 2 * np.pi * k / 3
            inside &= -(u * np.cos(theta) + v * np.sin(theta)) <= _TRIANGLE_CIRCUMRADIUS / 2
        return inside
    if name == 'cross':
        au, av = np.abs(u), np.abs(v)
        w = _CROSS_HALF_WIDTH
        return ((au <= 1) & (av <= w)) | ((au <= w) & (av <= 1))
    raise ValueError(f'unknown shape {name!r}')


def fill_pattern(fill: str, height: int, width: int) -> np.ndarray:
    """Where a ``fill`` is shaded: bool (H, W), periodic with :data:`FILL_PERIOD` px.

    ``solid``: nowhere; ``stripes``: horizontal bands of half a period; ``checker``:
    squares of half a period; ``dots``: one half-period square per period cell.
    """
    rows, cols = np.mgrid[0:height, 0:width]
    half = FILL_PERIOD // 2
    band_y, band_x = (rows // half) % 2 == 1, (cols // half) % 2 == 1
    if fill == 'solid':
        return np.zeros((height, width), dtype=bool)
    if fill == 'stripes':
        return band_y
    if fill == 'checker':
        return band_y ^ band_x
    if fill == 'dots':
        return ~band_y & ~band_x
    raise ValueError(f'unknown fill {fill!r}; choose from {FILLS}')


def visible_masks(scene: Scene, height: int, width: int) -> np.ndarray:
    """Per-object visible masks, bool (N, H, W): later objects hide earlier ones."""
    masks = np.zeros((len(scene.objects), height, width), dtype=bool)
    covered = np.zeros((height, width), dtype=bool)
    for i in range(len(scene.objects) - 1, -1, -1):
        full = object_mask(scene.objects[i], height, width)
        masks[i] = full & ~covered
        covered |= full
    return masks


def render_scene(scene: Scene, size: Size) -> Tuple[np.ndarray, np.ndarray]:
    """Render ``scene`` at ``size`` (int or ``(H, W)``).

    Returns:
        image: uint8 RGB, shape (H, W, 3).
        masks: bool visible instance masks, shape (N, H, W), in ``scene.objects``
            order (pairwise disjoint).
    """
    height, width = _hw(size)
    image = render_background(scene.background, height, width)
    masks = visible_masks(scene, height, width)
    for obj, mask in zip(scene.objects, masks):
        color = np.asarray(obj.color, dtype=np.float64)
        image[mask] = color
        image[mask & fill_pattern(obj.fill, height, width)] = FILL_SHADE * color
    bg = scene.background
    if bg.noise_sigma > 0:
        noise = np.random.default_rng(bg.noise_seed).normal(size=image.shape)
        image = image + bg.noise_sigma * noise
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), masks


def semantic_map(scene: Scene, masks: np.ndarray) -> np.ndarray:
    """ADE20K-style map, uint8 (H, W): 0 = background, shape index + 1 elsewhere."""
    seg = np.zeros(masks.shape[1:], dtype=np.uint8)
    for obj, mask in zip(scene.objects, masks):
        seg[mask] = obj.shape + 1
    return seg


def drop_hidden_objects(scene: Scene, size: Size, min_visible_fraction: float = 0.3,
                        min_pixels: int = 16) -> Scene:
    """Remove objects that are (almost) hidden or too small at this render size.

    An object is kept if its visible area is at least ``min_pixels`` and at least
    ``min_visible_fraction`` of its full silhouette. Removing an object never hides
    another (only later objects occlude), so one pass suffices.
    """
    height, width = _hw(size)
    masks = visible_masks(scene, height, width)
    keep = []
    for obj, mask in zip(scene.objects, masks):
        full = int(object_mask(obj, height, width).sum())
        vis = int(mask.sum())
        if vis >= min_pixels and vis >= min_visible_fraction * full:
            keep.append(obj)
    return replace(scene, objects=tuple(keep))


# ------------------------------------------------------------- per-sample sources
def imagenet_scene(seed: int, split: str, label: int, k: int,
                   textured: bool = True) -> Scene:
    """The ``k``-th classification scene of class ``label`` in ``split``."""
    shape, side = divmod(label, len(SIDES))
    return sample_classification_scene(sample_rng(seed, 'imagenet', split, label, k),
                                       shape, side, textured=textured)


def instance_scene(seed: int, fmt: str, split: str, index: int, size: Size,
                   max_objects: int = 3, textured: bool = True) -> Scene:
    """The ``index``-th multi-object scene of ``fmt`` ('coco' / 'ade20k') in ``split``.

    Hidden or tiny objects (at ``size``) are already dropped; at least one object
    remains (a scene that would be left empty is resampled).
    """
    rng = sample_rng(seed, fmt, split, index)
    for _ in range(100):
        scene = drop_hidden_objects(
            sample_instance_scene(rng, max_objects=max_objects, textured=textured), size)
        if scene.objects:
            return scene
    raise ValueError(f'no visible object at size {size}: the image is too small')


# ------------------------------------------------------------ mask -> annotation
def mask_to_bbox(mask: np.ndarray) -> List[float]:
    """COCO box ``[x, y, w, h]`` (pixel edges) of a non-empty bool (H, W) mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    x0, y0 = int(cols[0]), int(rows[0])
    return [float(x0), float(y0), float(cols[-1] + 1 - x0), float(rows[-1] + 1 - y0)]


def mask_to_polygons(mask: np.ndarray, upsample: int = 4) -> Optional[List[List[float]]]:
    """COCO polygons ``[[x1, y1, x2, y2, ...], ...]`` of a bool (H, W) mask, or None.

    Contours are traced on the mask upsampled ``upsample`` times, so they run just
    inside the pixel edges (not through boundary pixel centres, which would lose half
    a pixel all around); pycocotools rasterises them back to the same pixels. Returns
    None when the mask has holes or a contour is degenerate (< 3 points), where
    polygons cannot represent it: use :func:`mask_to_rle` then.
    """
    up = np.repeat(np.repeat(mask.astype(np.uint8), upsample, 0), upsample, 1)
    contours, hierarchy = cv2.findContours(up, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    if hierarchy is not None and np.any(hierarchy.reshape(-1, 4)[:, 3] >= 0):
        return None  # a contour with a parent is a hole
    polygons = []
    for contour in contours:
        pts = contour.reshape(-1, 2).astype(np.float64)
        if len(pts) < 3:
            return None
        polygons.append(((pts + 0.5) / upsample).ravel().tolist())
    return polygons


def mask_to_rle(mask: np.ndarray) -> Dict[str, list]:
    """Uncompressed COCO RLE of a bool (H, W) mask: column-major runs, zeros first."""
    flat = np.asarray(mask, dtype=bool).ravel(order='F')
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {'counts': [int(c) for c in counts], 'size': [int(s) for s in mask.shape]}


def mask_to_segmentation(mask: np.ndarray) -> Union[List[List[float]], Dict[str, list]]:
    """Polygons when they represent ``mask`` exactly, otherwise uncompressed RLE."""
    polygons = mask_to_polygons(mask)
    return polygons if polygons is not None else mask_to_rle(mask)


# -------------------------------------------------------------------------- writers
def _write_image(path: str, image: np.ndarray) -> None:
    """Write an RGB uint8 (H, W, 3) image; JPEG (quality 95) or PNG by suffix."""
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if path.lower().endswith(
        ('.jpg', '.jpeg')) else []
    if not cv2.imwrite(path, np.ascontiguousarray(image[..., ::-1]), params):
        raise OSError(f'cv2.imwrite failed for {path}')


def _write_png_gray(path: str, array: np.ndarray) -> None:
    """Write a single-channel uint8 (H, W) PNG."""
    if not cv2.imwrite(path, np.ascontiguousarray(array)):
        raise OSError(f'cv2.imwrite failed for {path}')


def _remove_stale(folder: str, suffix: str, written: set) -> None:
    """Delete files ending in ``suffix`` under ``folder`` (recursively) that this run
    did not write, so a rerun with fewer samples leaves no orphans behind."""
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = osp.join(dirpath, name)
            if name.endswith(suffix) and path not in written:
                os.remove(path)


def _write_text(path: str, lines: Sequence[str]) -> None:
    with open(path, 'w', newline='\n') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def write_imagenet(root: str, seed: int = 0, num_train: int = 100, num_val: int = 20,
                   img_size: Size = 32, textured: bool = True) -> Dict[str, object]:
    """Write the classification set under ``root`` in mmpretrain's ImageNet layout.

    ``root/{train,val}/<class>/<class>_<k>.JPEG``, ``root/meta/{train,val}.txt``
    (``<class>/<file> <label>``, relative to the split folder) and
    ``root/meta/classes.txt``. ``num_train`` / ``num_val`` are images per class.

    Returns:
        ``{'root', 'classes', 'train', 'val'}`` (image counts per split).
    """
    classes = imagenet_classes()
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    _write_text(osp.join(root, 'meta', 'classes.txt'), classes)
    summary: Dict[str, object] = {'root': root, 'classes': len(classes)}
    for split, per_class in (('train', num_train), ('val', num_val)):
        split_dir = osp.join(root, SPLIT_DIRS['imagenet'][split])
        lines, written = [], set()
        for label, name in enumerate(classes):
            os.makedirs(osp.join(split_dir, name), exist_ok=True)
            for k in range(per_class):
                scene = imagenet_scene(seed, split, label, k, textured)
                image, _ = render_scene(scene, img_size)
                rel = f'{name}/{name}_{k:05d}.JPEG'
                path = osp.join(split_dir, rel)
                _write_image(path, image)
                written.add(path)
                lines.append(f'{rel} {label}')
        _remove_stale(split_dir, '.JPEG', written)
        _write_text(osp.join(root, 'meta', f'{split}.txt'), lines)
        summary[split] = len(lines)
    return summary


def coco_categories() -> List[Dict[str, object]]:
    """COCO ``categories``: the shapes, ids from 1."""
    return [{'id': i + 1, 'name': name, 'supercategory': 'shape'}
            for i, name in enumerate(SHAPES)]


def write_coco(root: str, seed: int = 0, num_train: int = 200, num_val: int = 50,
               img_size: Size = 128, max_objects: int = 3,
               textured: bool = True) -> Dict[str, object]:
    """Write the instance-segmentation set under ``root`` in COCO layout.

    ``root/{train2017,val2017}/<index>.jpg`` and
    ``root/annotations/instances_{train,val}2017.json``; image ids are ``index + 1``,
    annotation ids run from 1 over the split.

    Returns:
        ``{'root', 'train', 'val', 'train_objects', 'val_objects'}``.
    """
    height, width = _hw(img_size)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    summary: Dict[str, object] = {'root': root}
    for split, num in (('train', num_train), ('val', num_val)):
        split_name = SPLIT_DIRS['coco'][split]
        split_dir = osp.join(root, split_name)
        os.makedirs(split_dir, exist_ok=True)
        images, annotations, written = [], [], set()
        for index in range(num):
            scene = instance_scene(seed, 'coco', split, index, (height, width),
                                   max_objects, textured)
            image, masks = render_scene(scene, (height, width))
            file_name = f'{index:06d}.jpg'
            path = osp.join(split_dir, file_name)
            _write_image(path, image)
            written.add(path)
            images.append({'id': index + 1, 'file_name': file_name, 'height': height,
                           'width': width})
            for obj, mask in zip(scene.objects, masks):
                annotations.append({
                    'id': len(annotations) + 1,
                    'image_id': index + 1,
                    'category_id': obj.shape + 1,
                    'bbox': mask_to_bbox(mask),
                    'area': float(mask.sum()),
                    'segmentation': mask_to_segmentation(mask),
                    'iscrowd': 0,
                })
        _remove_stale(split_dir, '.jpg', written)
        dataset = {
            'info': {'description': 'mpvg_mm procedural demo shapes', 'version': '1.0',
                     'year': 2025, 'seed': int(seed)},
            'licenses': [],
            'images': images,
            'annotations': annotations,
            'categories': coco_categories(),
        }
        ann_path = osp.join(root, 'annotations', f'instances_{split_name}.json')
        with open(ann_path, 'w', newline='\n') as f:
            json.dump(dataset, f, separators=(',', ':'))
        summary[split] = len(images)
        summary[f'{split}_objects'] = len(annotations)
    return summary


def write_ade20k(root: str, seed: int = 0, num_train: int = 200, num_val: int = 50,
                 img_size: Size = 128, max_objects: int = 3,
                 textured: bool = True) -> Dict[str, object]:
    """Write the semantic-segmentation set under ``root`` in mmseg's ADE20K layout.

    ``root/images/{training,validation}/<index>.jpg`` and
    ``root/annotations/{training,validation}/<index>.png`` (uint8, 0 = background,
    shape ``c`` as ``c + 1``; read with ``reduce_zero_label=True``).

    Returns:
        ``{'root', 'train', 'val'}`` (image counts).
    """
    summary: Dict[str, object] = {'root': root}
    for split, num in (('train', num_train), ('val', num_val)):
        split_name = SPLIT_DIRS['ade20k'][split]
        img_dir = osp.join(root, 'images', split_name)
        ann_dir = osp.join(root, 'annotations', split_name)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        written = set()
        for index in range(num):
            scene = instance_scene(seed, 'ade20k', split, index, img_size, max_objects,
                                   textured)
            image, masks = render_scene(scene, img_size)
            stem = f'{index:06d}'
            img_path = osp.join(img_dir, f'{stem}.jpg')
            ann_path = osp.join(ann_dir, f'{stem}.png')
            _write_image(img_path, image)
            _write_png_gray(ann_path, semantic_map(scene, masks))
            written.update((img_path, ann_path))
        _remove_stale(img_dir, '.jpg', written)
        _remove_stale(ann_dir, '.png', written)
        summary[split] = num
    return summary


WRITERS = {'imagenet': write_imagenet, 'coco': write_coco, 'ade20k': write_ade20k}


def write_dataset(fmt: str, out_dir: str, seed: int = 0, num_train: Optional[int] = None,
                  num_val: Optional[int] = None,
                  img_size: Optional[Size] = None,
                  textured: bool = True) -> Dict[str, object]:
    """Write format ``fmt`` into ``out_dir/<fmt>``; ``None`` arguments take the
    per-format defaults (:data:`DEFAULT_NUM_TRAIN`, ...). ``textured=False``: flat
    objects (see the module docstring)."""
    if fmt not in WRITERS:
        raise ValueError(f'unknown format {fmt!r}; choose from {FORMATS}')
    return WRITERS[fmt](
        osp.join(out_dir, fmt), seed=seed,
        num_train=DEFAULT_NUM_TRAIN[fmt] if num_train is None else num_train,
        num_val=DEFAULT_NUM_VAL[fmt] if num_val is None else num_val,
        img_size=DEFAULT_IMG_SIZE[fmt] if img_size is None else img_size,
        textured=textured)
