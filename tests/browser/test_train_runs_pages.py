"""The train page lists runs a page (50) at a time, with a pager to older ones."""

import sqlite3
from contextlib import closing

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.browser.seed import finished_run
from webapp.ml.metrics import evaluate

pytestmark = pytest.mark.browser


def insert_failed_runs(database, n: int) -> None:
    """n finished (failed) runs, as if trained long ago."""
    row = (
        "INSERT INTO training_run (status, params, dataset, progress, artifacts, timings, weights,"
        " image_size, error, cancel_requested, pinned, created_at) VALUES ('failed', :params, '{}', '{}',"
        " '{}', '{}', 'none', 32, 'stopped', 0, 0, '2026-01-01 00:00:00')"
    )
    params = '{"epochs": 5, "batch_size": 32, "learning_rate": 0.0001, "trainable_layers": 4}'
    with closing(sqlite3.connect(database)) as conn:
        conn.executemany(row, [{"params": params}] * n)
        conn.commit()


def test_the_runs_table_pages_through_older_runs(browse):
    insert_failed_runs(browse.live.instance / "app.db", 55)
    page = browse.goto("/train")
    rows = page.locator("#runs-rows .run-row")
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_attribute("data-run-id", "55")
    expect(page.locator("#runs-page-text")).to_have_text("Page 1 of 2 (55 runs)")
    expect(page.locator("#runs-newer")).to_be_disabled()
    browse.shot("first page of runs")
    page.click("#runs-older")
    expect(rows).to_have_count(5)
    expect(rows.first).to_have_attribute("data-run-id", "5")
    expect(page.locator("#runs-older")).to_be_disabled()
    page.click("#runs-newer")
    expect(rows).to_have_count(50)


def test_a_class_without_test_photos_reads_as_untested_not_as_zero(browse):
    """wings had no test photos (one near-duplicate group): its recall is unknown, not 0.00."""
    metrics = evaluate(
        [0, 0, 0, 0], np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]), ["beer", "wings"]
    )
    assert metrics["per_class"]["wings"]["support"] == 0
    run_id = finished_run(browse.live, ["beer", "wings"], {}, metrics)
    page = browse.goto(f"/runs/{run_id}")
    wings = page.locator('#per-class-table tbody tr[data-class="wings"] td')
    expect(wings).to_have_text(["0.00", "–", "–", "0 (no test photos)"])
    expect(wings.nth(1)).to_have_attribute("title", "No test photos of this class")
    beer = page.locator('#per-class-table tbody tr[data-class="beer"] td')
    expect(beer).to_have_text(["1.00", "0.75", "0.86", "4"])
    browse.shot("per-class table with an untested class")
