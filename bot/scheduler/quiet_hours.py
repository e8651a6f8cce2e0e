"""Quiet hours for citizens: no proactive message at night unless urgent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    tz: ZoneInfo

    @classmethod
    def parse(cls, spec: str, tz: str = "Asia/Bangkok") -> QuietHours | None:
        """'21:00-08:00' -> QuietHours; '' or 'off' -> None."""
        spec = spec.strip().lower()
        if not spec or spec in {"off", "none", "0"}:
            return None
        try:
            a, b = (part.strip() for part in spec.split("-"))
            start = time.fromisoformat(a if len(a) > 2 else f"{int(a):02d}:00")
            end = time.fromisoformat(b if len(b) > 2 else f"{int(b):02d}:00")
        except ValueError as exc:
            raise ValueError(f"QUIET_HOURS must look like 21:00-08:00, got {spec!r}") from exc
        return cls(start, end, ZoneInfo(tz))

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(self.tz).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_end(self, moment: datetime) -> datetime:
        """The first moment at or after `moment` when quiet hours are over."""
        local = moment.astimezone(self.tz)
        candidate = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if candidate <= local:
            candidate += timedelta(days=1)
        return candidate
