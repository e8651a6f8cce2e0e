"""Who changed `nlu_data/`: every change is recorded with its author and diff, and exported as a patch.

`tracked(session, data_dir, author, summary)` snapshots the data files around a change
and stores one `NluDataChange` per file that changed (a unified diff against
`a/nlu_data/<file>`). `patch_text(changes)` renders them as a `git format-patch`
mailbox: one commit per change, with the admin as its author, so an engineer can
review it and `git am` it onto the repository (each diff applies to the file as it was
before that change; the first one to the data as deployed on the host).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from storage.admin_audit import record_change

PREFIX = "nlu_data"
AUTHOR_DOMAIN = "admins.invalid"  # a patch needs an e-mail form; admins are named, not mailed


def snapshot(data_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(Path(data_dir).glob("*.yml")) if p.is_file()}


def file_diff(name: str, before: str | None, after: str | None) -> str:
    """A git-style unified diff of one data file (new and deleted files included)."""
    old = (before or "").splitlines(keepends=True)
    new = (after or "").splitlines(keepends=True)
    path = f"{PREFIX}/{name}"
    lines = list(difflib.unified_diff(old, new, "/dev/null" if before is None else f"a/{path}",
                                      "/dev/null" if after is None else f"b/{path}", n=3))
    if not lines:
        return ""
    body = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    head = f"diff --git a/{path} b/{path}\n"
    if before is None:
        head += "new file mode 100644\n"
    elif after is None:
        head += "deleted file mode 100644\n"
    return head + body


@contextmanager
def tracked(session: Session, data_dir: Path, author: str, summary: str) -> Iterator[None]:
    """Record what the block changes in the data folder, file by file, in `session` (nothing if it raises)."""
    before = snapshot(data_dir)
    yield
    after = snapshot(data_dir)
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            record_change(session, author=author, summary=summary, file=name, diff=file_diff(name, before.get(name), after.get(name)))


def patch_text(changes: Sequence[Any]) -> str:
    """`git format-patch` mailbox of the changes (oldest first)."""
    out = []
    for n, change in enumerate(changes, 1):
        author = change.author
        subject = f"nlu_data: {change.summary}".replace("\n", " ")
        out.append(
            f"From {'0' * 40} Mon Sep 17 00:00:00 2001\n"
            f"From: {author} <{author}@{AUTHOR_DOMAIN}>\n"
            f"Date: {format_datetime(change.at)}\n"
            f"Subject: [PATCH {n}/{len(changes)}] {subject}\n"
            "\n"
            f"Annotated on the /admin page by {author} (change #{change.id}).\n"
            "---\n"
            f"{change.diff}"
            "--\n"
            "bot /admin\n\n"
        )
    return "".join(out)
