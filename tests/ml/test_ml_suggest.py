"""webapp.ml.suggest: pooling, the in-memory pooled cache, the softmax head and when it starts."""

import numpy as np

from webapp.ml.features import FeatureCache
from webapp.ml.suggest import PooledCache, enough_labels, fit, pooled, suggest

SHA = "ab" * 32


def two_clusters(n: int = 40, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    centres = rng.normal(0, 3, (2, dim))
    return centres[y] + rng.normal(0, 1, (n, dim)), y


def test_pooling_averages_everything_but_the_channels():
    maps = np.arange(2 * 3 * 4, dtype=np.float16).reshape(2, 3, 4)
    assert pooled(maps).tolist() == maps.reshape(6, 4).mean(axis=0).tolist()
    assert pooled(np.ones(5)).shape == (5,)


def test_the_pooled_cache_reads_a_photo_once_and_skips_missing_ones(tmp_path):
    cache = FeatureCache(tmp_path, "vgg16-none-32px-block4_pool")
    cache.put(SHA, np.full((2, 2, 3), 2.0))
    pool = PooledCache(max_photos=1)
    x, missing = pool.many(cache, [SHA, "cd" * 32])
    assert x.tolist() == [[2.0, 2.0, 2.0]] and missing == ["cd" * 32]
    cache.path(SHA).unlink()  # kept in memory: no second read
    assert pool.get(cache, SHA).tolist() == [2.0, 2.0, 2.0]


def test_suggestions_start_with_two_classes_of_two_labels():
    assert not enough_labels([0, 0, 1])
    assert not enough_labels([0, 0, 0, 0])
    assert enough_labels([0, 0, 1, 1])
    assert enough_labels([2, 2, 5, 5, 5])
    x, _y = two_clusters()
    assert suggest(x, [0, 1, 2], [0, 1, 0]) is None


def test_a_few_labels_suggest_the_rest_right_and_more_labels_make_them_surer():
    x, y = two_clusters()
    two = [0, 2, 1, 3]
    labels, confidence = suggest(x, two, y[two])
    assert (labels == y).mean() >= 0.9
    assert ((confidence > 0.5) & (confidence <= 1)).all()
    ten = list(range(20))
    _labels, surer = suggest(x, ten, y[ten])
    assert surer.mean() > confidence.mean()


def test_the_head_maps_its_columns_to_the_labels_it_saw():
    x, y = two_clusters()
    model = fit(x, x[:8], (y[:8] + 1) * 3)  # labels 3 and 6: the columns stand for them
    assert model.classes.tolist() == [3, 6]
    assert model.predict_proba(x).shape == (len(x), 2)
