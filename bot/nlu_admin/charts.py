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


# ---------------------------------------------------------------- SVG for the /admin page (same data, drawn in the browser)


def _esc(text: object) -> str:
    from xml.sax.saxutils import escape

    return escape(str(text), {'"': "&quot;"})


def _rgb(color: tuple[int, ...]) -> str:
    return "rgb({},{},{})".format(*color[:3])


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{_esc(title)}" font-family="sans-serif" font-size="12">'
            f'<rect width="100%" height="100%" fill="white"/><text x="10" y="20" font-size="15" fill="{_rgb(INK)}">{_esc(title)}</text>'
            + "".join(body) + "</svg>")


def f1_bars_svg(changes: Sequence[dict[str, Any]], title: str = "F1 per intent", before_label: str = "before",
                after_label: str = "now") -> str:
    """`changes`: dicts with intent, before, after, delta (bot.nlu_admin.evaluation.comparison_details)."""
    label_w = max((len(c["intent"]) for c in changes), default=6) * 7 + 16
    bar_w, row = 360, 28
    width, height = label_w + bar_w + 80, 60 + row * len(changes) + 28
    body = [f'<rect x="{label_w}" y="32" width="10" height="10" fill="{_rgb(GREY)}"/>',
            f'<text x="{label_w + 14}" y="41">{_esc(before_label)}</text>',
            f'<rect x="{label_w + 110}" y="32" width="10" height="10" fill="{_rgb(BLUE)}"/>',
            f'<text x="{label_w + 124}" y="41">{_esc(after_label)}</text>']
    for k in range(0, 11, 2):
        x = label_w + bar_w * k // 10
        body.append(f'<line x1="{x}" y1="50" x2="{x}" y2="{height - 22}" stroke="#e8ebf0"/>'
                    f'<text x="{x - 8}" y="{height - 8}" fill="#6e7682">{k / 10:.1f}</text>')
    for i, c in enumerate(changes):
        y = 54 + i * row
        before, after, delta = c.get("before") or 0.0, c.get("after") or 0.0, float(c.get("delta") or 0.0)
        color = RED if delta < -0.0005 else GREEN if delta > 0.0005 else INK
        body.append(
            f'<g class="intent" data-intent="{_esc(c["intent"])}"><text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_esc(c["intent"])}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{max(1, int(bar_w * before))}" height="9" fill="{_rgb(GREY)}"/>'
            f'<rect x="{label_w}" y="{y + 12}" width="{max(1, int(bar_w * after))}" height="10" fill="{_rgb(BLUE)}"/>'
            f'<text x="{label_w + bar_w + 8}" y="{y + 16}" fill="{_rgb(color)}">{delta:+.3f}</text></g>')
    return _svg(width, height, body, title)


def confusion_svg(labels: Sequence[str], matrix: Sequence[Sequence[int]], title: str = "Confusion matrix") -> str:
    """Rows: true intent, columns: predicted; shade = share of the row (blue on the diagonal, red off it)."""
    n, cell = len(labels), 24
    label_w = max((len(x) for x in labels), default=6) * 7 + 14
    top = label_w + 36
    width, height = max(label_w + n * cell + 20, 320), top + n * cell + 20
    body = []
    for j, name in enumerate(labels):
        x = label_w + j * cell + cell // 2 + 4
        body.append(f'<text transform="translate({x},{top - 6}) rotate(-90)">{_esc(name)}</text>')
    for i, name in enumerate(labels):
        y = top + i * cell
        body.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{_esc(name)}</text>')
        total = sum(matrix[i]) or 1
        for j in range(n):
            value = matrix[i][j]
            share = value / total
            base = BLUE if i == j else RED
            color = tuple(int(255 - share * (255 - c)) for c in base)
            x = label_w + j * cell
            body.append(f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" fill="{_rgb(color)}" stroke="#e1e4e9"/>')
            if value:
                ink = "white" if share > 0.55 else _rgb(INK)
                body.append(f'<text x="{x + cell // 2}" y="{y + 16}" text-anchor="middle" font-size="10" fill="{ink}">{value}</text>')
    return _svg(width, height, body, title)


def history_svg(points: Sequence[dict[str, Any]], title: str = "Held-out accuracy and macro-F1 across deployments") -> str:
    """`points` oldest first: dicts with label, accuracy, macro_f1 (None where unknown)."""
    width, height, left, right, top, bottom = 640, 280, 50, 20, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for p in points for v in (p.get("accuracy"), p.get("macro_f1")) if isinstance(v, (int, float))]
    low = min([0.5, *values]) if values else 0.5
    low = max(0.0, int(low * 10) / 10)

    def y_of(value: float) -> float:
        return top + plot_h * (1 - (value - low) / ((1.0 - low) or 1.0))

    def x_of(i: int) -> float:
        return left + (plot_w * i / (len(points) - 1) if len(points) > 1 else plot_w / 2)

    body = []
    for k in range(int(low * 10), 11):
        y = y_of(k / 10)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e8ebf0"/>'
                    f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#6e7682">{k / 10:.1f}</text>')
    for key, color, name in (("accuracy", BLUE, "accuracy"), ("macro_f1", GREEN, "macro-F1")):
        pts = [(x_of(i), y_of(float(p[key]))) for i, p in enumerate(points) if isinstance(p.get(key), (int, float))]
        if len(pts) > 1:
            body.append(f'<polyline fill="none" stroke="{_rgb(color)}" stroke-width="2" points="'
                        + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        body += [f'<circle class="{key}" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{_rgb(color)}"/>' for x, y in pts]
    for i, p in enumerate(points):
        body.append(f'<text x="{x_of(i):.1f}" y="{height - bottom + 18}" text-anchor="middle" font-size="10">{_esc(p.get("label", ""))}</text>')
    body += [f'<rect x="{left}" y="{height - 18}" width="10" height="10" fill="{_rgb(BLUE)}"/><text x="{left + 14}" y="{height - 9}">accuracy</text>',
             f'<rect x="{left + 100}" y="{height - 18}" width="10" height="10" fill="{_rgb(GREEN)}"/><text x="{left + 114}" y="{height - 9}">macro-F1</text>']
    if not points:
        body.append(f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle">—</text>')
    return _svg(width, height, body, title)
