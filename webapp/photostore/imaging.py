"""Photo decoding and normalising: bytes in, upright RGB pictures and model-input arrays out.

Pure functions: no files, no Flask, no TensorFlow (numpy, Pillow and pillow_heif only).

Decoding policy (one for the whole app): refuse what is not a photo before Pillow sees it, refuse pixel bombs
from the header, decode only as much of a JPEG as the largest derived size needs (draft mode), convert to sRGB
RGB uint8 (16-bit scaled, transparency composited on white, CMYK/ICC profiles converted), apply the EXIF
orientation, and drop every piece of metadata (EXIF, GPS, ICC, comments) from what is derived.
"""

from __future__ import annotations

import functools
import io
import logging
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms

from webapp.photostore.reasons import DECODER_ERRORS, decode_failure, too_many_pixels
from webapp.photostore.sniff import sniff_refused_format

log = logging.getLogger(__name__)

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF", "GIF")  # never "MPO": phone MPO files open through JPEG
DEFAULT_MAX_PIXELS = 100_000_000
DISPLAY_LONG_SIDE = 1280
DISPLAY_QUALITY = 85
THUMBNAIL_LONG_SIDE = 320
THUMBNAIL_QUALITY = 80
RESAMPLE = Image.Resampling.LANCZOS
# Pillow first shrinks by an integer factor (box filter) while the picture stays >= 2x the target, then
# resamples with LANCZOS: what Image.thumbnail does, visually the same and 2-3x faster than a full LANCZOS.
REDUCING_GAP = 2.0
# The rotation or flip each EXIF orientation asks for (the same table as ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


# What reading a damaged EXIF block raises.
METADATA_ERRORS = (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, struct.error)


class RejectedPhoto(Exception):
    """A file we will not store, with the reason in plain words for the person who sent it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, eq=False)
class DecodedPhoto:
    """An upright RGB picture plus facts about the original file."""

    image: Image.Image  # RGB, orientation applied, no metadata; reduced to cover_size() when needs are given
    format: str  # one of ACCEPTED_FORMATS (an MPO file reports "JPEG")
    width: int  # of the original, orientation applied
    height: int
    decoded_size: tuple[int, int]  # what the decoder produced, before orientation (< original in draft mode)


@dataclass(frozen=True, eq=False)
class Derived:
    """The copies made of every stored photo."""

    display: Image.Image
    thumbnail: Image.Image
    model_input: np.ndarray  # uint8 (side, side, 3)


_heif = {"enabled": False}


def enable_heif() -> None:
    """Register pillow_heif's HEIC opener with Pillow (idempotent)."""
    if not _heif["enabled"]:
        import pillow_heif  # imported here: registering is a side effect we do not want at import time

        pillow_heif.register_heif_opener()
        _heif["enabled"] = True


# ---------------------------------------------------------------- decoding


def open_photo(
    data: bytes,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    need_long_side: int | None = None,
    need_min_side: int = 0,
) -> DecodedPhoto:
    """Validate and decode photo bytes into an upright RGB image, or raise RejectedPhoto with the reason.

    need_long_side / need_min_side: the largest copies the caller will make (a long side, and a square side
    such as the model input). When given, the image returned is reduced to cover_size() of the original
    (a JPEG decoded at the smallest 1/2, 1/4 or 1/8 scale that covers it); None keeps the full picture.
    """
    refused = sniff_refused_format(data)
    if refused:
        raise RejectedPhoto(refused)
    enable_heif()
    try:
        return _decode(data, max_pixels, need_long_side, need_min_side)
    except RejectedPhoto:
        raise
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error, EOFError, ...
        reason = decode_failure(exc, data, max_pixels)
        # anything but what a damaged file raises may be our own bug: keep its trace in the log
        if not isinstance(exc, DECODER_ERRORS):
            log.warning("decoding a %d-byte upload raised %r; told the sender: %s", len(data), exc, reason)
        raise RejectedPhoto(reason) from exc


def _decode(data: bytes, max_pixels: int, need_long_side: int | None, need_min_side: int) -> DecodedPhoto:
    im = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    width, height = im.size
    if width * height > max_pixels:
        raise RejectedPhoto(too_many_pixels(width * height, max_pixels, im.size))
    fmt = "JPEG" if im.format == "MPO" else str(im.format)
    target = cover_size(im.size, need_long_side, need_min_side) if need_long_side else im.size
    if fmt == "JPEG" and target != im.size:
        im.draft("RGB", target)  # libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below target
    im.load()  # the full decode: truncated or corrupt data fails here, before anything is stored
    decoded_size, orientation = im.size, _orientation(im)
    plain = _plain(im)
    if plain.size != target:  # shrink first: the colour transform and rotation then touch 1 MP, not 12
        plain = plain.resize(target, RESAMPLE, reducing_gap=REDUCING_GAP)
    rgb = _to_srgb(plain, im.info.get("icc_profile"))
    if orientation in _TRANSPOSE:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
        if orientation >= 5:
            width, height = height, width
    rgb.info = {}
    return DecodedPhoto(rgb, fmt, width, height, decoded_size)


def cover_size(size: tuple[int, int], long_side: int, min_side: int = 0) -> tuple[int, int]:
    """The smallest size of this aspect ratio with a long side >= long_side and both sides >= min_side.

    Never above size. Orientation does not matter: the scale is the same for both axes.
    """
    w, h = size
    scale = min(1.0, max(long_side / max(w, h), min_side / max(1, min(w, h))))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _orientation(im: Image.Image) -> int:
    """The EXIF (or XMP) orientation; 1 when missing or unreadable (broken EXIF is not a broken photo)."""
    try:
        return int(im.getexif().get(0x0112, 1))
    except METADATA_ERRORS as exc:
        log.info("unreadable EXIF orientation (%r): showing the photo as stored", exc)
        return 1


def _plain(im: Image.Image) -> Image.Image:
    """The decoded picture in a mode a colour profile can apply to (RGB, CMYK or L), or already RGB."""
    if im.mode in ("RGB", "CMYK", "L") and "transparency" not in im.info:
        return im
    return _to_rgb(im)


def _to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB with transparency composited on white; 16-bit samples scaled, not clipped."""
    if im.mode.startswith("I") or im.mode == "F":
        im = _sixteen_to_eight(im)
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB")
    if im.mode in ("LA", "La", "RGBa", "RGBA") or (im.mode in ("L", "RGB") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGB", im.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return im if im.mode == "RGB" else im.convert("RGB")


def _sixteen_to_eight(im: Image.Image) -> Image.Image:
    """Grey 16-bit (I;16*, I) or float to 8-bit L; convert() would clip nearly every pixel to white."""
    arr = np.asarray(im)
    if im.mode == "F":
        eight = np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
    else:
        eight = ((np.clip(arr.astype(np.int64), 0, 65535) + 128) // 257).astype(np.uint8)
    return Image.fromarray(eight)


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert from an embedded colour profile (Display P3, CMYK, ...) to sRGB; plain conversion if none."""
    if icc:
        try:
            transform = _transform_to_srgb(icc, im.mode)
            if transform is not None:
                return ImageCms.applyTransform(im, transform)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
            # an unreadable or unusual profile never costs the photo: plain conversion below
            log.info("colour profile not applied (%s): converting without it", exc)
    return im if im.mode == "RGB" else im.convert("RGB")


@functools.lru_cache(maxsize=16)
def _transform_to_srgb(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A cached transform from this profile to sRGB, None when it already is sRGB."""
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    if "srgb" in ImageCms.getProfileDescription(profile).lower().replace(" ", ""):
        return None
    # NOCACHE: littleCMS's one-pixel cache is not safe when threads share a transform
    return ImageCms.buildTransform(profile, _srgb(), mode, "RGB", flags=ImageCms.Flags.NOCACHE)


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


# ---------------------------------------------------------------- derived copies


def fit_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The size with this long side and the same aspect ratio; never larger than size."""
    w, h = size
    if max(w, h) <= long_side:
        return w, h
    scale = long_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _resized(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    if img.size == size:
        return _bare(img)
    out = img.resize(size, RESAMPLE, reducing_gap=REDUCING_GAP)
    out.info = {}  # Pillow copies info (JPEG comments would ride along into the saved copy)
    return out


def derive_display(img: Image.Image) -> Image.Image:
    """The display copy: long side DISPLAY_LONG_SIDE, never upscaled."""
    return _resized(img, fit_size(img.size, DISPLAY_LONG_SIDE))


def derive_thumbnail(img: Image.Image) -> Image.Image:
    """The thumbnail: long side THUMBNAIL_LONG_SIDE, never upscaled (pass the display copy: it is faster)."""
    return _resized(img, fit_size(img.size, THUMBNAIL_LONG_SIDE))


def model_input_array(img: Image.Image, side: int) -> np.ndarray:
    """THE model-input policy (training, gallery, API alike): the whole upright photo resized to side x side.

    The aspect ratio is ignored, as the article's flow_from_directory(target_size=...) did: nothing is
    cropped, round things become ovals. LANCZOS with REDUCING_GAP; returns a writable uint8 array
    of shape (side, side, 3).
    """
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    return np.array(_resized(rgb, (side, side)), dtype=np.uint8)


def derive_all(img: Image.Image, side: int) -> Derived:
    """Display, thumbnail and model input of a decoded photo, each from the smallest source that covers it.

    Deterministic for a given open_photo(need_long_side=DISPLAY_LONG_SIDE, need_min_side=side) decode, so the
    stored model input and one computed from the same bytes later are identical.
    """
    display = derive_display(img)
    source = display if min(display.size) >= side else img
    return Derived(display, derive_thumbnail(display), model_input_array(source, side))


def encode_jpeg(img: Image.Image, quality: int) -> bytes:
    """JPEG bytes with no EXIF, GPS, ICC profile or comment."""
    buf = io.BytesIO()
    _bare(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def encode_png(img: Image.Image | np.ndarray, compress_level: int = 3) -> bytes:
    """Lossless PNG bytes with no metadata (level 3: small files, quick to write)."""
    im = Image.fromarray(img) if isinstance(img, np.ndarray) else _bare(img)
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=compress_level)
    return buf.getvalue()


def _bare(img: Image.Image) -> Image.Image:
    """The same pixels without info (EXIF, ICC, comments) so that save() cannot carry any of it."""
    if not img.info:
        return img
    bare = img.copy()
    bare.info = {}
    return bare
