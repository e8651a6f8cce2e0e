"""Citizens' and officials' reports that a law or a step obstructs a service (Regulatory Guillotine input).

A report names a law (from a law card) or a service step (from a service card, or a law
with the service it blocks), and says why. The reason is stored with personal data masked
(national ID, phone, e-mail, long numbers: storage.nlu_capture.mask_personal_data) and the
author only as a pseudonym (storage/pseudonyms.py), like NLU captures; `erase_reports`
removes a person's reports with the rest of their data (storage/privacy.py).
`ranking()` orders laws and services by reports for the body that reviews laws
(`bot laws obstacles`, the export, the admin page, the public law pages' counts).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.models.base import utcnow
from storage.models.laws import Law
from storage.models.opengov import ObstacleReport
from storage.nlu_capture import mask_personal_data
from storage.pseudonyms import pseudonym, pseudonym_for, pseudonym_secret
from storage.laws.search import search_laws
from storage.service_laws import mapping, services_for_law
from storage.services import find_services

LAW, STEP = "law", "step"
MAX_REASON = 500
SAMPLES = 3


def reporter_pseudonym(person_key: str, var_dir: Path | None = None) -> str:
    """The pseudonym a person's reports carry (the same key as NLU captures; created if missing)."""
    secret = pseudonym_secret(var_dir)
    if secret is None:  # pragma: no cover - create=True always returns a key or raises
        raise RuntimeError("no pseudonym key")
    return pseudonym(person_key, secret)


def report_obstacle(
    session: Session, *, reason: str, reporter: str, kind: str = LAW, law: Law | None = None, service: str = "",
    channel: str = "", role: str = "citizen", demo: bool = False, now: datetime | None = None,
) -> ObstacleReport:
    """Store one report; `reporter` is already a pseudonym (or `official:<id>`)."""
    if kind not in (LAW, STEP):
        raise ValueError("kind must be law or step")
    if law is None and not service:
        raise ValueError("a report names a law or a service")
    if law is None and kind == LAW and service:
        kind = STEP
    masked = mask_personal_data(" ".join((reason or "").split())[:MAX_REASON]).text
    row = ObstacleReport(
        law_id=law.id if law else None, law_title=law.title if law else "", service=service or "", kind=kind, reason=masked,
        reporter=reporter, reporter_role=role, channel=channel, demo=demo, created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def add_reason(report: ObstacleReport, reason: str) -> None:
    """The reason typed after a button press completes the report it belongs to (masked)."""
    report.reason = mask_personal_data(" ".join((reason or "").split())[:MAX_REASON]).text


def resolve_target(session: Session, name: str) -> tuple[Law | None, str]:
    """The law or the service a person named: a catalog service by its name or alias first, else the best law hit."""
    name = " ".join((name or "").split())
    if not name:
        return None, ""
    match = find_services(session, entity=name)
    if match.how in ("exact", "alias") and match.services:
        return None, match.services[0].name
    hits = search_laws(session, name, limit=1)
    if hits:
        return session.get(Law, hits[0].law_id), ""
    return None, ""


def split_command(text: str) -> tuple[str, str]:
    """`<law or service> : <reason>` or `<service> <reason>` -> (target, reason)."""
    text = " ".join((text or "").split())
    for mark in (":", "|", " เพราะ"):
        if mark in text:
            head, _, rest = text.partition(mark)
            return head.strip(), rest.strip()
    head, _, rest = text.partition(" ")
    return head, rest


def erase_reports(session: Session, person_key: str, var_dir: Path | None = None) -> int:
    """Delete every report by this person (`<channel>:<user id>`); called by storage.privacy.erase."""
    alias = pseudonym_for(person_key, var_dir)
    if alias is None:
        return 0
    return session.execute(delete(ObstacleReport).where(ObstacleReport.reporter == alias)).rowcount or 0


def count_reports(session: Session, person_key: str, var_dir: Path | None = None) -> int:
    alias = pseudonym_for(person_key, var_dir)
    if alias is None:
        return 0
    return session.scalar(select(func.count()).select_from(ObstacleReport).where(ObstacleReport.reporter == alias)) or 0


def law_report_counts(session: Session, *, demo: bool = False) -> dict[int, int]:
    rows = session.execute(select(ObstacleReport.law_id, func.count()).where(ObstacleReport.law_id.is_not(None), ObstacleReport.demo.is_(demo))
                           .group_by(ObstacleReport.law_id))
    return {law_id: n for law_id, n in rows}


@dataclass
class Ranked:
    kind: str  # law | service
    title: str
    reports: int
    law_id: int | None = None
    services: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)  # law | step -> count
    samples: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "law_id": self.law_id, "reports": self.reports,
                "services_affected": self.services, "by_kind": self.reasons, "sample_quotes": self.samples}


def ranking(session: Session, *, demo: bool | None = None, limit: int | None = None) -> list[Ranked]:
    """Laws and services by number of reports, with the services affected and masked sample quotes (newest first)."""
    stmt = select(ObstacleReport).order_by(ObstacleReport.id.desc())
    if demo is not None:
        stmt = stmt.where(ObstacleReport.demo.is_(demo))
    groups: dict[tuple[str, str], Ranked] = {}
    affected: dict[tuple[str, str], set[str]] = defaultdict(set)
    laws: dict[int, Law] = {}
    for row in session.scalars(stmt):
        if row.law_id is not None or row.law_title:
            key = (LAW, row.law_title)
            entry = groups.setdefault(key, Ranked(LAW, row.law_title, 0, law_id=row.law_id))
            if row.law_id is not None and row.law_id not in laws:
                law = session.get(Law, row.law_id)
                if law is not None:
                    laws[row.law_id] = law
                    affected[key].update(s for s, _ in services_for_law(session, law))
        else:
            key = ("service", row.service)
            entry = groups.setdefault(key, Ranked("service", row.service, 0))
        entry.reports += 1
        entry.reasons[row.kind] = entry.reasons.get(row.kind, 0) + 1
        if row.service:
            affected[key].add(row.service)
        if row.reason and len(entry.samples) < SAMPLES and row.reason not in entry.samples:
            entry.samples.append(row.reason)
    for key, entry in groups.items():
        if entry.kind == "service":
            affected[key].add(entry.title)
        entry.services = sorted(affected[key])
    ranked = sorted(groups.values(), key=lambda r: (-r.reports, r.kind, r.title))
    return ranked[:limit] if limit else ranked


def known_services() -> list[str]:
    return sorted(mapping())
