"""Draw the Teams app icons: color.png (192x192, full colour) and outline.png (32x32, white on transparent).

Run from the repository root: `.venv/bin/python manifest/make_icons.py`. The PNGs are committed; this
script is how they were made, so a designer can change the shape in one place.

Shapes are drawn at 8x and scaled down with a box filter (plain supersampling: no ringing halo
around the shape, which a Lanczos filter would leave in the outline icon's alpha).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
BRAND = (31, 78, 121)  # accentColor in the manifest: #1F4E79
WHITE = (255, 255, 255)
SCALE = 8


Box = tuple[float, float, float, float]  # left, top, right, bottom


def _cubic(p0: tuple[float, float], c1: tuple[float, float], c2: tuple[float, float], p3: tuple[float, float],
           steps: int = 32) -> list[tuple[float, float]]:
    out = []
    for i in range(1, steps + 1):
        t = i / steps
        a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
        out.append((a * p0[0] + b * c1[0] + c * c2[0] + d * p3[0], a * p0[1] + b * c1[1] + c * c2[1] + d * p3[1]))
    return out


def _shield(box: Box) -> list[tuple[float, float]]:
    """A heater shield filling box, as a polygon: a shallow peak on top, straight shoulders, curved
    flanks meeting in a point at the bottom."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    mid = (left + right) / 2
    shoulder = (right, top + 0.42 * h)
    right_flank = _cubic(shoulder, (right, top + 0.75 * h), (mid + 0.18 * w, bottom - 0.1 * h), (mid, bottom))
    left_flank = [(2 * mid - x, y) for x, y in reversed(right_flank[:-1])]
    return [(left, top + 0.08 * h), (mid, top), (right, top + 0.08 * h), shoulder,
            *right_flank, *left_flank, (left, top + 0.42 * h)]


def _lock(draw: ImageDraw.ImageDraw, box: Box, *, fill: int | tuple[int, ...], hole: int | tuple[int, ...]) -> None:
    """A padlock in the upper-middle of the shield box: shackle, body and keyhole."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    cx = (left + right) / 2
    body_w, body_h = 0.5 * w, 0.3 * h
    body_top = top + 0.38 * h
    shackle_w, stroke = 0.32 * w, 0.085 * w
    draw.rounded_rectangle((cx - shackle_w / 2, body_top - 0.2 * h, cx + shackle_w / 2, body_top + 0.1 * h),
                           radius=shackle_w / 2, outline=fill, width=round(stroke))
    draw.rounded_rectangle((cx - body_w / 2, body_top, cx + body_w / 2, body_top + body_h),
                           radius=0.05 * w, fill=fill)
    r = 0.06 * w
    key_y = body_top + body_h * 0.4
    draw.ellipse((cx - r, key_y - r, cx + r, key_y + r), fill=hole)
    draw.rectangle((cx - r * 0.45, key_y, cx + r * 0.45, key_y + body_h * 0.35), fill=hole)


def color_icon() -> Image.Image:
    """192x192: a white shield with a brand-coloured padlock on a solid brand background."""
    size = 192 * SCALE
    img = Image.new("RGB", (size, size), BRAND)
    draw = ImageDraw.Draw(img)
    box = (0.2 * size, 0.14 * size, 0.8 * size, 0.86 * size)
    draw.polygon(_shield(box), fill=WHITE)
    _lock(draw, box, fill=BRAND, hole=WHITE)
    return img.resize((192, 192), Image.Resampling.BOX)


def outline_icon() -> Image.Image:
    """32x32: the same shield and padlock as a white silhouette; the padlock is cut out (transparent).

    Teams requires white and transparency only, so the shape is drawn as an alpha mask and the
    colour channels are pure white everywhere: scaling cannot blend in any other colour."""
    size = 32 * SCALE
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    box = (0.1 * size, 0.03 * size, 0.9 * size, 0.97 * size)
    draw.polygon(_shield(box), fill=255)
    _lock(draw, box, fill=0, hole=255)
    alpha = mask.resize((32, 32), Image.Resampling.BOX)
    img = Image.new("RGBA", (32, 32), (*WHITE, 0))
    img.putalpha(alpha)
    return img


def main() -> None:
    color_icon().save(HERE / "color.png", optimize=True)
    outline_icon().save(HERE / "outline.png", optimize=True)


if __name__ == "__main__":
    main()
