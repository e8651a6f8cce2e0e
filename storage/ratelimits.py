"""Rate limits whose counters live in the database, so they hold across several gateways and action servers.

A limit is "N per S seconds" over fixed windows (epoch seconds // S). Each hit is one atomic
UPSERT (`INSERT ... ON CONFLICT (key, window_no) DO UPDATE SET count = count + 1 RETURNING count`,
the same statement on SQLite >= 3.35 and PostgreSQL): two processes counting at once both see
their own, distinct count, never the same one. The subject (a person, a group chat, an agency) is
stored only as a SHA-256 digest, and counters of ended windows are deleted whenever a new window starts.

The configuration is one setting, `RATE_LIMITS` (common.settings): "off" turns every limit off;
otherwise comma-separated `name=N/SECONDS` (or `name=off`) overriding DEFAULTS.
What happens when a limit is reached (the polite Thai answer) is decided where the limited thing
happens: the gateway (messages), the request and handoff actions, the handoff relay.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.models.ratelimits import RateCounter

# name -> "N/SECONDS". Messages: what one person (or one group chat together) may send the bot;
# requests: service requests filed; handoffs: conversations handed to officials; relays: messages
# relayed to an agency's group during a handoff (urgent: they bypass quiet hours), per person and
# per agency.
DEFAULTS: dict[str, str] = {
    "messages": "30/60",
    "group_messages": "120/60",
    "requests": "5/3600",
    "group_requests": "20/3600",
    "handoffs": "3/3600",
    "relays": "20/600",
    "agency_relays": "60/600",
}
_SPEC = re.compile(r"^\s*(\d{1,9})\s*/\s*(\d{1,9})\s*$")


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    seconds: int

    def describe(self) -> str:
        return f"{self.name}={self.count}/{self.seconds}s"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int  # this hit's number within the window
    first_refusal: bool  # the first hit over the limit in this window: say so once, then stay quiet


ALLOWED = Verdict(True, 0, False)


class RateLimitConfigError(ValueError):
    pass


def parse_limits(spec: str | None) -> dict[str, Limit]:
    """The limits in force: DEFAULTS overridden by `spec` ("off", or "messages=60/60,relays=off")."""
    spec = (spec or "").strip()
    if spec.lower() in ("off", "none", "0", "false"):
        return {}
    wanted = dict(DEFAULTS)
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in DEFAULTS:
            raise RateLimitConfigError(f"RATE_LIMITS: unknown entry {part!r} (names: {', '.join(DEFAULTS)})")
        wanted[name] = value.strip()
    limits: dict[str, Limit] = {}
    for name, value in wanted.items():
        if value.lower() in ("off", "0"):
            continue
        match = _SPEC.match(value)
        if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise RateLimitConfigError(f"RATE_LIMITS: {name}={value!r} is not N/SECONDS")
        limits[name] = Limit(name, int(match.group(1)), int(match.group(2)))
    return limits


def describe(limits: dict[str, Limit]) -> str:
    """One line for logs and benchmark output."""
    return ", ".join(limit.describe() for limit in limits.values()) or "off"


def _key(limit: Limit, subject: str) -> str:
    return f"{limit.name}:{hashlib.sha256(subject.encode()).hexdigest()[:40]}"


def hit(session: Session, limit: Limit | None, subject: str, now: datetime) -> Verdict:
    """Count one `subject` event against `limit` (None: no limit); the caller owns the transaction."""
    if limit is None or not subject:
        return ALLOWED
    key = _key(limit, subject)
    window = int(now.timestamp()) // limit.seconds
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(RateCounter).values(key=key, window_no=window, count=1, expires_at=(window + 1) * limit.seconds)
    statement = statement.on_conflict_do_update(index_elements=["key", "window_no"], set_={"count": RateCounter.count + 1})
    count = int(session.execute(statement.returning(RateCounter.count)).scalar_one())
    if count == 1:  # a new window started: windows that have ended (anyone's) are history
        session.execute(delete(RateCounter).where(RateCounter.expires_at < int(now.timestamp())))
    return Verdict(count <= limit.count, count, count == limit.count + 1)


def hit_all(session: Session, checks: list[tuple[Limit | None, str]], now: datetime) -> Verdict:
    """Count against several limits (a person's and their group's); refused when any is over.

    Every limit counts the hit, so a person's flood also fills their group's window. The verdict is
    the first refusal, if any; `first_refusal` only when no limit had refused before this hit.
    """
    verdicts = [hit(session, limit, subject, now) for limit, subject in checks]
    refused = [v for v in verdicts if not v.allowed]
    if not refused:
        return ALLOWED if not verdicts else Verdict(True, max(v.count for v in verdicts), False)
    return Verdict(False, refused[0].count, all(v.first_refusal for v in refused))


_ONCE_TTL = 86_400  # seconds a "counted already" marker is kept
_VERDICT_CODES = {0: ALLOWED, 1: Verdict(False, 0, True), 2: Verdict(False, 0, False)}


def hit_once(session: Session, token: str, checks: list[tuple[Limit | None, str]], now: datetime) -> Verdict:
    """`hit_all` once per `token` (e.g. an inbound event's id): asked again, by a retry or by another
    gateway handling the same event, it returns the first verdict and counts nothing.

    The marker is inserted first (ON CONFLICT DO NOTHING): a second, concurrent caller waits on the
    first one's row (PostgreSQL) or on its write lock (SQLite) and then reads the first verdict.
    """
    if not any(limit for limit, _ in checks):
        return ALLOWED
    key = f"once:{hashlib.sha256(token.encode()).hexdigest()[:40]}"
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    marker = insert(RateCounter).values(key=key, window_no=0, count=-1, expires_at=int(now.timestamp()) + _ONCE_TTL)
    if session.execute(marker.on_conflict_do_nothing(index_elements=["key", "window_no"]).returning(RateCounter.count)).first() is None:
        code = session.scalar(select(RateCounter.count).where(RateCounter.key == key, RateCounter.window_no == 0))
        return _VERDICT_CODES.get(code if code is not None else 0, ALLOWED)
    verdict = hit_all(session, checks, now)
    code = 0 if verdict.allowed else (1 if verdict.first_refusal else 2)
    session.execute(update(RateCounter).where(RateCounter.key == key, RateCounter.window_no == 0).values(count=code))
    return verdict
