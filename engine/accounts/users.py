"""Users, password hashes (Argon2) and the Actor a request acts as: one clinic, some roles."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import Clinic, RoleGrant, User

from .roles import ROLES, Role

# Which process a clinic runs by default, by its cancellation mode.
CLINIC_PROCESSES = {"approval": "invoice_cancellation_request", "direct": "invoice_cancellation_direct"}
# Every clinic also runs Undo Cancel: its first task's `invoice_status` property says it starts on cancelled invoices.
UNDO_PROCESS = "invoice_undo_cancel"

_HASHER = PasswordHasher()
# Verified against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _HASHER.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    full_name: str
    clinic_id: int | None  # None for installation-wide users (analysts)
    clinic_name: str
    cancellation_mode: str
    timezone: str
    currency: str
    roles: frozenset[str]
    process_id: str
    must_change_password: bool = False
    locale: str = "en_US"
    other_clinics: tuple[tuple[int, str], ...] = ()  # (id, name) of the other clinics the person works in

    def has_any(self, roles) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_analyst(self) -> bool:
        return Role.ANALYST in self.roles

    @property
    def role_names(self) -> str:
        return ", ".join(ROLES[r] for r in sorted(self.roles)) or "no role"


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None (same answer for every failure)."""
    user = find_user(session, username)
    try:
        _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):  # Argon2 parameters changed since it was stored
        user.password_hash = _HASHER.hash(password)
    return user


def find_user(session: Session, username: str) -> User | None:
    """The user with this username, whatever its case and surrounding spaces."""
    return session.scalar(select(User).where(func.lower(User.username) == (username or "").strip().lower()))


def verify_password(user: User, password: str) -> bool:
    try:
        return _HASHER.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def actor_for(session: Session, user_id: int, clinic_id: int | None = None) -> Actor | None:
    """The Actor of an active user with at least one role (None otherwise), acting in one clinic.

    Clinic roles bind the user to that clinic: `clinic_id` when they hold a role there (a person of several
    clinics chooses), else the first they were given. An analyst's or installation administrator's grant has
    no clinic and holds everywhere.
    """
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    grants = session.scalars(select(RoleGrant).where(RoleGrant.user_id == user_id).order_by(RoleGrant.id)).all()
    clinic_ids = {g.clinic_id for g in grants if g.clinic_id is not None}
    clinics = {c.id: c for c in session.scalars(select(Clinic).where(Clinic.id.in_(clinic_ids)))} if clinic_ids else {}
    return actor_from(user, grants, clinics, clinic_id)


def actor_from(user: User, grants: list[RoleGrant], clinics: dict[int, Clinic], clinic_id: int | None) -> Actor | None:
    """actor_for's answer from rows already read: the user, their grants (in the order given) and the clinics
    of those grants by id (ORM objects, or rows with the same attributes)."""
    if not user.active or not grants:
        return None
    everywhere = frozenset(g.role for g in grants if g.clinic_id is None)
    clinic_ids = [g.clinic_id for g in grants if g.clinic_id is not None]
    if not clinic_ids:
        return Actor(
            user.id, user.username, user.full_name, None, "All clinics", "", "UTC", "", everywhere, "",
            user.must_change_password,
        )  # fmt: skip
    clinic = clinics[clinic_id if clinic_id in clinic_ids else clinic_ids[0]]
    roles = frozenset(g.role for g in grants if g.clinic_id == clinic.id) | everywhere
    others = sorted((clinics[i] for i in set(clinic_ids) - {clinic.id}), key=lambda c: c.name)
    return Actor(
        user.id,
        user.username,
        user.full_name,
        clinic.id,
        clinic.name,
        clinic.cancellation_mode,
        clinic.timezone,
        clinic.currency,
        roles,
        clinic_process_id(clinic),
        user.must_change_password,
        clinic.locale,
        tuple((c.id, c.name) for c in others),
    )


def clinic_process_id(clinic: Clinic) -> str:
    """The process a clinic runs: its own, else the standard one of its cancellation workflow."""
    return clinic.process_id or CLINIC_PROCESSES[clinic.cancellation_mode]


def actor_for_clinic(session: Session, clinic_name: str, who: str, roles: frozenset[str]) -> Actor | None:
    """An Actor of no user acting in a clinic (command-line work on the server; its audit entries have no
    person), or None when there is no such clinic."""
    clinic = session.scalar(select(Clinic).where(func.lower(Clinic.name) == " ".join(clinic_name.split()).lower()))
    if clinic is None:
        return None
    return Actor(
        0, "cli", who, clinic.id, clinic.name, clinic.cancellation_mode, clinic.timezone, clinic.currency, roles,
        clinic_process_id(clinic), False, clinic.locale,
    )  # fmt: skip
