"""Feature cache: round trip, atomic files, only missing photos computed, progress and cancel."""

import hashlib

import numpy as np
import pytest

from webapp.ml.errors import TrainingCancelled
from webapp.ml.features import FeatureCache, ensure_features, feature_key


def _sha(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


class CountingExtractor:
    """A stand-in extractor (mean colour x 2) that records its batch sizes."""

    def __init__(self):
        self.batches = []

    def __call__(self, images):
        self.batches.append(len(images))
        return images.mean(axis=(1, 2)) * 2


def test_cache_round_trip_is_float16_and_atomic(tmp_path):
    cache = FeatureCache(tmp_path, feature_key("none-abc", 32, "block4_pool"))
    sha = _sha(1)
    assert cache.get(sha) is None and cache.missing([sha, sha]) == [sha]
    data = np.random.default_rng(0).normal(size=(2, 2, 8)).astype(np.float32)
    cache.put(sha, data)
    assert cache.path(sha) == tmp_path / "vgg16-none-abc-32px-block4_pool" / sha[:2] / f"{sha}.npy"
    got = cache.get(sha)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, data, rtol=1e-3, atol=1e-3)
    assert cache.missing([sha]) == []
    assert not list(cache.dir.rglob(".tmp-*"))
    assert cache.many([sha, sha]).shape == (2, 2, 2, 8)
    with pytest.raises(KeyError, match=_sha(2)):
        cache.many([sha, _sha(2)])
    with pytest.raises(ValueError, match="Not a hex SHA-256"):
        cache.path("../../etc/passwd")


def test_ensure_features_computes_only_the_missing(tmp_path):
    cache = FeatureCache(tmp_path, "k")
    images = {_sha(i): np.full((4, 4, 3), i, dtype=np.uint8) for i in range(10)}
    loaded = []

    def load(sha):
        loaded.append(sha)
        return images[sha]

    shas = list(images)
    extractor = CountingExtractor()
    assert ensure_features(cache, extractor, shas[:3], load, batch_size=2) == 3
    progress = []
    computed = ensure_features(
        cache, extractor, shas, load, batch_size=4, on_progress=lambda *a: progress.append(a)
    )
    assert computed == 7
    assert extractor.batches == [2, 1, 4, 3]
    assert sorted(loaded) == sorted(shas)  # each photo loaded once overall
    assert progress == [(3, 10), (7, 10), (10, 10)]
    np.testing.assert_allclose(cache.many(shas)[:, 0], np.arange(10) * 2)
    assert ensure_features(cache, extractor, shas, load) == 0


def test_ensure_features_cancel_keeps_what_is_done(tmp_path):
    cache = FeatureCache(tmp_path, "k")
    shas = [_sha(i) for i in range(6)]
    extractor = CountingExtractor()
    with pytest.raises(TrainingCancelled):
        ensure_features(
            cache, extractor, shas, lambda s: np.zeros((2, 2, 3), np.uint8), batch_size=2,
            should_cancel=lambda: len(extractor.batches) >= 1,
        )  # fmt: skip
    assert extractor.batches == [2]
    assert cache.missing(shas) == shas[2:]


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(path.read_bytes()[:-7]),  # truncated (a full disk, a killed copy)
        lambda path: path.write_bytes(b""),  # empty
        lambda path: path.write_bytes(b"\x00garbage" * 40),  # not a .npy file at all
        lambda path: np.save(path, np.zeros((2, 2), dtype=np.float64)),  # someone else's array
    ],
    ids=["truncated", "empty", "garbage", "wrong-dtype"],
)
def test_a_corrupt_feature_file_is_not_present_and_is_computed_again(tmp_path, damage):
    cache = FeatureCache(tmp_path, "k")
    images = {_sha(i): np.full((4, 4, 3), i, dtype=np.uint8) for i in range(3)}
    shas = list(images)
    assert ensure_features(cache, CountingExtractor(), shas, images.__getitem__) == 3
    damage(cache.path(shas[1]))
    assert not cache.has(shas[1]) and cache.get(shas[1]) is None
    assert cache.missing(shas) == [shas[1]]
    # The next run recomputes that one photo instead of failing with KeyError on it every time.
    assert ensure_features(cache, CountingExtractor(), shas, images.__getitem__) == 1
    np.testing.assert_allclose(cache.many(shas)[1], np.full(3, 2.0))


def test_many_removes_a_file_that_went_bad_so_the_next_run_computes_it(tmp_path):
    cache = FeatureCache(tmp_path, "k")
    sha = _sha(1)
    cache.put(sha, np.ones(3))
    cache.path(sha).write_bytes(b"\x93NUMPY broken")
    with pytest.raises(KeyError, match=sha):
        cache.many([sha])
    assert not cache.path(sha).exists()
