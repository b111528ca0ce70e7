"""Photo-like scenes drawn with Pillow for the README screenshot: a glass of beer, a plate of chicken wings.

Each scene varies in light, colours, position, size and angle, and gets a photo's softness, grain and
vignette, so a real backbone (MobileNetV2) tells them apart from what they show, not from a colour code.
"""

import io
import random

from PIL import Image, ImageDraw, ImageFilter

SIZE = (640, 480)


def _gradient(size, top, bottom) -> Image.Image:
    """A vertical gradient from colour top to colour bottom."""
    _w, h = size
    column = Image.new("RGB", (1, h))
    for y in range(h):
        t = y / (h - 1)
        column.putpixel((0, y), tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    return column.resize(size)


def _jitter(color, rng: random.Random, amount: int = 18):
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in color)


def _table(rng: random.Random) -> Image.Image:
    """A wooden table under warm or cool light, its grain in darker streaks."""
    wood = _jitter(rng.choice([(139, 94, 60), (110, 74, 48), (165, 120, 80), (90, 64, 46)]), rng)
    image = _gradient(SIZE, _jitter(tuple(int(c * 0.55) for c in wood), rng), wood)
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        y = rng.randint(0, SIZE[1])
        shade = tuple(int(c * rng.uniform(0.7, 0.95)) for c in wood)
        draw.line([(0, y), (SIZE[0], y + rng.randint(-25, 25))], fill=shade, width=rng.randint(1, 4))
    return image


def _finish(image: Image.Image, rng: random.Random) -> bytes:
    """Soften, add grain and a vignette, and encode as a JPEG as a phone would."""
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.6)))
    noise = Image.effect_noise(SIZE, rng.uniform(8, 18)).convert("RGB")
    image = Image.blend(image, noise, 0.06)
    vignette = Image.new("L", SIZE, 0)
    ImageDraw.Draw(vignette).ellipse([-120, -100, SIZE[0] + 120, SIZE[1] + 100], fill=255)
    vignette = vignette.filter(ImageFilter.GaussianBlur(90))
    image = Image.composite(image, Image.new("RGB", SIZE, (20, 14, 10)), vignette)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def _glass(image: Image.Image, rng: random.Random, cx: int, base: int, scale: float) -> None:
    """A pint glass of beer standing at (cx, base): foam, bubbles, its shadow and a highlight."""
    draw = ImageDraw.Draw(image)
    height, top_w = int(rng.randint(230, 320) * scale), int(rng.randint(110, 150) * scale)
    bottom_w = int(top_w * rng.uniform(0.7, 0.85))
    top, head = base - height, int(42 * scale)
    draw.ellipse(
        [cx - bottom_w, base - 14 * scale, cx + bottom_w + 40 * scale, base + 22 * scale], fill=(30, 20, 14)
    )
    amber = _jitter(rng.choice([(214, 140, 30), (190, 110, 20), (230, 170, 60), (120, 50, 20)]), rng, 12)
    body = [
        (cx - top_w // 2, top + head),
        (cx + top_w // 2, top + head),
        (cx + bottom_w // 2, base),
        (cx - bottom_w // 2, base),
    ]
    draw.polygon(body, fill=amber)
    for _ in range(int(rng.randint(20, 45) * scale)):  # bubbles
        x = rng.randint(cx - bottom_w // 2 + 6, cx + bottom_w // 2 - 6)
        y = rng.randint(top + head + 8, base - 8)
        r = rng.randint(1, 3)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_jitter((250, 215, 140), rng, 10))
    draw.rectangle([cx - top_w // 2, top, cx + top_w // 2, top + head], fill=_jitter((244, 236, 214), rng, 8))
    foam_top = [cx - top_w // 2, top - 16 * scale, cx + top_w // 2, top + 16 * scale]
    draw.ellipse(foam_top, fill=_jitter((252, 248, 236), rng, 4))
    draw.line([body[0], body[3]], fill=(235, 235, 230), width=3)
    draw.line([body[1], body[2]], fill=(235, 235, 230), width=3)
    shine = [
        (cx - top_w // 2 + 14 * scale, top + head + 18 * scale),
        (cx - bottom_w // 2 + 12 * scale, base - 20 * scale),
    ]
    draw.line(shine, fill=(255, 240, 200), width=max(2, int(6 * scale)))


def _wing(rng: random.Random, glaze, scale: float) -> Image.Image:
    """One glazed, charred chicken wing, turned at random (RGBA)."""
    wing = Image.new("RGBA", (130, 80), (0, 0, 0, 0))
    draw = ImageDraw.Draw(wing)
    draw.ellipse([6, 10, 124, 70], fill=(*_jitter(glaze, rng, 20), 255))
    for _ in range(6):  # charred spots
        x, y = rng.randint(20, 110), rng.randint(20, 60)
        draw.ellipse([x - 5, y - 4, x + 5, y + 4], fill=(70, 28, 12, 255))
    draw.ellipse([30, 18, 80, 32], fill=(235, 150, 90, 200))  # the glaze's shine
    wing = wing.resize((int(130 * scale), int(80 * scale)))
    return wing.rotate(rng.randint(0, 180), expand=True, resample=Image.BICUBIC)


def _plate(image: Image.Image, rng: random.Random, cx: int, cy: int, scale: float) -> None:
    """A white plate of wings centred at (cx, cy), with a dip and celery sticks, and its shadow."""
    draw = ImageDraw.Draw(image)
    rx, ry = int(rng.randint(190, 240) * scale), int(rng.randint(130, 170) * scale)
    draw.ellipse([cx - rx + 18, cy - ry + 22, cx + rx + 18, cy + ry + 22], fill=(35, 25, 18))
    draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=_jitter((242, 242, 238), rng, 6))
    inner = [cx - rx + 22 * scale, cy - ry + 16 * scale, cx + rx - 22 * scale, cy + ry - 16 * scale]
    draw.ellipse(inner, fill=_jitter((228, 228, 224), rng, 6))
    glaze = rng.choice([(178, 70, 20), (150, 60, 25), (200, 95, 30), (120, 45, 20)])
    for _ in range(rng.randint(5, 8)):
        wing = _wing(rng, glaze, scale)
        x = cx + rng.randint(-rx // 2, rx // 2) - wing.width // 2
        y = cy + rng.randint(-ry // 2, ry // 2) - wing.height // 2
        image.paste(wing, (x, y), wing)
    dip_x, dip = cx + rx - int(rng.randint(40, 70) * scale), scale
    draw.ellipse([dip_x - 38 * dip, cy - 30 * dip, dip_x + 38 * dip, cy + 30 * dip], fill=(250, 250, 246))
    draw.ellipse(
        [dip_x - 30 * dip, cy - 22 * dip, dip_x + 30 * dip, cy + 22 * dip],
        fill=_jitter((238, 232, 205), rng, 8),
    )
    for i in range(rng.randint(2, 4)):  # celery sticks
        x = cx - rx + (40 + i * 16) * scale
        stick = [x, cy - 60 * scale, x + 12 * scale, cy + 50 * scale]
        draw.rounded_rectangle(stick, radius=int(6 * scale), fill=_jitter((150, 200, 90), rng, 15))


def beer(seed: int) -> bytes:
    """A pint glass of beer on a table; now and then a plate of wings behind it, at the edge of the frame."""
    rng = random.Random(f"beer-{seed}")
    image = _table(rng)
    if rng.random() < 0.4:
        _plate(image, rng, rng.choice([-40, SIZE[0] + 40]), rng.randint(120, 360), rng.uniform(0.5, 0.7))
    _glass(image, rng, rng.randint(200, 440), rng.randint(380, 450), rng.uniform(0.8, 1.1))
    return _finish(image, rng)


def wings(seed: int) -> bytes:
    """A plate of chicken wings on a table; now and then a glass of beer at the edge of the frame."""
    rng = random.Random(f"wings-{seed}")
    image = _table(rng)
    with_glass = rng.random() < 0.4
    if with_glass and rng.random() < 0.5:  # behind the plate
        _glass(image, rng, rng.choice([40, SIZE[0] - 40]), rng.randint(200, 260), rng.uniform(0.5, 0.7))
    _plate(image, rng, rng.randint(260, 380), rng.randint(220, 280), rng.uniform(0.8, 1.05))
    if with_glass:
        _glass(image, rng, rng.choice([30, SIZE[0] - 30]), SIZE[1] + 20, rng.uniform(0.6, 0.8))
    return _finish(image, rng)


def both(seed: int) -> bytes:
    """A glass of beer beside a plate of wings, the same size: a photo the model should be unsure about."""
    rng = random.Random(f"both-{seed}")
    image = _table(rng)
    _plate(image, rng, rng.randint(380, 440), rng.randint(240, 290), rng.uniform(0.6, 0.75))
    _glass(image, rng, rng.randint(130, 190), rng.randint(400, 440), rng.uniform(0.75, 0.9))
    return _finish(image, rng)
