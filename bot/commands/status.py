"""`bot status`: what `bot run`'s supervisor reports about each part (var/supervisor.json)."""

from __future__ import annotations

import json
import os

import click

from bot.commands.run import STATUS_FILE
from common.settings import get_settings


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@click.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print the status file as JSON.")
def cli(as_json: bool) -> None:
    """Show the parts `bot run` supervises: pid, health, restarts, last exit."""
    path = get_settings().var_dir / STATUS_FILE
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(f"no supervisor status at {path}: is `bot run` running?") from None
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"unreadable supervisor status {path}: {exc}") from None
    running = bool(status.get("running")) and _alive(status.get("supervisor_pid"))
    replicas = _replicas() if running else []
    if as_json:
        click.echo(json.dumps({**status, "running": running, "rasa_replicas": replicas}, indent=2))
        return
    click.echo(f"bot run: {'running' if running else 'not running'} (updated {status.get('updated_at', '?')})")
    click.echo(f"{'part':<14}{'state':<10}{'healthy':<9}{'pid':<9}{'restarts':<10}{'last exit':<16}last restart")
    for name, part in sorted((status.get("parts") or {}).items()):
        healthy = "yes" if running and part.get("healthy") else "no"
        click.echo(
            f"{name:<14}{part.get('state', '?'):<10}{healthy:<9}{str(part.get('pid') or '-'):<9}"
            f"{part.get('restarts', 0)!s:<10}{part.get('last_exit') or '-':<16}{part.get('last_restart_at') or '-'}"
        )
    for n, replica in enumerate(replicas, 1):
        click.echo(f"rasa replica {n}: {replica['url']} {replica['state']}, model {replica.get('model_file') or '-'}"
                   f" (id {replica.get('model_id') or '-'})")


def _replicas() -> list[dict[str, object]]:
    """Each Rasa replica: the model it serves (GET /status) and its serving state (Redis, with several)."""
    from bot.nlu_admin.pipeline import rasa_urls, served

    urls = rasa_urls()
    states: dict[str, str] = {}
    settings = get_settings()
    if len(urls) > 1 and settings.redis_url:
        from connectors.rasa_client import state_key

        try:
            from bot.nlu_admin.pipeline import _redis

            red = _redis()
            values = red.mget([state_key(settings.redis_key_prefix, u) for u in urls])
            states = {u: v.decode() for u, v in zip(urls, values) if v}
            red.close()
        except Exception:  # noqa: BLE001 - shown as unknown
            states = dict.fromkeys(urls, "state unknown (Redis)")
    out = []
    for row in served(urls, timeout=2):
        state = states.get(row["url"], "serving") if row["up"] else "down"
        out.append({**row, "state": state})
    return out
