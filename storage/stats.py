"""Public statistics per agency and service, from the stored requests (docs/open-data.md).

One function, `published()`, builds every public figure: the `/stats` page, the open-data
files, `bot stats` and the bot's chat answers all read its result, so one suppression rule
holds everywhere.

The rule (k = 5). The unit of publication is a cell: the requests *received in one week*
(Monday to Sunday, Bangkok time) for one agency and one service.

1. A cell with at least 5 requests is published under its own agency and service.
2. The smaller cells of an agency in that week are merged into the agency's
   "บริการอื่น ๆ" (other services) cell, published when it reaches 5.
3. What is still left of the week is merged into one "หน่วยงานอื่น ๆ" cell, published when
   it reaches 5; otherwise those requests are not published at all.

Every total shown anywhere (per service over many weeks, per agency, per week, overall) is
a sum of published weekly cells, never a figure taken from all requests: subtracting one
output from another therefore never uncovers a suppressed cell. Windows start on a Monday
(a `since` date is moved back to its week's Monday), so two windows differ by whole
published weeks. Within a published cell, an average rating over fewer than 5 ratings and
a median over fewer than 5 durations are withheld (null).

Demo requests (`demo_requests`, `bot demo seed`) are never counted with real ones: a
caller asks for one data set or the other.

Definitions: a request is counted for the agency that holds it now (the one that closes
it, when forwarded) and as "forwarded" for each agency that passed it on. First official
response: the first status change or reply by an official. Resolved: completed;
rejected and cancelled are counted separately. Reopened: a citizen said a completed
request was not actually fixed (`storage.requests.reopen_request`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from common.thai_datetime import TZ
from storage.models.base import utcnow
from storage.models.opengov import DemoRequest
from storage.models.services import (
    CANCELLED,
    COMPLETED,
    OPEN_STATUSES,
    REJECTED,
    RequestHistory,
    ServiceRating,
    ServiceRequest,
)

K = 5
OTHER_SERVICE = "บริการอื่น ๆ"
OTHER_AGENCY = "หน่วยงานอื่น ๆ"
LICENCE = "Creative Commons Attribution 4.0 International (CC BY 4.0) https://creativecommons.org/licenses/by/4.0/"
REAL = "real"
DEMO = "demo"


@dataclass
class RequestFacts:
    """What the statistics need of one request (no personal data)."""

    id: int
    agency: str
    service: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    first_response_at: datetime | None = None
    reopened: int = 0
    rating: int | None = None
    forwarded_from: list[str] = field(default_factory=list)

    @property
    def week(self) -> date:
        return week_start(self.created_at)


def week_start(moment: datetime) -> date:
    """The Monday (Bangkok time) of the week `moment` falls in."""
    local = moment.astimezone(TZ).date()
    return local - timedelta(days=local.weekday())


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


@dataclass
class Figures:
    received: int = 0
    open: int = 0
    resolved: int = 0
    rejected: int = 0
    cancelled: int = 0
    resolved_pct: float | None = None
    median_first_response_hours: float | None = None
    median_close_hours: float | None = None
    reopened: int = 0
    ratings: int = 0
    rating_avg: float | None = None
    oldest_open_days: int | None = None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def figures(requests: list[RequestFacts], now: datetime) -> Figures:
    """The figures of one published group of requests (suppressing small medians and averages)."""
    out = Figures(received=len(requests))
    if not requests:
        return out
    opened = [r for r in requests if r.status in OPEN_STATUSES]
    out.open = len(opened)
    out.resolved = sum(r.status == COMPLETED for r in requests)
    out.rejected = sum(r.status == REJECTED for r in requests)
    out.cancelled = sum(r.status == CANCELLED for r in requests)
    out.resolved_pct = round(100 * out.resolved / out.received, 1)
    firsts = [_hours(r.first_response_at - r.created_at) for r in requests if r.first_response_at is not None]
    if len(firsts) >= K:
        out.median_first_response_hours = round(statistics.median(firsts), 1)
    closes = [_hours(r.closed_at - r.created_at) for r in requests if r.status == COMPLETED and r.closed_at is not None]
    if len(closes) >= K:
        out.median_close_hours = round(statistics.median(closes), 1)
    out.reopened = sum(r.reopened > 0 for r in requests)
    scores = [r.rating for r in requests if r.rating is not None]
    out.ratings = len(scores)
    if len(scores) >= K:
        out.rating_avg = round(sum(scores) / len(scores), 2)
    if opened:
        out.oldest_open_days = max(0, (now - min(r.created_at for r in opened)).days)
    return out


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), TZ)


def has_requests(session: Session, dataset: str) -> bool:
    flagged = exists().where(DemoRequest.request_id == ServiceRequest.id)
    stmt = select(ServiceRequest.id).where(flagged if dataset == DEMO else ~flagged).limit(1)
    return session.scalar(stmt) is not None


def default_dataset(session: Session) -> str:
    """Real figures as soon as there is one real request; the demo set only on a demo system."""
    if has_requests(session, REAL) or not has_requests(session, DEMO):
        return REAL
    return DEMO


def load_facts(session: Session, *, dataset: str = REAL, since: date | None = None, until: datetime | None = None) -> list[RequestFacts]:
    """Requests received from the Monday of `since` up to `until`, of one data set."""
    flagged = exists().where(DemoRequest.request_id == ServiceRequest.id)
    stmt = select(ServiceRequest).where(flagged if dataset == DEMO else ~flagged)
    if since is not None:
        stmt = stmt.where(ServiceRequest.created_at >= _start_of(monday(since)))
    if until is not None:
        stmt = stmt.where(ServiceRequest.created_at < until)
    facts: dict[int, RequestFacts] = {}
    for r in session.scalars(stmt.order_by(ServiceRequest.id)):
        facts[r.id] = RequestFacts(r.id, r.agency, r.service, r.status, r.created_at, r.closed_at)
    if not facts:
        return []
    ids = list(facts)
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        previous: dict[int, str] = {}
        rows = session.execute(
            select(RequestHistory.request_id, RequestHistory.action, RequestHistory.actor, RequestHistory.agency, RequestHistory.at)
            .where(RequestHistory.request_id.in_(part)).order_by(RequestHistory.request_id, RequestHistory.id)
        )
        for request_id, action, actor, agency, at in rows:
            fact = facts[request_id]
            if actor == "official" and action in ("status", "reply") and fact.first_response_at is None:
                fact.first_response_at = at
            elif action == "forwarded" and request_id in previous:
                fact.forwarded_from.append(previous[request_id])
            elif action == "reopened":
                fact.reopened += 1
            previous[request_id] = agency
        for request_id, score in session.execute(select(ServiceRating.request_id, ServiceRating.score).where(ServiceRating.request_id.in_(part))):
            facts[request_id].rating = score
    return list(facts.values())


def label_cells(requests: list[RequestFacts]) -> dict[int, tuple[str, str]]:
    """The published (agency, service) label of each request; unpublished requests are absent."""
    by_week: dict[date, dict[tuple[str, str], list[RequestFacts]]] = defaultdict(lambda: defaultdict(list))
    for r in requests:
        by_week[r.week][(r.agency, r.service)].append(r)
    labels: dict[int, tuple[str, str]] = {}
    for cells in by_week.values():
        small_by_agency: dict[str, list[RequestFacts]] = defaultdict(list)
        for (agency, service), members in cells.items():
            if len(members) >= K:
                labels.update((r.id, (agency, service)) for r in members)
            else:
                small_by_agency[agency].extend(members)
        leftover: list[RequestFacts] = []
        for agency, members in small_by_agency.items():
            if len(members) >= K:
                labels.update((r.id, (agency, OTHER_SERVICE)) for r in members)
            else:
                leftover.extend(members)
        if len(leftover) >= K:
            labels.update((r.id, (OTHER_AGENCY, OTHER_SERVICE)) for r in leftover)
    return labels


@dataclass
class ServiceRow:
    service: str
    figures: Figures

    def as_json(self) -> dict[str, Any]:
        return {"service": self.service, **self.figures.as_json()}


@dataclass
class AgencyRow:
    agency: str
    figures: Figures
    forwarded: int | None
    services: list[ServiceRow]

    def as_json(self) -> dict[str, Any]:
        return {"agency": self.agency, **self.figures.as_json(), "forwarded": self.forwarded,
                "services": [s.as_json() for s in self.services]}


@dataclass
class WeekRow:
    week_start: date
    received: int
    resolved: int
    open: int

    def as_json(self) -> dict[str, Any]:
        return {"week_start": self.week_start.isoformat(), "received": self.received, "resolved": self.resolved, "open": self.open}


@dataclass
class CellRow:
    """One published weekly cell (the open-data row)."""

    week_start: date
    agency: str
    service: str
    figures: Figures

    def as_json(self) -> dict[str, Any]:
        week_end = self.week_start + timedelta(days=6)
        return {"week_start": self.week_start.isoformat(), "week_end": week_end.isoformat(), "agency": self.agency,
                "service": self.service, **self.figures.as_json()}


@dataclass
class Published:
    dataset: str
    since: date | None
    until: datetime
    totals: Figures
    agencies: list[AgencyRow]
    weeks: list[WeekRow]
    cells: list[CellRow]
    unpublished: bool  # some requests were withheld (never how many)
    services: dict[str, Figures] = field(default_factory=dict)  # one service over every agency that publishes it

    def agency(self, name: str) -> AgencyRow | None:
        return next((a for a in self.agencies if a.agency == name), None)

    def weeks_of(self, agency: str | None, service: str | None = None) -> list[WeekRow]:
        """The weekly trend of one agency and/or service (sums of published cells), or of everything."""
        if agency is None and service is None:
            return self.weeks
        rows: dict[date, WeekRow] = {}
        for c in self.cells:
            if (agency is None or c.agency == agency) and (service is None or c.service == service):
                row = rows.setdefault(c.week_start, WeekRow(c.week_start, 0, 0, 0))
                row.received += c.figures.received
                row.resolved += c.figures.resolved
                row.open += c.figures.open
        return [rows[w] for w in sorted(rows)]

    def as_json(self, agency: str | None = None) -> dict[str, Any]:
        agencies = [a for a in self.agencies if agency is None or a.agency == agency]
        return {
            "dataset": self.dataset, "k": K, "licence": LICENCE,
            "since": self.since.isoformat() if self.since else None, "until": self.until.isoformat(),
            "totals": self.totals.as_json() if agency is None else (agencies[0].figures.as_json() if agencies else None),
            "agencies": [a.as_json() for a in agencies],
            "weeks": [w.as_json() for w in self.weeks_of(agency)],
            "some_requests_withheld": self.unpublished,
        }


def published(session: Session, *, dataset: str | None = None, since: date | None = None, now: datetime | None = None) -> Published:
    """Every public figure, suppressed by the one rule above."""
    now = now or utcnow()
    dataset = dataset or default_dataset(session)
    since = monday(since) if since is not None else None
    facts = load_facts(session, dataset=dataset, since=since, until=now)
    return publish(facts, dataset=dataset, since=since, now=now)


def publish(facts: list[RequestFacts], *, dataset: str, since: date | None, now: datetime) -> Published:
    labels = label_cells(facts)
    kept = [r for r in facts if r.id in labels]
    by_label: dict[tuple[str, str], list[RequestFacts]] = defaultdict(list)
    by_cell: dict[tuple[date, str, str], list[RequestFacts]] = defaultdict(list)
    by_week: dict[date, list[RequestFacts]] = defaultdict(list)
    for r in kept:
        agency, service = labels[r.id]
        by_label[(agency, service)].append(r)
        by_cell[(r.week, agency, service)].append(r)
        by_week[r.week].append(r)
    agencies: dict[str, list[ServiceRow]] = defaultdict(list)
    for (agency, service), members in by_label.items():
        agencies[agency].append(ServiceRow(service, figures(members, now)))
    rows = []
    for agency, services in agencies.items():
        members = [r for (a, _s), group in by_label.items() if a == agency for r in group]
        forwarded = sum(agency in r.forwarded_from for r in kept)
        services.sort(key=lambda s: (s.service == OTHER_SERVICE, -s.figures.received, s.service))
        rows.append(AgencyRow(agency, figures(members, now), forwarded if forwarded >= K else None, services))
    rows.sort(key=lambda a: (a.agency == OTHER_AGENCY, -a.figures.received, a.agency))
    weeks = [WeekRow(w, len(m), sum(r.status == COMPLETED for r in m), sum(r.status in OPEN_STATUSES for r in m)) for w, m in sorted(by_week.items())]
    cells = [CellRow(w, a, s, figures(m, now)) for (w, a, s), m in sorted(by_cell.items())]
    by_service: dict[str, list[RequestFacts]] = defaultdict(list)
    for (_agency, service), members in by_label.items():
        if service != OTHER_SERVICE:
            by_service[service].extend(members)
    services = {service: figures(members, now) for service, members in sorted(by_service.items())}
    return Published(dataset, since, now, figures(kept, now), rows, weeks, cells, unpublished=len(kept) < len(facts), services=services)


def fastest_for_service(pub: Published, service: str) -> list[tuple[str, Figures]]:
    """Agencies with a published figure for `service`, fastest median time to close first."""
    found = [(a.agency, s.figures) for a in pub.agencies for s in a.services if s.service == service]
    timed = sorted((x for x in found if x[1].median_close_hours is not None), key=lambda x: x[1].median_close_hours or 0)
    return timed + [x for x in found if x[1].median_close_hours is None]


CSV_FIELDS = ["week_start", "week_end", "agency", "service", "received", "open", "resolved", "rejected", "cancelled",
              "resolved_pct", "median_first_response_hours", "median_close_hours", "reopened", "ratings", "rating_avg",
              "oldest_open_days"]
