"""Image factories for tests: each returns the bytes of a file as a phone, an editor or a mistake makes it.

Import from any test: `from tests.images import phone_jpeg, class_photo`. Pillow, pillow_heif and numpy only.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image, ImageDraw

RED = (200, 30, 30)
BLUE = (30, 60, 200)
MARK = (20, 200, 20)  # the corner marker of phone_jpeg: shows where the raw top-left ended up
# Dominant colours per class: far apart so even an untrained network separates them (see class_photo).
CLASS_TONES = [(200, 150, 60), (70, 120, 190), (60, 170, 80), (190, 60, 150), (230, 230, 230), (40, 40, 40)]


def _save(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def exif_bytes(orientation: int | None = None, gps: bool = True) -> bytes:
    """An EXIF block as a phone writes it: make, model, optional orientation and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "TestPhone Inc."  # Make
    exif[0x0110] = "Model 1"  # Model
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    return exif.tobytes()


def marked(w: int, h: int, color=RED) -> Image.Image:
    """A plain picture with a MARK square in its top-left corner, to check rotations."""
    im = Image.new("RGB", (w, h), color)
    s = max(2, min(w, h) // 4)
    ImageDraw.Draw(im).rectangle([0, 0, s - 1, s - 1], fill=MARK)
    return im


def phone_jpeg(w=400, h=300, color=RED, exif_orientation=None, gps=True, quality=90) -> bytes:
    """A phone-style JPEG: pixels as the sensor saw them, EXIF (orientation, GPS) saying how to show them."""
    return _save(marked(w, h, color), "JPEG", quality=quality, exif=exif_bytes(exif_orientation, gps))


def noisy_jpeg(w=4032, h=3024, seed=0, exif_orientation=6, quality=92) -> bytes:
    """A phone-size JPEG with photo-like detail (gradients + sensor noise): about 3-5 MB at 12 MP."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            120 + 80 * np.sin(xx / (97 + seed)) * np.cos(yy / 131),
            110 + 70 * np.cos((xx + yy) / (173 + seed)),
            100 + 60 * np.sin(yy / 59) + 20 * np.cos(xx / 23),
        ],
        axis=-1,
    )
    noisy = base + rng.normal(0, 9, size=base.shape).astype(np.float32)
    im = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    return _save(im, "JPEG", quality=quality, exif=exif_bytes(exif_orientation, gps=True))


def png_rgba(w=64, h=48) -> bytes:
    """A PNG with a fully transparent background and an opaque red square in the middle."""
    im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle([w // 4, h // 4, 3 * w // 4, 3 * h // 4], fill=(*RED, 255))
    return _save(im, "PNG")


def png_palette(w=64, h=48) -> bytes:
    """A palette PNG whose index 0 is transparent (black in the palette), the right half blue."""
    im = Image.new("P", (w, h), 0)
    im.putpalette([0, 0, 0, *BLUE] + [0] * (256 * 3 - 6))
    ImageDraw.Draw(im).rectangle([w // 2, 0, w - 1, h - 1], fill=1)
    return _save(im, "PNG", transparency=0)


def png_16bit(w=64, h=48, value=32768) -> bytes:
    """A 16-bit greyscale PNG of one mid-grey level (must decode to ~128, not white)."""
    return _save(Image.new("I;16", (w, h), value), "PNG")


def png_16bit_rgb(w=16, h=12, rgb=(40000, 20000, 10000)) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one, so the chunks are built here)."""
    row = b"\x00" + np.tile(np.array(rgb, ">u2"), w).tobytes()
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return _png_file(ihdr, zlib.compress(row * h))


def _png_file(ihdr: bytes, idat: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@functools.cache
def pixel_bomb(w=20000, h=20000) -> bytes:
    """A valid 1-bit PNG of w x h black pixels: a few tens of KB on disk, w*h*3 bytes once decoded."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (w + 7) // 8)
    idat = b"".join(packer.compress(row) for _ in range(h)) + packer.flush()
    return _png_file(struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0), idat)


def linear_rgb_icc(gamma: float = 1.0) -> bytes:
    """A minimal ICC v2 RGB profile: sRGB primaries with a plain gamma curve (1.0 = linear light).

    Not sRGB, so a decoder that honours profiles must change the pixel values (128 linear is ~188 in sRGB).
    """

    def s15(*values: float) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    text = b"Linear RGB test profile\x00"
    desc = b"desc\x00\x00\x00\x00" + struct.pack(">I", len(text)) + text + b"\x00" * (4 + 4 + 2 + 1 + 67)
    curve = b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(gamma * 256)) + b"\x00\x00"
    tags = [
        (b"desc", desc),
        (b"wtpt", b"XYZ \x00\x00\x00\x00" + s15(0.9642, 1.0, 0.8249)),
        (b"rXYZ", b"XYZ \x00\x00\x00\x00" + s15(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", b"XYZ \x00\x00\x00\x00" + s15(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", b"XYZ \x00\x00\x00\x00" + s15(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset, table, body = 128 + 4 + 12 * len(tags), b"", b""
    for sig, data in tags:
        data += b"\x00" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = struct.pack(
        ">I4sI4s4s4s12s4s", size, b"\x00" * 4, 0x02100000, b"mntr", b"RGB ", b"XYZ ", b"", b"acsp"
    )
    header += b"\x00" * (68 - len(header)) + s15(0.9642, 1.0, 0.8249)
    header += b"\x00" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


def profiled_jpeg(w=64, h=48, level=128) -> bytes:
    """A grey JPEG tagged with linear_rgb_icc(): shown right, its pixels are ~188, not 128."""
    return _save(Image.new("RGB", (w, h), (level,) * 3), "JPEG", quality=95, icc_profile=linear_rgb_icc())


def cmyk_jpeg(w=64, h=48, cmyk=(0, 255, 255, 0)) -> bytes:
    """A CMYK JPEG (as print workflows make them); the default ink is pure red."""
    return _save(Image.new("CMYK", (w, h), cmyk), "JPEG", quality=95)


def grey_jpeg(w=64, h=48, level=128) -> bytes:
    """A greyscale JPEG of one level."""
    return _save(Image.new("L", (w, h), level), "JPEG", quality=95)


def heic(w=64, h=48, color=RED, exif_orientation=None) -> bytes:
    """A HEIC photo (pillow_heif), optionally with an EXIF orientation."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return _save(marked(w, h, color), "HEIF", quality=90, exif=exif_bytes(exif_orientation, gps=True))


def animated_gif(w=64, h=48) -> bytes:
    """A two-frame GIF: the first frame red, the second blue."""
    frames = [Image.new("RGB", (w, h), c) for c in (RED, BLUE)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def webp(w=64, h=48, color=RED, alpha=False) -> bytes:
    """A WebP photo; with alpha, a transparent background around an opaque square."""
    if not alpha:
        return _save(Image.new("RGB", (w, h), color), "WEBP", quality=90)
    im = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle([w // 4, h // 4, 3 * w // 4, 3 * h // 4], fill=(*color, 255))
    return _save(im, "WEBP", lossless=True)


def mpo(w=64, h=48) -> bytes:
    """A two-picture MPO (what some phones save for portrait or 3D shots): green, then blue."""
    frames = [Image.new("RGB", (w, h), c) for c in ((20, 200, 20), BLUE)]
    return _save(frames[0], "MPO", save_all=True, append_images=frames[1:])


def truncated_jpeg(w=400, h=300) -> bytes:
    """The first half of a detailed JPEG: what an interrupted upload leaves."""
    data = noisy_jpeg(w, h, exif_orientation=None, quality=90)
    return data[: len(data) // 2]


def zero_bytes() -> bytes:
    return b""


def text_file() -> bytes:
    """Plain text, e.g. a note saved as photo.jpg."""
    return b"Shopping list:\n- beer\n- wings\n\xc3\xa9t\xc3\xa9 \xe2\x98\x80\n" * 5


def svg() -> bytes:
    return b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>\n'


def html() -> bytes:
    return b"<!DOCTYPE html>\n<html><body><img src='beer.jpg'></body></html>\n"


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def tiff(w=16, h=12) -> bytes:
    return _save(Image.new("RGB", (w, h), RED), "TIFF")


def bmp(w=16, h=12) -> bytes:
    return _save(Image.new("RGB", (w, h), RED), "BMP")


def zip_of_photos() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("beer.jpg", phone_jpeg(32, 24))
    return buf.getvalue()


def mp4() -> bytes:
    """The start of an MP4 video (ftyp isom), enough for sniffing."""
    ftyp = b"ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
    return struct.pack(">I", 8 + len(ftyp)) + ftyp + struct.pack(">I", 8) + b"free" + b"\x00" * 64


def avif_header() -> bytes:
    """The start of an AVIF file (ftyp avif), enough for sniffing."""
    ftyp = b"ftypavif\x00\x00\x00\x00avifmif1miaf"
    return struct.pack(">I", 8 + len(ftyp)) + ftyp + b"\x00" * 64


def random_binary(n=512, seed=1) -> bytes:
    return np.random.default_rng(seed).integers(1, 256, n, dtype=np.uint8).tobytes()


def class_photo(cls_index: int, i: int, size=(640, 480)) -> bytes:
    """A JPEG whose class shows in its dominant colour and shapes: even an untrained VGG separates classes.

    Photo i of a class is another scene of it: lighter and darker patches of the class's tone and the accent
    shapes are placed by i, so no two photos share bytes and none is a near-duplicate of another (the app
    groups near-duplicates, which keeps them in one split).
    """
    tone = CLASS_TONES[cls_index % len(CLASS_TONES)]
    w, h = size
    rng = np.random.default_rng([cls_index, i])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1 + (xx / w - 0.5) * rng.uniform(-0.4, 0.4) + (yy / h - 0.5) * rng.uniform(-0.4, 0.4)
    base = np.array([min(255, c + (i * 7) % 30) for c in tone], np.float32)
    im = Image.fromarray(np.clip(light[..., None] * base, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    for _ in range(rng.integers(7, 11)):  # lighter and darker things of the class's tone, placed by i
        x, y = rng.uniform(-0.1, 0.9, size=2) * (w, h)
        pw, ph = rng.uniform(0.15, 0.45, size=2) * (w, h)
        shade = rng.choice([0.65, 1.3])  # the class's colour must still dominate: an untrained net sees it
        fill = tuple(min(255, round(c * shade + (20 if shade > 1 else 0))) for c in tone)
        (d.rectangle if rng.integers(2) else d.ellipse)([x, y, x + pw, y + ph], fill=fill)
    accent = tuple(round(0.6 * c + 0.4 * (255 - c)) for c in tone)  # muted, so the scene sets the structure
    if cls_index % 2 == 0:
        x, y = rng.uniform(0, 0.8) * w, rng.uniform(0, 0.3) * h
        d.rectangle([x, y, x + w // 6, y + 3 * h // 5], fill=accent)
    else:
        y0 = rng.uniform(0, 0.8) * h
        for k in range(6):
            x, y = k * w // 8 + w // 16, y0 + rng.uniform(-0.1, 0.1) * h
            d.ellipse([x, y, x + w // 10, y + h // 10], fill=accent)
    return _save(im, "JPEG", quality=90)


def plain_class_photo(cls_index: int, i: int, size=(320, 240)) -> bytes:
    """A JPEG of the class's colour under faint blotches of its own: the colour is all an untrained net
    needs (even a random MobileNetV2 at 32 px); the blotches keep any two photos from being near-copies."""
    tone = np.array(CLASS_TONES[cls_index % len(CLASS_TONES)], np.float32)
    w, h = size
    rng = np.random.default_rng([7, cls_index, i])
    blotches = Image.fromarray(rng.integers(0, 256, size=(h // 20, w // 20), dtype=np.uint8))
    shade = np.asarray(blotches.resize(size, Image.Resampling.BICUBIC), np.float32)[..., None] / 255 - 0.5
    return _save(Image.fromarray(np.clip(tone + 40 * shade, 0, 255).astype(np.uint8)), "JPEG", quality=90)
