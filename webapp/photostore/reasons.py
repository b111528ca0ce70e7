"""Plain words for why a file could not be decoded (what Pillow raised, a pixel count over the limit)."""

import re
import struct

from PIL import Image

from webapp.photostore.limits import number, over_limit
from webapp.photostore.sniff import magic_name

# What Pillow and pillow_heif raise on damaged or hostile files (anything else is logged with its trace).
DECODER_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    struct.error,
    EOFError,
    MemoryError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    Image.DecompressionBombError,
)


def decode_failure(exc: Exception, data: bytes, max_pixels: int) -> str:
    """Plain words for an exception Pillow (or pillow_heif) raised on these bytes."""
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        found = re.search(r"\((\d+) pixels\)", str(exc))
        return too_many_pixels(int(found.group(1)) if found else None, max_pixels, _header_size(data))
    kind = magic_name(data[:64])
    if kind is None:
        return "This file is not an image we can read"
    if isinstance(exc, MemoryError):
        return "The image is too large to decode"
    if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
        return f"The file is damaged or incomplete (truncated {kind})"
    return f"The file is damaged and cannot be read as a {kind}"


def _header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG or GIF header (for messages about images Pillow refused to open)."""
    if data.startswith(b"\x89PNG") and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    if data.startswith(b"GIF8") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    return None


def too_many_pixels(pixels: int | None, max_pixels: int, size: tuple[int, int] | None = None) -> str:
    """Plain words for an image over the pixel limit, in megapixels on both sides."""
    if size:
        pixels = size[0] * size[1]
    if not pixels:
        return f"The image is too large; the limit is {number(max_pixels / 1e6)} MP"
    shown, limit = over_limit(pixels, max_pixels, 1e6)
    if size:
        return f"The image is {size[0]} x {size[1]} pixels ({shown} MP); the limit is {limit} MP"
    return f"The image is {shown} MP; the limit is {limit} MP"
