"""Recognising files by their first bytes: name what is not an accepted photo before any decoder sees it.

Pure functions on bytes (no Pillow): a refused file gets a reason in plain words ("SVG is not a photo format
we accept"), an accepted format's magic bytes are recognised, unknown binary is left to the decoder to refuse.
"""

ACCEPTED_WORDS = "JPEG, PNG, WebP, HEIC or GIF"

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_REFUSED_PREFIXES = [
    ((b"%PDF",), "This is a PDF document, not a photo"),
    (
        (b"II*\x00", b"MM\x00*", b"IIRO", b"IIU\x00"),
        "TIFF and camera RAW files are not accepted; save as JPEG",
    ),
    ((b"PK\x03\x04", b"PK\x05\x06"), "This is a ZIP archive, not a photo; upload the photos inside it"),
    ((b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!"), "This is a compressed archive, not a photo"),
    ((b"\x1aE\xdf\xa3",), "This is a video, not a photo"),
    ((b"8BPS",), "Photoshop (PSD) files are not accepted; save as JPEG or PNG"),
    ((b"\xff\x0a", b"\x00\x00\x00\x0cJXL "), "JPEG XL is not a photo format we accept; save as JPEG"),
    ((b"ID3", b"OggS", b"fLaC"), "This is an audio file, not a photo"),
]


def sniff_refused_format(data: bytes) -> str | None:
    """Name, in plain words, why these bytes are not an accepted photo; None when they may be one."""
    if not data:
        return "This file is empty"
    head = data[:64]
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(data)
    if magic_name(head):
        return None
    if head.startswith(b"RIFF"):
        return "This is a video or audio file, not a photo"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "This is a video, not a photo"
    if head.startswith(b"BM") and head[14:15] in (b"\x0c", b"(", b"4", b"8", b"@", b"l", b"|"):
        return f"BMP is not a photo format we accept; save it as {ACCEPTED_WORDS}"
    for prefixes, message in _REFUSED_PREFIXES:
        if head.startswith(prefixes):
            return message
    return _sniff_text(data[:4096])


def _sniff_ftyp(data: bytes) -> str | None:
    """ISO media files: HEIC photos pass, AVIF and videos are named."""
    major = data[8:12]
    brands = {data[i : i + 4] for i in range(16, min(len(data), int.from_bytes(data[:4]), 256) - 3, 4)}
    if major in (b"avif", b"avis") or (major in (b"mif1", b"msf1") and b"avif" in brands):
        return f"AVIF is not a photo format we accept; save it as {ACCEPTED_WORDS}"
    if major in _HEIF_BRANDS:
        return None
    if major == b"crx ":
        return "TIFF and camera RAW files are not accepted; save as JPEG"
    return "This is a video, not a photo"


def magic_name(head: bytes) -> str | None:
    """The accepted format these first bytes announce, in words, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIC"
    return None


def _sniff_text(head: bytes) -> str | None:
    """Markup and plain text, named; None for unknown binary."""
    text = _as_text(head)
    if text is None:
        return None
    start = text.lstrip().lower()
    if start.startswith("<svg") or (start.startswith("<") and "<svg" in start[:2048]):
        return "SVG is not a photo format we accept"
    if start.startswith(("<!doctype html", "<html", "<head", "<body")):
        return "This is a web page (HTML), not a photo"
    if start.startswith("<?xml"):
        return "This is an XML file, not a photo"
    printable = sum(ch.isprintable() or ch in "\t\r\n\f" for ch in text)
    return "This is a text file, not a photo" if printable >= 0.95 * len(text) else None


def _as_text(head: bytes) -> str | None:
    """Decode the start of a file as UTF-8 or UTF-16 text, or None when it is binary."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head[2 : len(head) & ~1].decode("utf-16-le" if head[0] == 0xFF else "utf-16-be", "replace")
    if b"\x00" in head:
        return None
    try:
        return head.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the 4 KB window is still text
        return head[: exc.start].decode("utf-8") if exc.start >= len(head) - 3 and exc.start else None
