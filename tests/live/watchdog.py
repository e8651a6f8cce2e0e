"""Stop a live stack's process groups when the process that started them dies.

`python -m tests.live.watchdog PARENT_PID PGID_FILE [DIR]` polls the parent once a second.
When the parent is gone (pytest killed with SIGKILL, a crashed benchmark run) it sends
SIGTERM to every process group listed in PGID_FILE (one id per line), waits up to 15 s,
then SIGKILLs what is left, removes DIR (the stack's temporary directory) when given, and
exits. It also exits, doing nothing, once PGID_FILE is
removed (the stack was stopped normally). Standard library only: it must start fast and
never fail on an import.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _groups(path: Path) -> list[int]:
    try:
        return [int(line) for line in path.read_text().split() if line.strip().isdigit()]
    except OSError:
        return []


def _signal_groups(groups: list[int], sig: int) -> list[int]:
    alive = []
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
            alive.append(pgid)
        except (ProcessLookupError, PermissionError):
            pass
    return alive


def main(parent: int, pgid_file: Path, cleanup: Path | None = None, poll: float = 1.0, grace: float = 15.0) -> int:
    while True:
        if not pgid_file.exists():
            return 0
        if not _alive(parent) or os.getppid() != parent:
            break
        time.sleep(poll)
    groups = _signal_groups(_groups(pgid_file), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while groups and time.monotonic() < deadline:
        time.sleep(0.2)
        groups = _signal_groups(groups, 0)
    _signal_groups(groups, signal.SIGKILL)
    try:
        pgid_file.unlink()
    except OSError:
        pass
    if cleanup is not None:
        shutil.rmtree(cleanup, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]) if len(sys.argv) > 3 else None))
