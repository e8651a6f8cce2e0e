"""Rate-limit counters: one row per (limited thing, fixed time window), shared by every process."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class RateCounter(Base):
    __tablename__ = "rate_counters"

    # "<limit name>:<sha256 of the subject>" — no user id or chat id in clear (storage/ratelimits.py)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_no: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds // window length
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)  # epoch seconds when the window ends
