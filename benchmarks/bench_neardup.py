"""Near-duplicate grouping on generated photos: precision and recall of pairs and of groups, and its speed.

    python benchmarks/bench_neardup.py [--scenes 60]

Each scene (tests/scenes.py: a random background and shapes) comes with its copies: two burst shots a second
apart, a shifted shot, resized, recompressed (JPEG q35), brightened (x1.3), darkened and cropped (5 % a side).
Photos are "ingested" in order as the app does (services/groups.py: a new photo joins the group it matches
the largest share of, merging groups it matches 3/4 of each), so a copy reaches its scene through another copy
too; then again shuffled. Drawn look-alikes (tools/scenes.py: 120 plates of wings and 120 beers shot
from one angle, all different) show how much unrelated photos group. Prints pair precision/recall (each pair
judged alone), group precision/recall (pairs that end in one group), and fingerprint and match times; then
labels the photos in a random order as services/splits does (a group placed as a unit when its first photo is
labeled, its other photos counted with it) and prints the split shares and the scenes found in two splits.
"""

from __future__ import annotations

import argparse
import io
import itertools
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.scenes import VARIANTS, scene_jpeg
from tools.scenes import beer, wings
from webapp.photostore import neardup
from webapp.services.groups import groups_to_join
from webapp.services.splits import choose_split_for


def thumbnail(data: bytes) -> Image.Image:
    """The picture as the store's thumbnail (long side 320)."""
    im = Image.open(io.BytesIO(data)).convert("RGB")
    im.thumbnail((320, 320))
    return im


def ingest_groups(prints: list[list[str] | None]) -> list[int]:
    """The group of each photo after ingesting them in order, by services.groups' rule (groups_to_join).

    Photo ids are 1-based positions; a photo in no group is its own (its id)."""
    group: dict[int, int] = {}
    for new in range(1, len(prints)):
        stored = [i for i in range(1, new + 1) if prints[i - 1] is not None]
        if prints[new] is None or not stored:
            continue
        found = neardup.matches(prints[new], *neardup.split_fingerprints([prints[i - 1][0] for i in stored]))
        matched = {stored[k] for k in found.nonzero()[0]}
        if matched:
            joined = groups_to_join(matched, [(i, group.get(i)) for i in stored])
            for i in range(1, new + 1):
                if group.get(i, i) in joined:
                    group[i] = min(joined)
            group[new + 1] = min(joined)
    return [group.get(i, i) for i in range(1, len(prints) + 1)]


def look_alikes(make, n: int) -> str:
    """How drawn photos of one composition (tools/scenes.py: different scenes all) group: none should."""
    prints = [neardup.query_prints(thumbnail(make(i))) for i in range(n)]
    matching = sum(neardup.prints_match(a, b) for a, b in itertools.combinations(prints, 2))
    sizes = Counter(ingest_groups(prints)).most_common()
    return f"{matching} of {n * (n - 1) // 2} pairs match; largest group {sizes[0][1]}, {len(sizes)} units"


def scores(truth: list[int], said) -> tuple[float, float]:
    """Precision and recall of 'same scene' over all pairs."""
    tp = fp = fn = 0
    for a, b in itertools.combinations(range(len(truth)), 2):
        same, yes = truth[a] == truth[b], said(a, b)
        tp, fp, fn = tp + (same and yes), fp + (yes and not same), fn + (same and not yes)
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def label_in_random_order(groups: list[int], seed: int = 0) -> list[str]:
    """Each photo's split when all are labeled one class in a random order, groups placed as units."""
    order = list(range(len(groups)))
    random.Random(seed).shuffle(order)
    size, placed, splits = Counter(groups), {}, [""] * len(groups)
    counts = {"train": 0, "val": 0, "test": 0}
    for i in order:
        if groups[i] not in placed:
            placed[groups[i]] = choose_split_for(counts, size[groups[i]])
            counts[placed[groups[i]]] += size[groups[i]]  # its unlabeled members count where it is
        splits[i] = placed[groups[i]]
    return splits


def main() -> None:
    """Generate, fingerprint, group, score."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=60)
    args = parser.parse_args()
    files = [(s, scene_jpeg(s, kind)) for s in range(args.scenes) for kind in (None, *VARIANTS)]
    truth = [s for s, _data in files]
    pictures = [thumbnail(data) for _s, data in files]
    start = time.perf_counter()
    prints = [neardup.query_prints(im) for im in pictures]
    per_print = (time.perf_counter() - start) / len(prints)
    start = time.perf_counter()
    groups = ingest_groups(prints)
    per_match = (time.perf_counter() - start) / len(prints)
    shuffled = list(range(len(prints)))
    random.Random(1).shuffle(shuffled)
    in_order = ingest_groups([prints[i] for i in shuffled])
    shuffled_groups = dict(zip(shuffled, in_order, strict=True))
    pair_p, pair_r = scores(truth, lambda a, b: neardup.prints_match(prints[a], prints[b]))
    group_p, group_r = scores(truth, lambda a, b: groups[a] == groups[b])
    mixed_p, mixed_r = scores(truth, lambda a, b: shuffled_groups[a] == shuffled_groups[b])
    whole = np.mean([len({groups[i] for i in range(len(truth)) if truth[i] == s}) == 1 for s in set(truth)])
    print(f"{len(files)} photos, {args.scenes} scenes, {len(VARIANTS)} copies each")
    print(f"pairs:  precision {pair_p:.3f}  recall {pair_r:.3f}")
    print(f"groups: precision {group_p:.3f}  recall {group_r:.3f}  scenes kept whole {whole:.3f}")
    print(f"groups, shuffled upload order: precision {mixed_p:.3f}  recall {mixed_r:.3f}")
    for name, make in (("wings", wings), ("beer", beer)):
        print(f"look-alike {name} (120 different photos): {look_alikes(make, 120)}")
    splits = label_in_random_order(groups)
    shares = Counter(splits)
    leaked = sum(len({splits[i] for i in range(len(truth)) if truth[i] == s}) > 1 for s in set(truth))
    print(
        "splits: "
        + "  ".join(f"{k} {shares[k] / len(splits):.1%}" for k in ("train", "val", "test"))
        + f"  scenes in two splits {leaked} of {args.scenes}"
    )
    print(
        f"fingerprint {per_print * 1000:.1f} ms/photo; matching a photo against the ones before it "
        f"{per_match * 1000:.2f} ms on average"
    )


if __name__ == "__main__":
    main()
