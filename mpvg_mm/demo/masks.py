"""COCO annotations of a binary object mask: its box, and its outline as polygons or RLE.

:func:`mask_to_segmentation` picks polygons when they represent the mask exactly (they
are what most COCO tools expect) and falls back to uncompressed RLE for masks with holes.
Only numpy and cv2 (contour tracing) are used.
"""
from typing import Dict, List, Optional, Union

import cv2
import numpy as np


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

