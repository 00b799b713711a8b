"""mpvg_mm.demo.masks: a mask as a COCO box, polygons or RLE."""
import numpy as np

from mpvg_mm.demo import masks


def test_mask_to_segmentation_polygons_and_rle():
    from pycocotools import mask as mask_utils
    ring = np.zeros((20, 30), dtype=bool)
    ring[3:15, 4:20] = True
    ring[6:10, 8:12] = False  # a hole: polygons cannot express it
    assert masks.mask_to_polygons(ring) is None
    rle = masks.mask_to_segmentation(ring)
    assert rle['size'] == [20, 30] and sum(rle['counts']) == 600
    decoded = mask_utils.decode(mask_utils.frPyObjects(rle, 20, 30)).astype(bool)
    assert np.array_equal(decoded, ring)
    solid = np.zeros((20, 30), dtype=bool)
    solid[2:9, 3:11] = True
    solid[12:17, 20:28] = True
    polys = masks.mask_to_segmentation(solid)
    assert isinstance(polys, list) and len(polys) == 2
    decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, 20, 30)))
    assert np.array_equal(decoded.astype(bool), solid)
    assert masks.mask_to_bbox(solid) == [3.0, 2.0, 25.0, 15.0]
