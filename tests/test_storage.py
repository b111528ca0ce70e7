"""webapp.storage: content-addressed files, written once and atomically, nothing kept of a rejected upload."""

import errno
import io
import os

import numpy as np
import pytest
from PIL import Image

from tests import disk as disk_module
from tests import images
from webapp.photostore import storage
from webapp.photostore.imaging import RejectedPhoto
from webapp.photostore.storage import StoreSettings

small_disk = disk_module.small_disk  # the fixture


@pytest.fixture
def settings(tmp_path):
    return StoreSettings(root=tmp_path / "photos")


def files_under(root):
    return (
        sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        if root.exists()
        else []
    )


def all_paths(settings, stored):
    sha = stored.sha256
    return [
        storage.original_path(settings, sha, stored.format),
        storage.display_path(settings, sha),
        storage.thumbnail_path(settings, sha),
        storage.model_input_path(settings, sha),
    ]


def test_store_writes_the_original_and_three_copies(settings):
    data = images.phone_jpeg(400, 200, exif_orientation=6)
    stored = storage.store_photo(data, settings)
    assert stored == storage.StoredPhoto(storage.sha256_of(data), "JPEG", 200, 400, len(data))
    sha = stored.sha256
    assert files_under(settings.root) == sorted(
        [
            f"display/{sha[:2]}/{sha}.jpg",
            f"model224/{sha[:2]}/{sha}.png",
            f"originals/{sha[:2]}/{sha}.jpg",
            f"thumbs/{sha[:2]}/{sha}.jpg",
        ]
    )
    assert storage.original_path(settings, sha, "JPEG").read_bytes() == data  # byte for byte, EXIF and all
    for path, size in [
        (storage.display_path(settings, sha), (200, 400)),
        (storage.thumbnail_path(settings, sha), (160, 320)),
    ]:
        with Image.open(path) as im:
            assert im.format == "JPEG" and im.size == size
            assert "exif" not in im.info and len(im.getexif()) == 0  # no GPS in what is served
    assert storage.load_model_input(settings, sha, "JPEG").shape == (224, 224, 3)


def test_files_are_readable_by_others_and_no_temp_files_remain(settings):
    stored = storage.store_photo(images.phone_jpeg(), settings)
    for path in all_paths(settings, stored):
        assert path.stat().st_mode & 0o777 == 0o644
    assert not [p for p in settings.root.rglob(".tmp-*")]


def test_same_bytes_twice_same_sha_files_written_once(settings):
    data = images.phone_jpeg(640, 480)
    first = storage.store_photo(data, settings)
    stats = [(p.stat().st_ino, p.stat().st_mtime_ns) for p in all_paths(settings, first)]
    again = storage.store_photo(data, settings)
    assert again == first
    assert [(p.stat().st_ino, p.stat().st_mtime_ns) for p in all_paths(settings, first)] == stats
    assert len(files_under(settings.root)) == 4


def test_different_photos_different_shas(settings):
    a = storage.store_photo(images.class_photo(0, 1), settings)
    b = storage.store_photo(images.class_photo(0, 2), settings)
    assert a.sha256 != b.sha256 and len(files_under(settings.root)) == 8


@pytest.mark.parametrize(
    ("factory", "fmt", "ext"),
    [
        (images.png_rgba, "PNG", "png"),
        (images.png_16bit, "PNG", "png"),
        (images.heic, "HEIF", "heic"),
        (images.animated_gif, "GIF", "gif"),
        (images.webp, "WEBP", "webp"),
        (images.mpo, "JPEG", "jpg"),
        (images.cmyk_jpeg, "JPEG", "jpg"),
    ],
)
def test_each_accepted_format_is_stored_under_its_extension(settings, factory, fmt, ext):
    data = factory()
    stored = storage.store_photo(data, settings)
    assert stored.format == fmt
    path = storage.original_path(settings, stored.sha256, fmt)
    assert path.suffix == f".{ext}" and path.read_bytes() == data
    assert storage.load_model_input(settings, stored.sha256, fmt).dtype == np.uint8


REJECTED = [
    (images.truncated_jpeg, "truncated JPEG"),
    (images.zero_bytes, "This file is empty"),
    (images.text_file, "This is a text file, not a photo"),
    (images.svg, "SVG is not a photo format we accept"),
    (images.pixel_bomb, "The image is 20000 x 20000 pixels (400 MP); the limit is 100 MP"),
    (images.pdf, "PDF document"),
]


@pytest.mark.parametrize(("factory", "words"), REJECTED, ids=[f.__name__ for f, _ in REJECTED])
def test_rejected_files_leave_nothing_behind(settings, factory, words):
    for call in (storage.store_photo, storage.inspect_photo, storage.model_input_from_bytes):
        with pytest.raises(RejectedPhoto) as info:
            call(factory(), settings)
        assert words in info.value.message
    assert files_under(settings.root) == []


def test_size_limit_is_checked_first(settings):
    small = StoreSettings(root=settings.root, max_bytes=1024 * 1024)
    with pytest.raises(RejectedPhoto) as info:
        storage.store_photo(b"\x00" * (1024 * 1024 * 3 // 2), small)
    assert info.value.message == "The file is 1.5 MiB; the limit is 1 MiB per photo"
    with pytest.raises(RejectedPhoto) as info:
        storage.store_photo(b"\x00" * (1024 * 1024 + 1), small)
    assert info.value.message == "The file is 1.000001 MiB; the limit is 1 MiB per photo"
    assert files_under(settings.root) == []


@pytest.mark.parametrize(
    ("size", "limit", "words"),
    [
        (60 * 2**20, 50 * 2**20, "The file is 60 MiB; the limit is 50 MiB per photo"),
        (50 * 2**20 + 1, 50 * 2**20, "The file is 50.000001 MiB; the limit is 50 MiB per photo"),
        (int(50.46 * 2**20), 50 * 2**20, "The file is 50.5 MiB; the limit is 50 MiB per photo"),
        (3000 * 2**20, 2048 * 2**20, "The file is 3,000 MiB; the limit is 2,048 MiB per photo"),
    ],
)
def test_size_words_use_one_unit_and_never_read_as_equal(size, limit, words):
    # issue 8 defect 21: a 60 MiB file was called "50.1 MB; the limit is 50 MB"
    assert storage.too_large_message(size, limit) == words


def test_pixel_limit_comes_from_settings(settings):
    tight = StoreSettings(root=settings.root, max_pixels=100_000)
    with pytest.raises(RejectedPhoto, match=r"the limit is 0\.1 MP"):
        storage.store_photo(images.phone_jpeg(400, 300), tight)


def test_inspect_measures_without_writing(settings):
    data = images.heic(64, 48, exif_orientation=6)
    info = storage.inspect_photo(data, settings)
    assert (info.format, info.width, info.height, info.size_bytes) == ("HEIF", 48, 64, len(data))
    assert files_under(settings.root) == []


def test_model_input_is_the_same_stored_rederived_or_from_bytes(settings):
    data = images.noisy_jpeg(2400, 1800, exif_orientation=8)
    stored = storage.store_photo(data, settings)
    from_disk = storage.load_model_input(settings, stored.sha256, "JPEG")
    storage.model_input_path(settings, stored.sha256).unlink()
    rederived = storage.load_model_input(settings, stored.sha256, "JPEG")
    assert storage.model_input_path(settings, stored.sha256).exists()  # written back
    assert np.array_equal(from_disk, rederived)
    assert np.array_equal(from_disk, storage.model_input_from_bytes(data, settings))


def test_model_input_for_another_side_is_derived_on_demand(settings):
    stored = storage.store_photo(images.class_photo(1, 3), settings)
    arr = storage.load_model_input(settings, stored.sha256, "JPEG", side=64)
    assert arr.shape == (64, 64, 3)
    assert storage.model_input_path(settings, stored.sha256, 64).parent.parent.name == "model64"
    small = StoreSettings(root=settings.root, model_size=64)
    assert np.array_equal(storage.model_input_from_bytes(images.class_photo(1, 3), small), arr)


def test_model_input_from_bytes_writes_nothing(settings):
    arr = storage.model_input_from_bytes(images.phone_jpeg(4000, 3000, exif_orientation=6), settings)
    assert arr.shape == (224, 224, 3) and arr.dtype == np.uint8
    assert files_under(settings.root) == []


def test_model_input_of_a_missing_photo_raises(settings):
    with pytest.raises(FileNotFoundError):
        storage.load_model_input(settings, "ab" * 32, "JPEG")


def test_remove_photo_files_removes_every_copy(settings):
    keep = storage.store_photo(images.class_photo(0, 1), settings)
    gone = storage.store_photo(images.class_photo(1, 1), settings)
    storage.load_model_input(settings, gone.sha256, "JPEG", side=32)
    storage.remove_photo_files(settings, gone.sha256, "JPEG")
    storage.remove_photo_files(settings, gone.sha256, "JPEG")  # twice is fine
    assert not [f for f in files_under(settings.root) if gone.sha256 in f]
    assert all(p.exists() for p in all_paths(settings, keep))


def test_paths_refuse_anything_but_a_sha(settings):
    with pytest.raises(ValueError):
        storage.display_path(settings, "../../etc/passwd")
    with pytest.raises(ValueError):
        storage.original_path(settings, "ab" * 32, "TIFF")


def test_a_failed_write_leaves_no_half_files(settings, monkeypatch):
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full")
        os.rename(src, dst)

    monkeypatch.setattr(storage.os, "replace", failing_replace)
    data = images.phone_jpeg()
    with pytest.raises(OSError, match="disk full"):
        storage.store_photo(data, settings)
    assert not [p for p in settings.root.rglob(".tmp-*")]
    assert not [f for f in files_under(settings.root) if f.startswith("originals/")]
    monkeypatch.undo()
    stored = storage.store_photo(data, settings)  # a retry completes the set
    assert all(p.exists() for p in all_paths(settings, stored))


def test_derived_copies_decode_as_expected_pixels(settings):
    stored = storage.store_photo(images.png_rgba(), settings)
    with Image.open(io.BytesIO(storage.display_path(settings, stored.sha256).read_bytes())) as im:
        assert im.getpixel((0, 0))[0] > 245  # transparent became white


# ---------------------------------------------------------------- staged writes and a full disk


def test_staged_files_are_invisible_until_placed_and_discard_removes_them(settings):
    data = images.class_photo(0, 7)
    staged = storage.stage_photo(data, settings)
    assert files_under(settings.root) and all(
        f.rsplit("/", 1)[1].startswith(".tmp-") for f in files_under(settings.root)
    )
    assert not any(p.exists() for p in all_paths(settings, staged.photo))
    staged.discard()
    assert files_under(settings.root) == []


def test_discard_after_place_removes_only_what_this_photo_created(settings):
    keep = storage.store_photo(images.class_photo(0, 1), settings)
    staged = storage.stage_photo(images.class_photo(0, 2), settings)
    placed = staged.place()
    assert sorted(placed) == sorted(all_paths(settings, staged.photo))
    staged.discard()  # e.g. the database refused the row after the files were placed
    assert not any(p.exists() for p in all_paths(settings, staged.photo))
    assert all(p.exists() for p in all_paths(settings, keep))


def test_placing_over_an_existing_file_keeps_it(settings):
    data = images.class_photo(1, 1)
    first = storage.store_photo(data, settings)
    staged = storage.stage_photo(data, settings)
    assert staged.place() == []  # nothing new: discarding now must not remove the stored photo
    staged.discard()
    assert all(p.exists() for p in all_paths(settings, first))
    assert not list(settings.root.rglob(".tmp-*"))


def _pages(n: int) -> int:
    return -(-n // 4096) * 4096


def test_disk_full_while_writing_leaves_nothing(small_disk, tmp_path):
    # issue 8 defect 19: a full disk left the failed photo's copies behind (the original is written last)
    big = images.noisy_jpeg(1200, 900, exif_orientation=None)
    probe = StoreSettings(root=tmp_path / "probe")
    sizes = {p.name.rsplit(".", 1)[1] + p.parent.parent.name: p.stat().st_size for p in _files(probe, big)}
    derived = sum(_pages(n) for key, n in sizes.items() if not key.endswith("originals"))
    assert _pages(len(big)) > 16384  # room for the copies, not for the original as well
    disk = small_disk(2048)
    settings = StoreSettings(root=disk / "photos")
    earlier = storage.store_photo(images.class_photo(0, 3, size=(64, 48)), settings)
    before = files_under(settings.root)
    disk_module.fill(disk, leave_bytes=derived + 8192)
    with pytest.raises(OSError) as info:
        storage.store_photo(big, settings)
    assert info.value.errno == errno.ENOSPC
    assert files_under(settings.root) == before  # no temporary file, no partial set
    assert all(p.exists() for p in all_paths(settings, earlier))


def _files(settings, data):
    return all_paths(settings, storage.store_photo(data, settings))
