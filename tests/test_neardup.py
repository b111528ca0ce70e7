"""Near-duplicate fingerprints: generated bursts and edited copies match their scene, other scenes do not."""

import io
import itertools

import pytest
from PIL import Image

from tests.images import class_photo
from tests.scenes import VARIANTS, render, scene_jpeg, variant
from webapp.photostore import neardup

SEEDS = range(12)


def decoded(data: bytes) -> Image.Image:
    """The picture as the store keeps its thumbnail (long side 320)."""
    im = Image.open(io.BytesIO(data)).convert("RGB")
    im.thumbnail((320, 320))
    return im


def prints(data: bytes) -> list[str] | None:
    """The query prints of a file's thumbnail."""
    return neardup.query_prints(decoded(data))


def matched_pairs(all_prints: list) -> list[tuple[int, int]]:
    """The index pairs that are near-duplicates."""
    pairs = itertools.combinations(range(len(all_prints)), 2)
    return [(i, j) for i, j in pairs if neardup.prints_match(all_prints[i], all_prints[j])]


def grouping_scores(seeds, kinds=VARIANTS) -> tuple[float, float, int, int]:
    """Precision and recall of near_duplicates() over all pairs of scenes and their copies."""
    photos = [(s, prints(scene_jpeg(s))) for s in seeds]
    photos += [(s, prints(scene_jpeg(s, kind))) for s in seeds for kind in kinds]
    tp = fp = fn = 0
    for (sa, a), (sb, b) in itertools.combinations(photos, 2):
        same, said = sa == sb, neardup.prints_match(a, b)
        tp, fp, fn = tp + (same and said), fp + (said and not same), fn + (same and not said)
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), tp + fn, len(photos)


@pytest.mark.parametrize("kind", VARIANTS)
def test_each_kind_of_copy_matches_its_scene(kind):
    found = [neardup.near_duplicates(decoded(scene_jpeg(s, kind)), decoded(scene_jpeg(s))) for s in SEEDS]
    assert sum(found) >= len(SEEDS) - 1, found  # at most one miss in 12 (a strongly brightened copy clips)


def test_different_scenes_do_not_match():
    assert matched_pairs([prints(scene_jpeg(s)) for s in range(40)]) == []


def test_precision_and_recall_on_generated_bursts(capsys):
    precision, recall, pairs, photos = grouping_scores(range(12))
    with capsys.disabled():
        print(
            f"\nnear-duplicates on {photos} photos ({pairs} true pairs): precision {precision:.3f}, "
            f"recall {recall:.3f}"
        )
    assert precision >= 0.99 and recall >= 0.9


def test_a_flat_picture_has_no_fingerprint_and_matches_nothing():
    flat = Image.new("RGB", (200, 150), (120, 40, 40))
    assert neardup.fingerprint(flat) is None and neardup.query_prints(flat) is None
    assert not neardup.near_duplicates(flat, flat)


def test_the_same_layout_in_another_colour_is_another_scene():
    picture = render(3)
    tinted = Image.merge("RGB", picture.split()[::-1])  # red and blue swapped: same structure, other colours
    assert neardup.near_duplicates(picture, picture)
    assert not neardup.near_duplicates(picture, tinted)


def test_fingerprints_are_hex_of_a_fixed_length():
    prints = neardup.query_prints(variant(1, "burst"))
    assert len(prints) == len(neardup.QUERY_BOXES)
    assert all(len(p) == neardup.FINGERPRINT_CHARS and int(p, 16) >= 0 for p in prints)


@pytest.mark.parametrize("size", [(40, 32), (64, 48), (640, 480)])
def test_class_photos_are_distinct_scenes(size):
    """The tests' class photos must not group (grouping would put a class's photos in one split)."""
    for cls_index in range(6):
        assert matched_pairs([prints(class_photo(cls_index, i, size=size)) for i in range(40)]) == []
