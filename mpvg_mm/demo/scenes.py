"""The demo scenes: what they contain, how each is sampled and how it is drawn.

A :class:`Scene` is a textured :class:`Background` and a few :class:`SceneObject`
shapes (:data:`SHAPES`: circles, squares, triangles, crosses) of random colours, sizes
and rotations. :func:`render_scene` draws it into an RGB image and one visible mask per
object (later objects hide earlier ones); :func:`semantic_map` turns the masks into a
class map. Two kinds of scene feed the demo datasets (:mod:`mpvg_mm.demo.writers`):

* :func:`imagenet_scene`: one object whose centre lies in the left or right half of
  the image, for the position-dependent classification task whose label is
  shape x side (:func:`imagenet_classes`).
* :func:`instance_scene`: 1..3 objects that overlap only partly, for instance and
  semantic segmentation.

Each shape class is filled with its own pattern (:data:`FILLS`, indexed by shape: solid
circles, striped squares, checkered triangles, dotted crosses) in a random colour, as
real categories have their own texture. A small ViT trained for minutes on CPU learns
such local appearance quickly and silhouettes slowly, so the pattern is what lets the
demo models get far above chance in a CPU budget. ``textured=False``
(``make_demo_data.py --flat``) draws every object in one flat colour: the silhouette is
then the only cue.

Everything is deterministic: each image has its own generator, seeded from
``(seed, format, split, index)``, so one sample can be regenerated without the rest.
Only numpy is used.

Coordinates: a :class:`Scene` is resolution-free; object centres are fractions of
the image width / height (x to the right, y downwards) and object sizes fractions of
the shorter image side. Pixel ``(row i, col j)`` has its centre at ``(j + .5, i + .5)``.
"""
import zlib
from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

#: The shape classes, in label order (COCO category id = index + 1, ADE20K value =
#: index + 1, mmseg label after ``reduce_zero_label`` = index).
SHAPES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'cross')
#: The image halves of the position-dependent classification task, in label order.
SIDES: Tuple[str, ...] = ('left', 'right')
#: Fill patterns of objects; a textured object of shape ``s`` has fill ``FILLS[s]``.
FILLS: Tuple[str, ...] = ('solid', 'stripes', 'checker', 'dots')
#: Fill patterns repeat every FILL_PERIOD pixels (axis-aligned, at any image size); their
#: second colour is the object's colour times FILL_SHADE.
FILL_PERIOD = 4
FILL_SHADE = 0.4
#: Background texture kinds.
BACKGROUND_KINDS: Tuple[str, ...] = ('noise', 'stripes', 'gradient')

_SPLIT_CODES = {'train': 0, 'val': 1}
# Shape geometry, as multiples of an object's ``size`` (its nominal half extent).
_SQUARE_HALF_SIDE = 0.85
_TRIANGLE_CIRCUMRADIUS = 1.15
_CROSS_HALF_WIDTH = 0.35
#: The largest distance from an object's centre to its silhouette, per unit size.
_MAX_EXTENT = max(1.0, _SQUARE_HALF_SIDE * np.sqrt(2), _TRIANGLE_CIRCUMRADIUS,
                  float(np.hypot(1.0, _CROSS_HALF_WIDTH)))

Size = Union[int, Tuple[int, int]]


def height_width(size: Size) -> Tuple[int, int]:
    """``(height, width)`` from an int (square) or a ``(height, width)`` pair."""
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    height, width = size
    return int(height), int(width)


# --------------------------------------------------------------------------- classes
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
    (``FILLS[shape]``), else solid. The fill draws no random numbers, so a scene's
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
    fill = FILLS[shape] if textured else 'solid'
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
    height, width = height_width(size)
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
    height, width = height_width(size)
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
