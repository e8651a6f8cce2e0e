"""`bot line rich-menu`: upload the rich menu (connectors/line_rich_menu.json) and make it the default."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import click

MENU = Path(__file__).resolve().parents[1].parent / "connectors" / "line_rich_menu.json"
COLOURS = [(6, 199, 85), (0, 150, 136), (33, 150, 243), (255, 152, 0)]


def tile_png(width: int, height: int, tiles: int) -> bytes:
    """A plain PNG of coloured tiles, one per menu area (replace with a designed image via --image)."""
    rows = []
    tile_width = width // tiles
    for _ in range(height):
        row = bytearray([0])
        for x in range(width):
            row.extend(COLOURS[min(x // tile_width, tiles - 1) % len(COLOURS)])
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@click.group(name="line")
def cli() -> None:
    """LINE Official Account set-up."""


@cli.command(name="rich-menu")
@click.option("--image", type=click.Path(exists=True, dir_okay=False), help="PNG/JPEG 2500x843 (default: generated tiles).")
def rich_menu(image: str | None) -> None:
    """Create the rich menu, upload its image and set it as the default for all users."""
    import httpx

    from bot.settings import get_settings

    settings = get_settings()
    if not settings.line_channel_access_token:
        raise click.ClickException("LINE_CHANNEL_ACCESS_TOKEN is not set")
    definition = json.loads(MENU.read_text(encoding="utf-8"))
    headers = {"Authorization": f"Bearer {settings.line_channel_access_token}"}
    body = Path(image).read_bytes() if image else tile_png(definition["size"]["width"], definition["size"]["height"], len(definition["areas"]))
    content_type = "image/jpeg" if image and image.lower().endswith((".jpg", ".jpeg")) else "image/png"
    with httpx.Client(timeout=30) as client:
        created = client.post(f"{settings.line_api_base_url}/v2/bot/richmenu", json=definition, headers=headers)
        created.raise_for_status()
        menu_id = created.json()["richMenuId"]
        client.post(f"{settings.line_data_api_base_url}/v2/bot/richmenu/{menu_id}/content", content=body,
                    headers={**headers, "Content-Type": content_type}).raise_for_status()
        client.post(f"{settings.line_api_base_url}/v2/bot/user/all/richmenu/{menu_id}", headers=headers).raise_for_status()
    click.echo(f"rich menu {menu_id} uploaded and set as default")
