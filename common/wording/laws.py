"""Laws: how a law is cited on a service's card."""

from __future__ import annotations

from typing import Sequence


def citation(title: str, sections: Sequence[str]) -> str:
    """"<law title> มาตรา 5, 6" (the title alone when no section is named)."""
    return title + (f" มาตรา {', '.join(sections)}" if sections else "")
