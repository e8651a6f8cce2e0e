"""PNG charts for the comparison report, drawn with Pillow (app runtime; no matplotlib needed).

- `confusion_png`: rows are true intents, columns predicted ones; cell shade is the
  share of the row, counts printed in the cells.
- `f1_bars_png`: per intent, the baseline's F1 (grey) and the candidate's (blue),
  with the change; drops in red.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

BLUE = (31, 78, 140)
GREY = (170, 176, 186)
RED = (176, 30, 30)
GREEN = (20, 120, 60)
INK = (29, 36, 48)


def _font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: Any) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    return int(right - left)


def confusion_png(labels: Sequence[str], matrix: Sequence[Sequence[int]], path: Path, title: str = "Confusion matrix") -> Path:
    font, small, big = _font(12), _font(10), _font(15)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max((_text_width(probe, name, font) for name in labels), default=40) + 12
    cell = 26
    n = len(labels)
    top = label_w + 40
    width = max(label_w + n * cell + 20, _text_width(probe, title, big) + 20)
    height = top + n * cell + 20
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 8), title, fill=INK, font=big)
    # Column labels, written sideways.
    for j, name in enumerate(labels):
        w = _text_width(probe, name, font)
        tile = Image.new("RGBA", (w + 4, 16), (255, 255, 255, 0))
        ImageDraw.Draw(tile).text((2, 0), name, fill=INK, font=font)
        tile = tile.rotate(90, expand=True)
        image.paste(tile, (label_w + j * cell + (cell - tile.width) // 2, top - tile.height - 4), tile)
    for i, name in enumerate(labels):
        y = top + i * cell
        draw.text((label_w - 6 - _text_width(probe, name, font), y + 6), name, fill=INK, font=font)
        total = sum(matrix[i]) or 1
        for j in range(n):
            value = matrix[i][j]
            share = value / total
            if i == j:
                color = tuple(int(255 - share * (255 - c)) for c in BLUE)
            else:
                color = tuple(int(255 - share * (255 - c)) for c in RED)
            x = label_w + j * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=color, outline=(225, 228, 233))
            if value:
                text = str(value)
                ink = "white" if share > 0.55 else INK
                draw.text((x + (cell - _text_width(probe, text, small)) // 2, y + 8), text, fill=ink, font=small)
    path = Path(path)
    image.save(path, "PNG", optimize=True)
    return path


def f1_bars_png(changes: Sequence[Any], path: Path, title: str = "F1 per intent") -> Path:
    """`changes`: objects with `intent`, `before`, `after` (None when missing) and `delta`."""
    font, big = _font(12), _font(15)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max((_text_width(probe, c.intent, font) for c in changes), default=40) + 14
    bar_w, row = 360, 30
    width, height = label_w + bar_w + 90, 60 + row * len(changes) + 30
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 8), title, fill=INK, font=big)
    draw.rectangle([label_w, 34, label_w + 10, 44], fill=GREY)
    draw.text((label_w + 14, 32), "before", fill=INK, font=font)
    draw.rectangle([label_w + 70, 34, label_w + 80, 44], fill=BLUE)
    draw.text((label_w + 84, 32), "now", fill=INK, font=font)
    for k in range(0, 11, 2):  # grid at 0, 0.2, ... 1.0
        x = label_w + int(bar_w * k / 10)
        draw.line([x, 52, x, height - 24], fill=(232, 235, 240))
        draw.text((x - 8, height - 20), f"{k / 10:.1f}", fill=(110, 118, 130), font=font)
    for i, change in enumerate(changes):
        y = 56 + i * row
        draw.text((label_w - 8 - _text_width(probe, change.intent, font), y + 6), change.intent, fill=INK, font=font)
        before = change.before or 0.0
        after = change.after or 0.0
        draw.rectangle([label_w, y + 2, label_w + max(1, int(bar_w * before)), y + 11], fill=GREY)
        draw.rectangle([label_w, y + 13, label_w + max(1, int(bar_w * after)), y + 24], fill=BLUE)
        delta = change.delta
        color = RED if delta < -0.0005 else GREEN if delta > 0.0005 else INK
        draw.text((label_w + bar_w + 8, y + 7), f"{delta:+.3f}", fill=color, font=font)
    path = Path(path)
    image.save(path, "PNG", optimize=True)
    return path
