"""Per-admin tokens for the /admin page (issue #25): only SHA-256 digests are stored.

A token is 32 random bytes (URL-safe base64, prefixed `adm_`); the admin sees it once
when it is created. Looking a token up by its digest reveals nothing about it; the
final comparison is constant-time anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models.admin import AdminAccount
from storage.models.base import utcnow

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


class AccountError(ValueError):
    """A clear reason why an account could not be added or revoked."""


@dataclass(frozen=True)
class Admin:
    id: int
    name: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_admin(session: Session, name: str, *, created_by: str = "", now: datetime | None = None) -> str:
    """Create an admin and return their token (shown once). A revoked name can be added again (new token)."""
    name = name.strip().lower()
    if not NAME.match(name):
        raise AccountError("the name must be 2-63 characters: a-z, 0-9, '.', '_' or '-'")
    token = "adm_" + secrets.token_urlsafe(32)
    existing = session.scalar(select(AdminAccount).where(AdminAccount.name == name))
    if existing is not None and existing.revoked_at is None:
        raise AccountError(f"admin {name} already exists (revoke the old token first to issue a new one)")
    if existing is not None:
        existing.token_sha256, existing.revoked_at, existing.created_at = token_digest(token), None, now or utcnow()
        existing.created_by, existing.last_used_at = created_by, None
    else:
        session.add(AdminAccount(name=name, token_sha256=token_digest(token), created_at=now or utcnow(), created_by=created_by))
    session.flush()
    return token


def revoke_admin(session: Session, name: str, *, now: datetime | None = None) -> bool:
    account = session.scalar(select(AdminAccount).where(AdminAccount.name == name.strip().lower()))
    if account is None or account.revoked_at is not None:
        return False
    account.revoked_at = now or utcnow()
    return True


def list_admins(session: Session) -> list[AdminAccount]:
    return list(session.scalars(select(AdminAccount).order_by(AdminAccount.name)))


def any_admin(session: Session) -> bool:
    return session.scalar(select(AdminAccount.id).where(AdminAccount.revoked_at.is_(None)).limit(1)) is not None


def authenticate(session: Session, token: str, *, now: datetime | None = None) -> Admin | None:
    """The admin whose live token this is, or None."""
    digest = token_digest(token)
    account = session.scalar(select(AdminAccount).where(AdminAccount.token_sha256 == digest))
    if account is None or account.revoked_at is not None or not hmac.compare_digest(account.token_sha256, digest):
        return None
    account.last_used_at = now or utcnow()
    return Admin(account.id, account.name)
