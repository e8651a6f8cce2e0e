"""Citizens' service requests: filing, routing, tracking, cancelling, rating, officials' handling.

Callers own the transaction. Every change is a history row, and the follow-ups it
causes are outbox rows written in the same transaction (DESIGN.md): the routed
request to the agency's groups, an escalation to the agency's coordinators when
nobody touches the request within the service's typical duration, a notice to the
citizen at each status change or official reply, and a satisfaction check some
days after completion. A citizen only ever reaches their own requests: any other
ID is "not found", exactly like an unknown one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from common.ids import format_request_id
from common.replies import cards
from common.wording import requests as wording
from common.wording.requests import rating_buttons, reopen_button
from storage.agencies import FALLBACK_DESK, Resolution, catalog_agency, resolve_agency, staffing, unstaffed_agencies
from storage.models.base import utcnow
from storage.models.services import (
    CANCELLED,
    CLOSED_STATUSES,
    COMPLETED,
    IN_PROGRESS,
    NEED_INFO,
    OPEN_STATUSES,
    RECEIVED,
    REJECTED,
    SUBMITTED,
    Agency,
    RequestHistory,
    Service,
    ServiceRating,
    ServiceRequest,
)
from storage.officials import Actor, agency_chats, coordinators
from storage.outbox import cancel_pending, enqueue

OFFICIAL_STATUSES = (RECEIVED, IN_PROGRESS, NEED_INFO, COMPLETED, REJECTED)
ESCALATION_KINDS = ("request_escalation",)
CITIZEN_KINDS = ("request_status", "official_reply", "satisfaction_check")
MAX_DETAILS = 1000


# --- the request state machine (issue #19) ----------------------------------
#
# Every status a request can have, and the statuses it may move to. Officials of the
# agency the request is with move it between the open statuses (a move to the same
# status records a new note) and close it (completed, rejected); forwarding puts it
# back to `submitted` at the new agency; the citizen may cancel while it is open.
# Closed requests do not move. All changes go through `_move` (and a flush-time
# check refuses any other write: see `_guard_requests`).
#
# Planned, owned by other issues: the citizen's cancel confirmation (no new status:
# it asks before `cancel_request`), and `reopened` (completed -> reopened within 14 days
# of `closed_at`; reopened then behaves like received). Add REOPENED to
# storage.models.services, to TRANSITIONS below (COMPLETED: {REOPENED}; REOPENED: the
# open moves) and a `reopen_request` use-case that checks the 14 days.
TRANSITIONS: dict[str, frozenset[str]] = {
    SUBMITTED: frozenset({SUBMITTED, RECEIVED, IN_PROGRESS, NEED_INFO, COMPLETED, REJECTED, CANCELLED}),
    RECEIVED: frozenset({SUBMITTED, RECEIVED, IN_PROGRESS, NEED_INFO, COMPLETED, REJECTED, CANCELLED}),
    IN_PROGRESS: frozenset({SUBMITTED, IN_PROGRESS, NEED_INFO, COMPLETED, REJECTED, CANCELLED}),
    NEED_INFO: frozenset({SUBMITTED, IN_PROGRESS, NEED_INFO, COMPLETED, REJECTED, CANCELLED}),
    COMPLETED: frozenset(),
    REJECTED: frozenset(),
    CANCELLED: frozenset(),
}


# Reopening (issue #24) is the one way out of a closed status: the citizen says a completed
# request is not fixed, within 14 days (reopen_request, which records a "reopened" history row).
REOPENING: dict[str, frozenset[str]] = {COMPLETED: frozenset({IN_PROGRESS})}


class InvalidTransition(ValueError):
    """A status change the state machine does not allow (e.g. in_progress -> received)."""

    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"a request cannot move from {current} to {wanted}")
        self.current = current
        self.wanted = wanted


class UnknownAgency(ValueError):
    """A forward to something that is not an agency of the catalog; nothing was changed.

    `resolution` holds what the catalog makes of the name (closest matches, a choice).
    """

    def __init__(self, name: str, resolution: Resolution | None = None) -> None:
        super().__init__(f"not an agency of the catalog: {name!r}")
        self.name = name
        self.resolution = resolution


class UnstaffedAgency(ValueError):
    """The target agency has no linked group and no active official: forward only after a warning."""

    def __init__(self, name: str) -> None:
        super().__init__(f"nobody staffs {name} yet: confirm to forward (the fallback desk {FALLBACK_DESK} will see it)")
        self.name = name


def can_move(current: str, wanted: str) -> bool:
    return wanted in TRANSITIONS.get(current, frozenset())


def _move(request: ServiceRequest, wanted: str, *, reopening: bool = False) -> None:
    """The one place a request's status changes."""
    if wanted not in TRANSITIONS:
        raise ValueError(f"unknown request status {wanted!r}")
    if reopening and wanted in REOPENING.get(request.status, frozenset()):
        request.status = wanted
        return
    if not can_move(request.status, wanted):
        if request.status in CLOSED_STATUSES:
            raise RequestClosed(request.status)
        raise InvalidTransition(request.status, wanted)
    request.status = wanted


@event.listens_for(Session, "before_flush")
def _guard_requests(session: Session, flush_context: object, instances: object) -> None:
    """Refuse, at flush time, any status change the state machine forbids and any change of
    a request's agency to a name outside the catalog, whoever wrote it."""
    for obj in session.dirty:
        if not isinstance(obj, ServiceRequest):
            continue
        state = inspect(obj)
        status = state.attrs.status.history
        if status.deleted and status.added and not can_move(status.deleted[0], status.added[0]):
            reopened = status.added[0] in REOPENING.get(status.deleted[0], frozenset()) and any(
                isinstance(new, RequestHistory) and new.action == "reopened" and new in obj.history for new in session.new)
            if not reopened:
                raise InvalidTransition(status.deleted[0], status.added[0])
        agency = state.attrs.agency.history
        if agency.added and agency.deleted and agency.added[0] != agency.deleted[0]:
            with session.no_autoflush:
                known = session.scalar(select(Agency.id).where(Agency.name == agency.added[0]))
            if known is None:
                raise UnknownAgency(agency.added[0])


class RequestNotFound(Exception):
    """No such request for this person (unknown, or someone else's: the same answer)."""


class RequestClosed(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class NotCompleted(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class NotYourAgency(Exception):
    """An official of another agency tried to act on a request."""


@dataclass(frozen=True)
class Citizen:
    """Who filed a request and where notices reach them."""

    key: str  # "<channel>:<user id>"
    channel: str  # line, telegram or web (the local chat)
    reply_to: str  # platform recipient


def satisfaction_after() -> timedelta:
    return timedelta(days=float(os.environ.get("SATISFACTION_CHECK_DAYS", "3")))


def _history(session: Session, request: ServiceRequest, action: str, actor: str, note: str = "", official_id: int | None = None) -> None:
    request.history.append(
        RequestHistory(action=action, status=request.status, agency=request.agency, note=note, actor=actor, official_id=official_id)
    )


# --- citizens -------------------------------------------------------------


def create_request(
    session: Session, citizen: Citizen, service: Service, *, details: str, location: dict[str, Any] | None = None,
    contact: str | None = None, now: datetime | None = None, attachments: list[dict[str, Any]] | None = None,
    agency: str | None = None,
) -> ServiceRequest:
    """File a request, route it to the service's agency (or `agency`: the one serving the place) and schedule its escalation.

    `attachments`: photos the citizen sent while filing ({"provider": "line", "message_id": ...}),
    kept as history rows whose note is the reference (blanked by erasure and retention like every note).
    """
    now = now or utcnow()
    if agency is not None and agency != service.agency:
        target = catalog_agency(session, agency)  # the place's agency: only a catalog agency, as for a forward
        if target is None:
            raise UnknownAgency(agency, resolve_agency(session, agency))
        agency = target.name
    request = ServiceRequest(
        citizen_key=citizen.key, channel=citizen.channel, reply_to=citizen.reply_to, service=service.name,
        agency=agency or service.agency, details=(details or "").strip()[:MAX_DETAILS] or None, location=location,
        contact=(contact or "").strip()[:200] or None, status=SUBMITTED, created_at=now, updated_at=now,
    )
    session.add(request)
    session.flush()
    _history(session, request, "created", "citizen")
    for attachment in (attachments or [])[:MAX_ATTACHMENTS]:
        _history(session, request, "attachment", "citizen", note=attachment_reference(attachment))
    _route(session, request, service, now, note=None)
    return request


MAX_ATTACHMENTS = 10


def attachment_reference(attachment: dict[str, Any]) -> str:
    """How a photo is kept: its platform and the platform's content id (never the image itself)."""
    provider = re.sub(r"[^a-z]", "", str(attachment.get("provider") or "line").lower())[:10] or "line"
    content = re.sub(r"[^0-9A-Za-z_-]", "", str(attachment.get("message_id") or ""))[:64]
    return f"{provider}-image:{content}"


def attachments_of(request: ServiceRequest) -> list[str]:
    return [row.note for row in request.history if row.action == "attachment" and row.note]


def add_attachment(session: Session, citizen_key: str, request_id: int, attachment: dict[str, Any]) -> ServiceRequest:
    """A photo sent right after filing: kept with the request and shown to the agency's groups."""
    request = _own(session, citizen_key, request_id)
    if request.status not in OPEN_STATUSES:
        raise RequestClosed(request.status)
    if len(attachments_of(request)) >= MAX_ATTACHMENTS:
        return request
    reference = attachment_reference(attachment)
    _history(session, request, "attachment", "citizen", note=reference)
    session.flush()
    text = wording.attachment_notice(request, reference)
    for chat_id in agency_chats(session, request.agency) or agency_chats(session, FALLBACK_DESK):
        enqueue(
            session, kind="request_attachment", channel="telegram", recipient=chat_id, text=text,
            idempotency_key=f"request:{request.id}:attachment:{len(request.history)}:{chat_id}", cause=("request", str(request.id)),
        )
    return request


def _route(session: Session, request: ServiceRequest, service: Service | None, now: datetime, note: str | None) -> int:
    """Tell the responsible agency's groups and schedule the escalation; returns groups told."""
    heading = wording.NEW_HEADING if note is None else wording.FORWARDED_HEADING
    payload = wording.request_card(request, heading)
    text = wording.routed_text(request, heading, note)
    payload["alt_text"] = text
    chats = agency_chats(session, request.agency)
    if not chats and request.agency != FALLBACK_DESK:
        # an agency with no linked group yet (filed or forwarded there): the fallback desk sees it instead
        chats = agency_chats(session, FALLBACK_DESK)
        text += wording.at_fallback_desk(request.agency, FALLBACK_DESK)
        payload["alt_text"] = text
    for chat_id in chats:
        enqueue(
            session, kind="request_routed", channel="telegram", recipient=chat_id, text=text,
            custom=cards(text, [payload]), idempotency_key=f"request:{request.id}:routed:{request.agency}:{len(request.history)}:{chat_id}",
            cause=("request", str(request.id)), urgent=True,
        )
    days = service.duration_days if service is not None else 7
    due = now + timedelta(days=max(1, days))
    targets = [(o.channel, o.user_id) for o in coordinators(session, request.agency)] or [("telegram", c) for c in chats]
    for channel, recipient in targets:
        enqueue(
            session, kind="request_escalation", channel=channel, recipient=recipient,
            text=wording.escalation_text(request, days),
            idempotency_key=f"request:{request.id}:escalate:{request.agency}:{len(request.history)}:{channel}:{recipient}",
            due_at=due, stale_at=due + timedelta(days=7), cause=("request", str(request.id)), urgent=True,
        )
    return len(chats)


def _own(session: Session, citizen_key: str, request_id: int) -> ServiceRequest:
    request = session.get(ServiceRequest, request_id)
    if request is None or request.citizen_key is None or request.citizen_key != citizen_key:
        raise RequestNotFound(format_request_id(request_id))
    return request


def get_own_request(session: Session, citizen_key: str, request_id: int | None) -> ServiceRequest:
    """The citizen's request by number; without one, their latest open request, else their latest."""
    if request_id is not None:
        return _own(session, citizen_key, request_id)
    latest = latest_open_request(session, citizen_key) or session.scalar(
        select(ServiceRequest).where(ServiceRequest.citizen_key == citizen_key).order_by(ServiceRequest.id.desc()).limit(1)
    )
    if latest is None:
        raise RequestNotFound("latest")
    return latest


def list_own_requests(session: Session, citizen_key: str, limit: int = 5) -> list[ServiceRequest]:
    return list(
        session.scalars(
            select(ServiceRequest).where(ServiceRequest.citizen_key == citizen_key).order_by(ServiceRequest.id.desc()).limit(limit)
        )
    )


def latest_open_request(session: Session, citizen_key: str) -> ServiceRequest | None:
    return session.scalar(
        select(ServiceRequest)
        .where(ServiceRequest.citizen_key == citizen_key, ServiceRequest.status.in_(OPEN_STATUSES))
        .order_by(ServiceRequest.id.desc())
        .limit(1)
    )


def latest_completed_unrated(session: Session, citizen_key: str) -> ServiceRequest | None:
    rated = select(ServiceRating.request_id)
    return session.scalar(
        select(ServiceRequest)
        .where(ServiceRequest.citizen_key == citizen_key, ServiceRequest.status == COMPLETED, ServiceRequest.id.not_in(rated))
        .order_by(ServiceRequest.id.desc())
        .limit(1)
    )


def cancel_request(session: Session, citizen_key: str, request_id: int | None, reason: str = "") -> ServiceRequest:
    """The citizen withdraws their own open request; its pending follow-ups are cancelled."""
    request = latest_open_request(session, citizen_key) if request_id is None else _own(session, citizen_key, request_id)
    if request is None:
        raise RequestNotFound("latest open")
    _move(request, CANCELLED)
    request.closed_at = utcnow()
    _history(session, request, "cancelled", "citizen", reason[:300])
    session.flush()
    cancel_pending(session, cause_type="request", cause_id=str(request.id))
    text = wording.cancelled_text(request)
    for chat_id in agency_chats(session, request.agency):
        enqueue(
            session, kind="request_cancelled", channel="telegram", recipient=chat_id, text=text,
            idempotency_key=f"request:{request.id}:cancelled:{chat_id}", cause=None, urgent=True,
        )
    return request


def rate_request(session: Session, citizen_key: str, request_id: int | None, score: int, comment: str | None = None) -> ServiceRequest:
    """Rate a completed request 1-5 (rating again replaces the earlier score)."""
    if not 1 <= score <= 5:
        raise ValueError("score must be 1-5")
    if request_id is None:
        request = latest_completed_unrated(session, citizen_key)
        if request is None:
            raise RequestNotFound("latest completed")
    else:
        request = _own(session, citizen_key, request_id)
    if request.status != COMPLETED:
        raise NotCompleted(request.status)
    rating = session.scalar(select(ServiceRating).where(ServiceRating.request_id == request.id))
    if rating is None:
        rating = ServiceRating(request_id=request.id, agency=request.agency, service=request.service, score=score)
        session.add(rating)
    rating.score = score
    rating.comment = (comment or "").strip()[:500] or None
    _history(session, request, "rated", "citizen", f"{score}/5")
    session.flush()
    cancel_pending(session, cause_type="request", cause_id=str(request.id), kinds=("satisfaction_check",))
    return request


# --- officials ------------------------------------------------------------


def _for_official(session: Session, actor: Actor, request_id: int) -> ServiceRequest:
    request = session.get(ServiceRequest, request_id)
    if request is None:
        raise RequestNotFound(format_request_id(request_id))
    if request.agency != actor.agency and not _at_fallback_desk(session, actor, request.agency):
        raise NotYourAgency(request.agency)
    return request


def _at_fallback_desk(session: Session, actor: Actor, agency: str) -> bool:
    """The fallback desk acts for an agency nobody staffs yet (no group, no active official)."""
    return actor.agency == FALLBACK_DESK and not any(staffing(session, agency))


def agency_requests(session: Session, actor: Actor, *, open_only: bool = True, limit: int = 20,
                    newest_first: bool = False) -> list[ServiceRequest]:
    """The requests with the official's agency (oldest first: the backlog; or newest first); the fallback desk
    also sees those with unstaffed agencies."""
    agencies = {actor.agency}
    if actor.agency == FALLBACK_DESK:
        waiting = set(session.scalars(select(ServiceRequest.agency).where(ServiceRequest.status.in_(OPEN_STATUSES)).distinct()))
        agencies |= unstaffed_agencies(session, waiting - {actor.agency})
    stmt = select(ServiceRequest).where(ServiceRequest.agency.in_(sorted(agencies)))
    if open_only:
        stmt = stmt.where(ServiceRequest.status.in_(OPEN_STATUSES))
    order = ServiceRequest.id.desc() if newest_first else ServiceRequest.id
    return list(session.scalars(stmt.order_by(order).limit(limit)))


def _notify_citizen(session: Session, request: ServiceRequest, kind: str, text: str, key: str, *, buttons: list[dict[str, str]] | None = None, due_at: datetime | None = None, stale_at: datetime | None = None) -> None:
    if request.reply_to is None or request.anonymised:
        return
    enqueue(
        session, kind=kind, channel=request.channel, recipient=request.reply_to, text=text, buttons=buttons,
        idempotency_key=key, due_at=due_at, stale_at=stale_at, cause=("request", str(request.id)),
    )


def update_request_status(
    session: Session, actor: Actor, request_id: int, status: str, note: str = "", now: datetime | None = None
) -> ServiceRequest:
    """An official of the responsible agency moves a request on; the citizen is told."""
    if status not in OFFICIAL_STATUSES:
        raise ValueError(f"status must be one of {', '.join(OFFICIAL_STATUSES)}")
    now = now or utcnow()
    request = _for_official(session, actor, request_id)
    if request.status in CLOSED_STATUSES:
        raise RequestClosed(request.status)
    if status == REJECTED and not note.strip():
        raise ValueError("a rejection needs a reason")
    _move(request, status)
    request.status_note = note.strip()[:500] or None
    request.updated_at = now
    request.touched_at = request.touched_at or now
    _history(session, request, "status", "official", request.status_note or "", actor.id)
    session.flush()
    cancel_pending(session, cause_type="request", cause_id=str(request.id), kinds=ESCALATION_KINDS)
    step = len(request.history)
    text = wording.status_notice(request, status, request.status_note)
    buttons = None
    if status in (COMPLETED, REJECTED):
        request.closed_at = now
        cancel_pending(session, cause_type="request", cause_id=str(request.id), kinds=("satisfaction_check",))
    if status == COMPLETED:
        buttons = rating_buttons(request.code) + [reopen_button(request.code)]
        due = now + satisfaction_after()
        _notify_citizen(
            session, request, "satisfaction_check",
            wording.satisfaction_text(request, now),
            f"request:{request.id}:satisfaction", buttons=rating_buttons(request.code) + [reopen_button(request.code)],  # issue #24
            due_at=due, stale_at=due + timedelta(days=14),
        )
    _notify_citizen(session, request, "request_status", text, f"request:{request.id}:status:{step}", buttons=buttons,
                    stale_at=now + timedelta(days=7))
    return request


def forward_request(
    session: Session, actor: Actor, request_id: int, to_agency: str, note: str = "", now: datetime | None = None,
    *, allow_unstaffed: bool = False,
) -> ServiceRequest:
    """Hand a request to another agency of the catalog; the history stays with it.

    `to_agency` must be a catalog agency's official name (resolve what an official
    typed with storage.agencies.resolve_agency first): anything else raises
    UnknownAgency and changes nothing. An agency with no linked group and no active
    official raises UnstaffedAgency unless `allow_unstaffed` (the official saw the
    warning); the request then also shows at the fallback desk (FALLBACK_DESK).
    """
    now = now or utcnow()
    request = _for_official(session, actor, request_id)
    if request.status in CLOSED_STATUSES:
        raise RequestClosed(request.status)
    target = catalog_agency(session, to_agency)
    if target is None:
        raise UnknownAgency(to_agency, resolve_agency(session, to_agency))
    if target.name == request.agency:
        raise ValueError("already with this agency")
    if not allow_unstaffed and not any(staffing(session, target.name)):
        raise UnstaffedAgency(target.name)
    cancel_pending(session, cause_type="request", cause_id=str(request.id), kinds=ESCALATION_KINDS)
    source = request.agency
    request.agency = target.name
    _move(request, SUBMITTED)
    request.touched_at = None
    request.updated_at = now
    _history(session, request, "forwarded", "official", wording.forwarded_history_note(source, note.strip()), actor.id)
    session.flush()
    service = session.scalar(select(Service).where(Service.name == request.service))
    _route(session, request, service, now, note=wording.forwarded_route_note(source, note.strip()))
    _notify_citizen(
        session, request, "request_status",
        wording.forwarded_notice(request, target.name),
        f"request:{request.id}:status:{len(request.history)}", stale_at=now + timedelta(days=7),
    )
    return request


def reply_to_citizen(session: Session, actor: Actor, request_id: int, message: str, key: str | None = None) -> ServiceRequest:
    """An official answers the citizen through the bot; `key` (the command's event id) makes it happen once."""
    message = message.strip()
    if not message:
        raise ValueError("empty reply")
    request = _for_official(session, actor, request_id)
    request.touched_at = request.touched_at or utcnow()
    _history(session, request, "reply", "official", message[:1000], actor.id)
    session.flush()
    cancel_pending(session, cause_type="request", cause_id=str(request.id), kinds=ESCALATION_KINDS)
    _notify_citizen(
        session, request, "official_reply",
        wording.official_reply_text(request, message),
        f"request:{request.id}:reply:{key or len(request.history)}", stale_at=utcnow() + timedelta(days=7),
    )
    return request


def rating_summary(session: Session, agency: str | None = None) -> list[tuple[str, str, int, float]]:
    """(agency, service, ratings, average score) for the agencies' own statistics; no personal data."""
    from sqlalchemy import func

    stmt = (
        select(ServiceRating.agency, ServiceRating.service, func.count(), func.avg(ServiceRating.score))
        .group_by(ServiceRating.agency, ServiceRating.service)
        .order_by(ServiceRating.agency, ServiceRating.service)
    )
    if agency:
        stmt = stmt.where(ServiceRating.agency == agency)
    return [(a, s, int(n), round(float(avg), 2)) for a, s, n, avg in session.execute(stmt)]


# --- closure quality: "ยังไม่เสร็จจริง" (open government, issue #24) ----------------

REOPEN_WITHIN = timedelta(days=14)


class ReopenTooLate(Exception):
    """More than 14 days have passed since the request was completed."""


def reopen_request(session: Session, citizen_key: str, request_id: int | None, reason: str = "", now: datetime | None = None) -> ServiceRequest:
    """The citizen says a completed request is not actually fixed: it goes back to the agency.

    Allowed within 14 days of completion; the agency's groups are told, the request is
    "in progress" again and counts in the reopened figures (storage/stats.py).
    """
    now = now or utcnow()
    if request_id is None:
        request = session.scalar(
            select(ServiceRequest).where(ServiceRequest.citizen_key == citizen_key, ServiceRequest.status == COMPLETED)
            .order_by(ServiceRequest.closed_at.desc(), ServiceRequest.id.desc()).limit(1)
        )
        if request is None:
            raise RequestNotFound("latest completed")
    else:
        request = _own(session, citizen_key, request_id)
    if request.status != COMPLETED:
        raise NotCompleted(request.status)
    if request.closed_at is not None and now - request.closed_at > REOPEN_WITHIN:
        raise ReopenTooLate(request.code)
    reason = (reason or "").strip()[:300]
    with session.no_autoflush:  # the move and its "reopened" row reach the flush guard together
        _move(request, IN_PROGRESS, reopening=True)
        request.closed_at = None
        request.updated_at = now
        _history(session, request, "reopened", "citizen", reason)  # the flush guard allows the reopening because of it
    request.history[-1].at = now
    session.flush()
    cancel_pending(session, cause_type="request", cause_id=str(request.id), kinds=("satisfaction_check",))
    text = wording.reopened_text(request, reason)
    payload = wording.request_card(request, wording.REOPENED_HEADING)
    payload["alt_text"] = text
    step = len(request.history)
    for chat_id in agency_chats(session, request.agency):
        enqueue(
            session, kind="request_reopened", channel="telegram", recipient=chat_id, text=text, custom=cards(text, [payload]),
            idempotency_key=f"request:{request.id}:reopened:{step}:{chat_id}", cause=("request", str(request.id)), urgent=True,
        )
    return request  # the citizen is answered in the chat (actions/reopen.py)

