"""The train page lists runs a page (50) at a time, with a pager to older ones."""

import sqlite3
from contextlib import closing

import pytest
from playwright.sync_api import expect

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
