"""Obstacle reports ("this law or step gets in the way"): how a count of reports is shown to the public."""

from __future__ import annotations


def public_count(n: int, k: int) -> str:
    """A count of reports as shown to the public: counts under `k` are not told exactly (k-anonymity)."""
    return "ยังไม่มี" if n == 0 else (f"น้อยกว่า {k}" if n < k else f"{n:,}")
