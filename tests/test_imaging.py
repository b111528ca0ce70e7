"""webapp.imaging: what is refused and why; how accepted photos come out (upright, right colours, bare)."""

import io
import logging
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from tests import images
from webapp.photostore import imaging
from webapp.photostore.imaging import RejectedPhoto, open_photo


def close(pixel, expected, tol=6):
    return all(abs(a - b) <= tol for a, b in zip(pixel, expected, strict=True))


def centre(im):
    return im.getpixel((im.width // 2, im.height // 2))


# ---------------------------------------------------------------- refused, with the reason


REFUSED = [
    (images.zero_bytes, "This file is empty"),
    (images.text_file, "This is a text file, not a photo"),
    (images.svg, "SVG is not a photo format we accept"),
    (images.html, "web page (HTML)"),
    (images.pdf, "PDF document"),
    (images.tiff, "TIFF"),
    (images.bmp, "BMP is not a photo format"),
    (images.zip_of_photos, "ZIP archive"),
    (images.mp4, "This is a video, not a photo"),
    (images.avif_header, "AVIF is not a photo format"),
    (images.random_binary, "This file is not an image we can read"),
    (images.truncated_jpeg, "The file is damaged or incomplete (truncated JPEG)"),
]


@pytest.mark.parametrize(("factory", "words"), REFUSED, ids=[f.__name__ for f, _ in REFUSED])
def test_refused_inputs_say_why(factory, words):
    with pytest.raises(RejectedPhoto) as info:
        open_photo(factory(), need_long_side=1280, need_min_side=224)
    assert words in info.value.message
    assert str(info.value) == info.value.message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\xef\xbb\xbf" + b'{"photo": "beer.jpg"}\n', "text file"),
        ("Bière et ailes\n".encode("utf-16"), "text file"),
        (b"  <svg xmlns='http://www.w3.org/2000/svg'/>", "SVG"),
        (b"<?xml version='1.0'?><root/>", "XML"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "archive"),
    ],
)
def test_sniffing_names_more_formats(data, words):
    assert words in imaging.sniff_refused_format(data)


@pytest.mark.parametrize(
    "factory", [images.phone_jpeg, images.png_rgba, images.animated_gif, images.webp, images.heic, images.mpo]
)
def test_sniffing_lets_accepted_formats_through(factory):
    assert imaging.sniff_refused_format(factory()) is None


def test_pixel_bomb_is_refused_from_the_header():
    with pytest.raises(RejectedPhoto) as info:
        open_photo(images.pixel_bomb())
    assert info.value.message == "The image is 20000 x 20000 pixels (400 MP); the limit is 100 MP"


def test_pixel_words_never_read_as_equal():
    # issue 8 defect 21: a 10001 x 10000 image read "(100 MP); the limit is 100 MP"
    with pytest.raises(RejectedPhoto) as info:
        open_photo(images.pixel_bomb(10001, 10000))
    assert info.value.message == "The image is 10001 x 10000 pixels (100.01 MP); the limit is 100 MP"


def test_pixel_limit_is_the_callers():
    data = images.phone_jpeg(2000, 1000)
    with pytest.raises(RejectedPhoto) as info:
        open_photo(data, max_pixels=1_000_000)
    assert info.value.message == "The image is 2000 x 1000 pixels (2 MP); the limit is 1 MP"
    assert open_photo(data, max_pixels=2_000_000).width == 2000


def test_damaged_header_is_named_by_its_magic():
    with pytest.raises(RejectedPhoto) as info:
        open_photo(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    assert "cannot be read as a JPEG" in info.value.message


@pytest.mark.parametrize(
    "factory", [images.phone_jpeg, images.png_palette, images.animated_gif, images.webp, images.heic]
)
def test_no_pillow_exception_escapes_on_damaged_files(factory):
    good = factory()
    rng = np.random.default_rng(7)
    for k in range(25):
        bad = bytearray(good[: max(16, len(good) * k // 25)] if k % 2 else good)
        for pos in rng.integers(8, len(bad), 3):
            bad[pos] ^= 0xFF
        try:
            photo = open_photo(bytes(bad))
        except RejectedPhoto as exc:
            assert exc.message
        else:
            assert photo.image.mode == "RGB"


# ---------------------------------------------------------------- accepted, normalised


# raw 400 x 200 picture, MARK in the raw top-left corner: (size shown, where MARK ends up)
ORIENTATIONS = {
    1: ((400, 200), (0, 0)),
    2: ((400, 200), (399, 0)),
    3: ((400, 200), (399, 199)),
    4: ((400, 200), (0, 199)),
    5: ((200, 400), (0, 0)),
    6: ((200, 400), (199, 0)),
    7: ((200, 400), (199, 399)),
    8: ((200, 400), (0, 399)),
}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_exif_orientation_is_applied(orientation):
    size, mark = ORIENTATIONS[orientation]
    photo = open_photo(images.phone_jpeg(400, 200, exif_orientation=orientation))
    assert photo.image.size == size == (photo.width, photo.height)
    assert close(photo.image.getpixel(mark), images.MARK, tol=12)
    assert not photo.image.info


def test_derived_jpegs_carry_no_exif_gps_icc_or_comment():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = Image.open(io.BytesIO(images.phone_jpeg(400, 200, exif_orientation=6)))
    buf = io.BytesIO()
    src.save(buf, "JPEG", exif=images.exif_bytes(6, gps=True), icc_profile=icc, comment=b"at home")
    photo = open_photo(buf.getvalue())
    for img in (imaging.derive_display(photo.image), imaging.derive_thumbnail(photo.image)):
        out = Image.open(io.BytesIO(imaging.encode_jpeg(img, 85)))
        assert out.size[1] > out.size[0]  # upright
        assert not set(out.info) & {"exif", "icc_profile", "comment", "xmp"}
        assert len(out.getexif()) == 0


def test_png_alpha_is_composited_on_white():
    photo = open_photo(images.png_rgba())
    assert photo.image.getpixel((0, 0)) == (255, 255, 255)
    assert centre(photo.image) == images.RED


def test_palette_png_with_transparency():
    photo = open_photo(images.png_palette())
    assert photo.image.getpixel((0, 0)) == (255, 255, 255)
    assert photo.image.getpixel((photo.width - 1, 0)) == images.BLUE


def test_16bit_grey_png_stays_mid_grey():
    photo = open_photo(images.png_16bit(value=32768))
    assert photo.format == "PNG"
    arr = np.asarray(photo.image)
    assert arr.min() >= 127 and arr.max() <= 129


def test_16bit_rgb_png_keeps_its_colour():
    assert close(centre(open_photo(images.png_16bit_rgb()).image), (156, 78, 39), tol=1)


def test_cmyk_jpeg_comes_out_red():
    assert close(centre(open_photo(images.cmyk_jpeg()).image), (255, 0, 0), tol=10)


def test_grey_jpeg_becomes_rgb():
    photo = open_photo(images.grey_jpeg(level=128))
    assert photo.image.mode == "RGB" and close(centre(photo.image), (128, 128, 128), tol=2)


def test_heic_is_decoded_and_upright():
    imaging.enable_heif()
    imaging.enable_heif()  # idempotent
    photo = open_photo(images.heic(64, 48, exif_orientation=6))
    assert photo.format == "HEIF"
    assert photo.image.size == (48, 64)
    assert close(photo.image.getpixel((47, 0)), images.MARK, tol=30)
    assert close(centre(photo.image), images.RED, tol=12)


def test_animated_gif_gives_its_first_frame():
    photo = open_photo(images.animated_gif())
    assert photo.format == "GIF" and close(centre(photo.image), images.RED, tol=2)


def test_webp_with_alpha():
    photo = open_photo(images.webp(alpha=True))
    assert photo.format == "WEBP"
    assert photo.image.getpixel((0, 0)) == (255, 255, 255) and close(centre(photo.image), images.RED, 2)


def test_mpo_opens_as_jpeg_first_picture():
    photo = open_photo(images.mpo())
    assert photo.format == "JPEG" and close(centre(photo.image), (20, 200, 20), tol=6)


def test_embedded_colour_profile_is_converted_to_srgb():
    assert close(centre(open_photo(images.profiled_jpeg(level=128)).image), (188, 188, 188), tol=3)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (128, 128, 128)).save(buf, "JPEG", quality=95, icc_profile=srgb)
    assert close(centre(open_photo(buf.getvalue()).image), (128, 128, 128), tol=2)


def test_unreadable_icc_profile_is_ignored():
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), images.RED).save(buf, "JPEG", icc_profile=b"not a profile" * 20)
    assert close(centre(open_photo(buf.getvalue()).image), images.RED, tol=6)


# ---------------------------------------------------------------- draft mode and derived sizes


def test_jpeg_draft_decodes_only_what_the_display_copy_needs():
    data = images.phone_jpeg(4000, 3000, exif_orientation=6)
    photo = open_photo(data, need_long_side=1280, need_min_side=224)
    assert photo.decoded_size == (2000, 1500)  # scale 1/2 still covers 1280 x 960
    assert (photo.width, photo.height) == (3000, 4000)  # the original's size, upright
    assert photo.image.size == (960, 1280)  # reduced to what the display copy needs, then turned upright
    assert imaging.derive_display(photo.image).size == (960, 1280)
    assert open_photo(data).decoded_size == (4000, 3000)  # no need given: full decode


def test_draft_keeps_the_model_side_on_a_panorama():
    photo = open_photo(images.phone_jpeg(8000, 500), need_long_side=1280, need_min_side=224)
    assert photo.decoded_size == (4000, 250)
    assert photo.image.size == (3584, 224)  # aspect kept, short side still covers the model input
    derived = imaging.derive_all(photo.image, 224)
    assert derived.display.size == (1280, 80)
    assert derived.model_input.shape == (224, 224, 3)


COVERS = [
    ((4032, 3024), (1280, 960)),
    ((3024, 4032), (960, 1280)),
    ((8000, 500), (3584, 224)),
    ((300, 200), (300, 200)),
]


@pytest.mark.parametrize(("size", "cover"), COVERS)
def test_cover_size(size, cover):
    assert imaging.cover_size(size, 1280, 224) == cover


def test_png_is_reduced_after_decoding_too():
    photo = open_photo(images.png_16bit(3000, 2000), need_long_side=1280, need_min_side=224)
    assert photo.decoded_size == (3000, 2000) and photo.image.size == (1280, 853)
    assert close(centre(photo.image), (128, 128, 128), tol=1)


def test_display_and_thumbnail_are_never_upscaled():
    small = open_photo(images.phone_jpeg(300, 200)).image
    assert imaging.derive_display(small).size == (300, 200)
    assert imaging.derive_thumbnail(small).size == (300, 200)
    big = open_photo(images.phone_jpeg(2000, 1500)).image
    assert imaging.derive_display(big).size == (1280, 960)
    assert imaging.derive_thumbnail(big).size == (320, 240)


def test_model_input_squashes_the_whole_photo():
    im = Image.new("RGB", (400, 100), images.RED)
    im.paste(images.BLUE, (200, 0, 400, 100))
    arr = imaging.model_input_array(im, 32)
    assert arr.shape == (32, 32, 3) and arr.dtype == np.uint8 and arr.flags.writeable
    assert close(arr[16, 4], images.RED, 2) and close(arr[16, 28], images.BLUE, 2)


def test_encode_png_round_trips_an_array():
    arr = np.random.default_rng(3).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(imaging.encode_png(arr)))), arr)


# ---------------------------------------------------------------- broken metadata is logged, never silent


def _jpeg_with(**save_args) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (128, 128, 128)).save(buf, "JPEG", **save_args)
    return buf.getvalue()


def test_unreadable_colour_profile_is_logged_and_the_photo_kept(caplog):
    # issue 8 defect 12: `except Exception: pass` hid every profile failure (and any bug behind it)
    data = _jpeg_with(icc_profile=b"\0" * 200 + b"not a profile" * 20)
    with caplog.at_level(logging.INFO, logger="webapp.photostore.imaging"):
        decoded = open_photo(data)
    assert decoded.image.getpixel((5, 5))[0] in range(120, 137)  # converted plainly
    assert any("colour profile not applied" in r.getMessage() for r in caplog.records)


def test_unreadable_exif_orientation_is_logged_and_the_photo_kept(caplog):
    entry = struct.pack(">HHI4s", 0x0112, 2, 4, b"abc\0")  # Orientation stored as text "abc"
    exif = b"Exif\0\0MM\0*" + struct.pack(">IH", 8, 1) + entry + struct.pack(">I", 0)
    with caplog.at_level(logging.INFO, logger="webapp.photostore.imaging"):
        decoded = open_photo(_jpeg_with(exif=exif))
    assert (decoded.width, decoded.height) == (40, 30)
    assert any("unreadable EXIF orientation" in r.getMessage() for r in caplog.records)


def test_metadata_errors_caught_are_named_not_everything():
    # only what damaged metadata raises is caught; a bug (say a RuntimeError) surfaces instead of vanishing
    assert Exception not in imaging.METADATA_ERRORS and RuntimeError not in imaging.METADATA_ERRORS
    assert not issubclass(RuntimeError, imaging.METADATA_ERRORS)
