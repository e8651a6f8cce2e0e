"""Names of running processes that share a database (schedulers, gateways).

A name is "host:pid-namespace:pid:tag": unique, and it tells another process on the same
machine whether the named one still runs, so that its claims can be taken over at once
instead of after their lease (bot/scheduler, storage/claims.py).
"""

from __future__ import annotations

import os
import socket
import uuid


def _pid_namespace() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def instance_name() -> str:
    """This process's name: "host:pid-namespace:pid:tag" (unique, and tells whether it runs here)."""
    return f"{socket.gethostname()[:32]}:{_pid_namespace()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def is_dead_local_owner(owner: str) -> bool:
    """Whether `owner` (see `instance_name`) was a process on this machine, in this PID
    namespace, that no longer exists. Anything else (another machine or container, a live
    pid, a name of another shape) counts as possibly alive."""
    parts = owner.rsplit(":", 3)
    if len(parts) != 4 or not parts[1].isdigit() or not parts[2].isdigit():
        return False
    host, namespace, pid = parts[0], int(parts[1]), int(parts[2])
    if host != socket.gethostname()[:32] or namespace != _pid_namespace() or namespace == 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # a live process of another user
    return False
