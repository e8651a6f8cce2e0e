"""The `bot` command line (app runtime).

Each feature adds its commands as a module in `bot/commands/` that exposes a click
command or group named `cli`; they are found here by name, so features never edit
this file to register themselves.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

import click

import bot.commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level (never logs message text or tokens).")
def cli(verbose: bool) -> None:
    """Thai cross-agency assistant: run, manage and inspect the system."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "telegram.ext", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(bot.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"bot.commands.{module_info.name}")
        command = getattr(module, "cli", None)
        if isinstance(command, click.Command):
            cli.add_command(command)


_register_commands()


def main() -> None:
    cli(prog_name="bot")


if __name__ == "__main__":
    main()
