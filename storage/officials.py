"""Officials' registration and permission checks. Callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.ids import sender_id
from storage.models.channels import InboundEvent
from storage.models.officials import ROLE_ADMIN, ROLE_COORDINATOR, ROLE_GLOBAL_ADMIN, ROLES, GroupLink, Official, Project

_RANK = {role: rank for rank, role in enumerate(ROLES)}


class PermissionDenied(Exception):
    """The person may not do this; `reason` is a short machine-readable word."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Actor:
    """An active official acting now."""

    id: int
    agency: str
    role: str
    display_name: str

    def at_least(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]

    def may_administer(self, agency: str | None) -> bool:
        """Agency admins act within their own agency; global admins anywhere."""
        if self.role == ROLE_GLOBAL_ADMIN:
            return True
        return self.role == ROLE_ADMIN and agency is not None and agency.strip() == self.agency


def find_official(session: Session, channel: str, user_id: str) -> Official | None:
    return session.scalar(select(Official).where(Official.channel == channel, Official.user_id == str(user_id)))


def seen_in_chat(session: Session, channel: str, chat_id: str, chat_type: str, user_ids: list[str]) -> set[str]:
    """Which of `user_ids` have written in this group chat (their own conversation there has messages)."""
    keys = {sender_id(channel, chat_id, chat_type, user_id): user_id for user_id in user_ids}
    found = session.scalars(select(InboundEvent.conversation).where(InboundEvent.conversation.in_(list(keys))).distinct())
    return {keys[key] for key in found}


def require_official(session: Session, channel: str, user_id: str, minimum: str = "member") -> Actor:
    """The active official behind (channel, user_id), at least `minimum`; else PermissionDenied."""
    official = find_official(session, channel, user_id)
    if official is None or not official.active:
        raise PermissionDenied("not_official")
    if _RANK[official.role] < _RANK[minimum]:
        raise PermissionDenied("role")
    return Actor(official.id, official.agency, official.role, official.display_name)


def register_official(
    session: Session, *, channel: str, user_id: str, agency: str, role: str = "member", display_name: str = "",
    actor: Actor | None = None,
) -> Official:
    """Add or update an official (re-activates a removed one).

    `actor`: the official doing it from a chat (None: the CLI, run on the server). An agency
    admin registers officials of their own agency only, never above their own role, and
    cannot take over an official of another agency.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not agency.strip():
        raise ValueError("agency is required")
    official = find_official(session, channel, user_id)
    if actor is not None:
        if not actor.may_administer(agency) or _RANK[role] > _RANK[actor.role]:
            raise PermissionDenied("scope")
        if official is not None and official.active and not actor.may_administer(official.agency):
            raise PermissionDenied("scope")
    if official is None:
        official = Official(channel=channel, user_id=str(user_id))
        session.add(official)
    official.agency = agency.strip()
    official.role = role
    official.active = True
    if display_name:
        official.display_name = display_name
    session.flush()
    return official


def remove_official(session: Session, channel: str, user_id: str, actor: Actor | None = None) -> bool:
    """Deactivate (history keeps pointing at the row); False when unknown (or, for an `actor`, outside their agency)."""
    official = find_official(session, channel, user_id)
    if official is None:
        return False
    if actor is not None and (not actor.may_administer(official.agency) or _RANK[official.role] > _RANK[actor.role]):
        return False  # the same answer as unknown: nothing is learnt about other agencies' officials
    official.active = False
    return True


def link_group(
    session: Session, *, channel: str, chat_id: str, agency: str | None = None, project_code: str | None = None,
    project_name: str | None = None, title: str = "", actor: Actor | None = None,
) -> GroupLink:
    """Link a group chat to an agency and/or a sandbox project (created when new).

    `actor` (from a chat): only an admin of that agency (or a global admin), and a group
    already linked to another agency stays theirs.
    """
    if not agency and not project_code:
        raise ValueError("link a group to an agency or a project")
    link = session.scalar(select(GroupLink).where(GroupLink.channel == channel, GroupLink.chat_id == str(chat_id)))
    if actor is not None:
        if not actor.may_administer(agency):
            raise PermissionDenied("scope")
        if link is not None and link.agency and not actor.may_administer(link.agency):
            raise PermissionDenied("scope")
    if link is None:
        link = GroupLink(channel=channel, chat_id=str(chat_id))
        session.add(link)
    link.agency = agency or link.agency
    link.title = title or link.title
    if project_code:
        project = session.scalar(select(Project).where(Project.code == project_code))
        if project is None:
            project = Project(code=project_code, name=project_name or project_code)
            session.add(project)
            session.flush()
        link.project_id = project.id
    session.flush()
    return link


def group_link(session: Session, channel: str, chat_id: str) -> GroupLink | None:
    return session.scalar(select(GroupLink).where(GroupLink.channel == channel, GroupLink.chat_id == str(chat_id)))


def agency_chats(session: Session, agency: str, channel: str = "telegram") -> list[str]:
    """Group chats linked to an agency (where its citizen requests and digests go)."""
    return list(session.scalars(select(GroupLink.chat_id).where(GroupLink.channel == channel, GroupLink.agency == agency)))


def coordinators(session: Session, agency: str) -> list[Official]:
    return list(
        session.scalars(
            select(Official).where(Official.agency == agency, Official.active.is_(True), Official.role.in_((ROLE_COORDINATOR, ROLE_ADMIN)))
        )
    )
