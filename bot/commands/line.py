"""`bot line rich-menu`: create the rich menu (connectors/line_rich_menu.json), upload its image, make it the default.

The image: `--image PATH` if given; otherwise drawn with Pillow (one tile and
pictogram per menu area, plus the Thai labels when a Thai font is found or given
with `--font`); without Pillow, the shipped `connectors/static/rich_menu.png`.
Menu calls go through line-bot-sdk's MessagingApi; the image upload uses plain
HTTP because the SDK pins its blob calls to https://api-data.line.me, which
LINE_DATA_API_BASE_URL could not redirect (tests must stay on loopback).
"""

from __future__ import annotations

# The project's imports sit inside the commands: `bot --help` imports every command module (start-up measured in bot/commands/__init__.py).

import io
import json
import math
from pathlib import Path
from typing import Any

import click

ROOT = Path(__file__).resolve().parents[2]
MENU = ROOT / "connectors" / "line_rich_menu.json"
SHIPPED_IMAGE = ROOT / "connectors" / "static" / "rich_menu.png"
COLOURS = [(6, 199, 85), (0, 150, 136), (33, 150, 243), (255, 152, 0)]
THAI_FONTS = [
    "/usr/share/fonts/truetype/tlwg/Garuda-Bold.ttf", "/usr/share/fonts/truetype/tlwg/Loma-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansThai-Bold.ttf", "/usr/share/fonts/opentype/noto/NotoSansThai-Bold.ttf",
    "/usr/share/fonts/truetype/thai/Sarabun-Bold.ttf", "/usr/share/fonts/truetype/tlwg/Garuda.ttf",
]
MAX_IMAGE_BYTES = 1_000_000  # LINE's limit for rich menu images


def _icon(draw: Any, kind: int, cx: int, cy: int, r: int) -> None:
    """Simple white pictograms: search, document, speech bubble, clock."""
    white, width = (255, 255, 255), max(8, r // 7)
    if kind == 0:  # magnifier
        draw.ellipse([cx - r * 0.75, cy - r * 0.75, cx + r * 0.35, cy + r * 0.35], outline=white, width=width)
        draw.line([cx + r * 0.25, cy + r * 0.25, cx + r * 0.9, cy + r * 0.9], fill=white, width=width * 2)
    elif kind == 1:  # document with lines
        draw.rounded_rectangle([cx - r * 0.6, cy - r * 0.85, cx + r * 0.6, cy + r * 0.85], radius=r // 8, outline=white, width=width)
        for i in range(4):
            y = cy - r * 0.45 + i * r * 0.3
            draw.line([cx - r * 0.35, y, cx + r * 0.35, y], fill=white, width=width // 2 + 2)
    elif kind == 2:  # speech bubble with "!"
        draw.rounded_rectangle([cx - r * 0.9, cy - r * 0.7, cx + r * 0.9, cy + r * 0.45], radius=r // 4, outline=white, width=width)
        draw.polygon([(cx - r * 0.3, cy + r * 0.42), (cx - r * 0.55, cy + r * 0.9), (cx + r * 0.05, cy + r * 0.42)], fill=white)
        draw.line([cx, cy - r * 0.5, cx, cy - r * 0.12], fill=white, width=width)
        draw.ellipse([cx - width * 0.6, cy - r * 0.02, cx + width * 0.6, cy - r * 0.02 + width * 1.2], fill=white)
    else:  # clock
        draw.ellipse([cx - r * 0.85, cy - r * 0.85, cx + r * 0.85, cy + r * 0.85], outline=white, width=width)
        draw.line([cx, cy, cx, cy - r * 0.55], fill=white, width=width)
        draw.line([cx, cy, cx + r * 0.45 * math.cos(math.radians(20)), cy + r * 0.45 * math.sin(math.radians(20))], fill=white, width=width)


def find_thai_font(explicit: str | None = None) -> str | None:
    for path in ([explicit] if explicit else []) + THAI_FONTS:
        if path and Path(path).is_file():
            return path
    return None


def render_image(definition: dict[str, Any], font_path: str | None = None) -> bytes:
    """PNG bytes for the menu: one coloured tile per area, a pictogram, the label if a Thai font is available."""
    from PIL import Image, ImageDraw, ImageFont

    size = definition["size"]
    image = Image.new("RGB", (size["width"], size["height"]), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(font_path, 90) if font_path else None
    for i, area in enumerate(definition["areas"]):
        b = area["bounds"]
        draw.rectangle([b["x"], b["y"], b["x"] + b["width"] - 1, b["y"] + b["height"] - 1], fill=COLOURS[i % len(COLOURS)])
        if i:
            draw.line([b["x"], b["y"], b["x"], b["y"] + b["height"]], fill=(255, 255, 255), width=6)
        cx, cy = b["x"] + b["width"] // 2, b["y"] + b["height"] // (3 if font else 2)
        _icon(draw, i % 4, cx, cy, min(b["width"], b["height"]) // 4)
        if font is not None:
            label = area["action"].get("label", "")
            draw.text((cx, b["y"] + b["height"] * 0.75), label, font=font, fill=(255, 255, 255), anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def menu_image(definition: dict[str, Any], font: str | None = None) -> tuple[bytes, str]:
    """(PNG bytes, how it was made)."""
    try:
        import PIL  # noqa: F401
    except ImportError:
        return SHIPPED_IMAGE.read_bytes(), "shipped image (Pillow is not installed)"
    font_path = find_thai_font(font)
    how = "drawn with Pillow, labels in " + Path(font_path).name if font_path else "drawn with Pillow (no Thai font found: pictograms only)"
    return render_image(definition, font_path), how


@click.group(name="line")
def cli() -> None:
    """LINE Official Account set-up."""


@cli.command(name="rich-menu")
@click.option("--image", type=click.Path(exists=True, dir_okay=False), help="Your own PNG/JPEG, 2500x843, under 1 MB.")
@click.option("--font", type=click.Path(exists=True, dir_okay=False), help="A Thai TrueType font for the labels.")
@click.option("--save", type=click.Path(dir_okay=False), help="Only write the image here (no upload), to look at it first.")
def rich_menu(image: str | None, font: str | None, save: str | None) -> None:
    """Create the rich menu, upload its image and set it as the default for all users."""
    definition = json.loads(MENU.read_text(encoding="utf-8"))
    if image:
        body, how = Path(image).read_bytes(), f"image {image}"
    else:
        body, how = menu_image(definition, font)
    if len(body) > MAX_IMAGE_BYTES:
        raise click.ClickException(f"the image is {len(body):,} bytes; LINE accepts at most 1 MB")
    if save:
        Path(save).write_bytes(body)
        click.echo(f"image written to {save} ({how})")
        return

    import httpx
    from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, RichMenuRequest

    from common.settings import get_settings

    settings = get_settings()
    if not settings.line_channel_access_token:
        raise click.ClickException("LINE_CHANNEL_ACCESS_TOKEN is not set")
    content_type = "image/jpeg" if image and image.lower().endswith((".jpg", ".jpeg")) else "image/png"
    configuration = Configuration(access_token=settings.line_channel_access_token, host=settings.line_api_base_url)
    with ApiClient(configuration) as client:
        api = MessagingApi(client)
        menu_id = api.create_rich_menu(RichMenuRequest.from_dict(definition)).rich_menu_id
        upload = httpx.post(f"{settings.line_data_api_base_url}/v2/bot/richmenu/{menu_id}/content", content=body, timeout=30,
                            headers={"Authorization": f"Bearer {settings.line_channel_access_token}", "Content-Type": content_type})
        if upload.status_code != 200:
            raise click.ClickException(f"image upload refused by LINE (HTTP {upload.status_code}); rich menu {menu_id} left unused")
        api.set_default_rich_menu(menu_id)
    click.echo(f"rich menu {menu_id} uploaded ({how}) and set as the default")
