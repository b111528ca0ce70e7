"""Dataset import: folder layouts, `flask import` of folders and zips (exports: tests/test_exports.py)."""

import hashlib
import io
import zipfile

import pytest

from tests.images import class_photo, text_file
from webapp import create_app
from webapp.services.imports import Entry, import_path, plan_entries


def photo(cls_index: int, i: int) -> bytes:
    """A small distinct JPEG."""
    return class_photo(cls_index, i, size=(40, 32))


def write_tree(root, files: dict[str, bytes]):
    """Write {relative path: bytes} under root; returns root."""
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return root


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return buf.getvalue()


ARTICLE_LAYOUT = {
    "train/beer/b0.jpg": photo(0, 0),
    "train/beer/b1.jpg": photo(0, 1),
    "val/beer/b2.jpg": photo(0, 2),
    "test/beer/b3.jpg": photo(0, 3),
    "train/wings/w0.jpg": photo(1, 0),
    "val/wings/w1.jpg": photo(1, 1),
    "test/wings/w2.jpg": photo(1, 2),
}


def all_photos(client) -> dict[str, dict]:
    """Every photo outside the trash, by sha256."""
    body = client.get("/api/v1/photos?per_page=200").get_json()
    return {p["sha256"]: p for p in body["photos"]}


def expected_by_sha(layout: dict[str, bytes]) -> dict[str, tuple[str, str]]:
    """(label, split) per sha256 for an article-style layout."""
    out = {}
    for rel, body in layout.items():
        split, label, _name = rel.split("/")
        out[hashlib.sha256(body).hexdigest()] = (label, split)
    return out


def labels_and_splits(client) -> dict[str, tuple[str, str]]:
    return {sha: (p["label"], p["split"]) for sha, p in all_photos(client).items()}


@pytest.fixture
def other_app(tmp_path, app_config):
    """A second app on its own fresh instance folder (to import an export into)."""
    path = tmp_path / "other-instance"
    path.mkdir()
    app = create_app({**app_config, "INSTANCE_PATH": str(path)})
    yield app
    from webapp.db import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# ---------------------------------------------------------------- folder layouts (pure)


def test_plan_split_class_layout():
    entries = plan_entries(["train/beer/a.jpg", "val/wings/b.jpg", "test/beer/c.jpg"])
    assert entries == [
        Entry("train/beer/a.jpg", "beer", "train"),
        Entry("val/wings/b.jpg", "wings", "val"),
        Entry("test/beer/c.jpg", "beer", "test"),
    ]


def test_plan_class_only_layout():
    assert plan_entries(["beer/a.jpg", "wings/b.jpg"]) == [
        Entry("beer/a.jpg", "beer", None),
        Entry("wings/b.jpg", "wings", None),
    ]


def test_plan_ignores_a_wrapper_folder():
    entries = plan_entries(["my data/train/beer/a.jpg", "my data/val/wings/b.jpg"])
    assert [(e.label, e.split) for e in entries] == [("beer", "train"), ("wings", "val")]
    entries = plan_entries(["export/beer/a.jpg", "export/wings/b.jpg"])
    assert [(e.label, e.split) for e in entries] == [("beer", None), ("wings", None)]


def test_plan_single_class_folder_is_its_label():
    assert [e.label for e in plan_entries(["beer/a.jpg", "beer/b.jpg"])] == ["beer", "beer"]


def test_plan_loose_files_have_no_label():
    assert plan_entries(["a.jpg", "b.jpg"]) == [Entry("a.jpg", None, None), Entry("b.jpg", None, None)]


def test_plan_skips_system_files():
    entries = plan_entries(
        ["__MACOSX/beer/._a.jpg", "beer/.DS_Store", "beer/Thumbs.db", ".hidden/x.jpg", "beer/a.jpg"]
    )
    assert [e.path for e in entries] == ["beer/a.jpg"]


# ---------------------------------------------------------------- the import service


def test_import_path_service_keeps_labels_and_splits(app, client, tmp_path):
    src = write_tree(tmp_path / "src", ARTICLE_LAYOUT)
    with app.app_context():  # a service needs no request (the CLI has none)
        results = import_path(src)
        assert sorted(r.status for r in results) == ["stored"] * len(ARTICLE_LAYOUT)
    assert labels_and_splits(client) == expected_by_sha(ARTICLE_LAYOUT)


# ---------------------------------------------------------------- flask import


def test_cli_import_folder(runner, client, tmp_path):
    src = write_tree(tmp_path / "src", {**ARTICLE_LAYOUT, "train/beer/notes.jpg": text_file()})
    result = runner.invoke(args=["import", str(src)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "7 stored, 0 duplicates skipped, 1 rejected" in result.output
    assert "notes.jpg" in result.output and "text file" in result.output
    assert labels_and_splits(client) == expected_by_sha(ARTICLE_LAYOUT)


def test_cli_import_twice_reports_duplicates(runner, client, tmp_path):
    src = write_tree(tmp_path / "src", ARTICLE_LAYOUT)
    runner.invoke(args=["import", str(src)])
    result = runner.invoke(args=["import", str(src)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "0 stored, 7 duplicates skipped, 0 rejected" in result.output
    assert len(all_photos(client)) == 7


def test_cli_import_zip_with_new_class(runner, client, tmp_path):
    archive = tmp_path / "data.zip"
    archive.write_bytes(
        make_zip(
            {
                "dataset/train/pizza/a.jpg": photo(2, 0),
                "dataset/val/pizza/b.jpg": photo(2, 1),
                "dataset/train/beer/c.jpg": photo(0, 5),
            }
        )
    )
    result = runner.invoke(args=["import", str(archive)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "3 stored" in result.output
    assert sorted(labels_and_splits(client).values()) == [
        ("beer", "train"),
        ("pizza", "train"),
        ("pizza", "val"),
    ]
    assert "pizza" in {c["name"] for c in client.get("/api/v1/classes").get_json()}


def test_cli_import_missing_path_fails(runner, tmp_path):
    result = runner.invoke(args=["import", str(tmp_path / "nope")])
    assert result.exit_code != 0
