"""Clinics: created and renamed by the installation administrator, their settings kept by their clinic
administrator. The cancellation workflow setting decides which process the clinic's new cancellations run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from zoneinfo import available_timezones

from babel import Locale, UnknownLocaleError
from babel.numbers import list_currencies
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.accounts.permissions import Permission, require
from engine.accounts.roles import Role
from engine.accounts.users import Actor, find_user
from engine.errors import Invalid, NotFound
from engine.instances import deciders
from engine.models import Clinic, Invoice, RoleGrant
from engine.vocabulary import CLINIC_SETTING_DEFAULTS, AuditAction
from engine.workflow.durations import BadDuration, due_after

from .blockers import refresh_stale
from .people import NewPerson, add_person, audit, check_new_person, is_service_account

WORKFLOWS = {
    "approval": (
        "Approval-based",
        "Billing staff submit an Invoice Cancellation Request with remarks; an approver or clinic administrator "
        "approves or rejects it on Financial Approval; after approval, billing staff Cancel Invoice.",
    ),
    "direct": (
        "Direct cancellation",
        "Billing staff select the invoice, More Action > Cancel Invoice, and give remarks: no approval.",
    ),
}


@dataclass(frozen=True)
class ClinicSettings:
    name: str
    cancellation_mode: str
    timezone: str
    locale: str
    currency: str
    # ISO 8601 durations the diagrams' timers read (clinic_setting('reminder_after')); None keeps what is set.
    reminder_after: str | None = None
    escalate_after: str | None = None


def settings_of(clinic: Clinic) -> ClinicSettings:
    return ClinicSettings(
        clinic.name,
        clinic.cancellation_mode,
        clinic.timezone,
        clinic.locale,
        clinic.currency,
        clinic.reminder_after,
        clinic.escalate_after,
    )


def _durations(wanted: ClinicSettings, clinic: Clinic | None, errors: dict) -> tuple[str, str]:
    found = {}
    for name, label, default in (
        ("reminder_after", "Reminder after", CLINIC_SETTING_DEFAULTS["reminder_after"]),
        ("escalate_after", "Escalate after", CLINIC_SETTING_DEFAULTS["escalate_after"]),
    ):
        value = getattr(wanted, name)
        if value is None:
            value = getattr(clinic, name) if clinic is not None else default
        value = value.strip()
        try:
            found[name] = (value.upper(), due_after(value, datetime(2026, 1, 1, tzinfo=UTC), label))
        except BadDuration as exc:
            errors[name] = f"{exc}."
    if len(found) == 2 and found["escalate_after"][1] <= found["reminder_after"][1]:
        errors["escalate_after"] = (
            f"Escalate after ({found['escalate_after'][0]}) must be longer than Reminder after "
            f"({found['reminder_after'][0]}): otherwise the reminder never comes."
        )
    return tuple(found.get(n, ("", None))[0] for n in ("reminder_after", "escalate_after"))


def check_settings(session: Session, wanted: ClinicSettings, clinic: Clinic | None = None) -> ClinicSettings:
    """The settings trimmed and in canonical form; Invalid naming each field that is wrong."""
    errors = {}
    name = " ".join((wanted.name or "").split())
    if not name or len(name) > 200:
        errors["name"] = "Name is required (at most 200 characters)."
    else:
        same = session.scalar(select(Clinic).where(func.lower(Clinic.name) == name.lower()))
        if same is not None and same is not clinic:
            errors["name"] = f"There already is a clinic named {same.name}: choose another name."
    if wanted.cancellation_mode not in WORKFLOWS:
        errors["cancellation_mode"] = "Cancellation workflow must be Approval-based or Direct cancellation."
    timezone = (wanted.timezone or "").strip()
    if timezone not in available_timezones():
        errors["timezone"] = f"Time zone '{timezone}' is not in the IANA list: use a name such as Europe/Berlin."
    locale = (wanted.locale or "").strip().replace("-", "_")
    try:
        locale = str(Locale.parse(locale))
    except (UnknownLocaleError, ValueError, TypeError):
        errors["locale"] = f"Locale '{wanted.locale}' is not known: use a language and region such as en_US or de_CH."
    currency = (wanted.currency or "").strip().upper()
    if currency not in list_currencies():
        errors["currency"] = f"Currency '{wanted.currency}' is not an ISO 4217 code: use one such as USD, EUR or CHF."
    reminder_after, escalate_after = _durations(wanted, clinic, errors)
    if errors:
        raise Invalid(errors)
    return ClinicSettings(name, wanted.cancellation_mode, timezone, locale, currency, reminder_after, escalate_after)


def list_clinics(session: Session, actor: Actor) -> list[Clinic]:
    require(actor, Permission.MANAGE_CLINICS)
    return list(session.scalars(select(Clinic).order_by(Clinic.name)))


def create_clinic(
    session: Session, actor: Actor, wanted: ClinicSettings, admin_username: str = "", new_admin: NewPerson | None = None
) -> tuple[str, str | None]:
    """A new clinic and its first clinic administrator: an existing user (admin_username) or a new one
    (new_admin, who gets a one-time password, returned once)."""
    require(actor, Permission.MANAGE_CLINICS)
    settings = check_settings(session, wanted)
    existing = None
    if admin_username.strip():
        existing = find_user(session, admin_username)
        if existing is None:
            raise Invalid({"admin_username": f"There is no user {admin_username.strip()}: leave it empty to add one."})
        if not existing.active or is_service_account(session, existing):
            raise Invalid({"admin_username": f"{existing.username} is deactivated or an API key's service account."})
    elif new_admin is None:
        raise Invalid({"admin_username": "Name the clinic's first administrator: an existing user or a new one."})
    else:
        new_admin = check_new_person(session, replace(new_admin, roles=(Role.ADMIN,)))
    clinic = Clinic(**asdict(settings))
    session.add(clinic)
    try:
        session.flush()
    except IntegrityError:  # the same name created at this very moment
        raise Invalid({"name": f"There already is a clinic named {settings.name}: choose another name."}) from None
    password = None
    if existing is not None:
        session.add(RoleGrant(user_id=existing.id, clinic_id=clinic.id, role=Role.ADMIN))
        admin = existing
    else:
        admin, password = add_person(session, clinic, new_admin)
    audit(session, actor, clinic, AuditAction.CLINIC_CREATED, **asdict(settings), admin=admin.username)
    return f"Clinic {clinic.name} created; {admin.full_name} ({admin.username}) is its clinic administrator.", password


def rename_clinic(session: Session, actor: Actor, clinic_id: int, name: str) -> str:
    require(actor, Permission.MANAGE_CLINICS)
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFound(f"Clinic {clinic_id} was not found.")
    old = clinic.name
    settings = check_settings(session, replace(settings_of(clinic), name=name), clinic)
    if settings.name == old:
        return "The name is unchanged."
    clinic.name = settings.name
    audit(session, actor, clinic, AuditAction.CLINIC_SETTINGS_CHANGED, changes={"name": [old, settings.name]})
    return f"Clinic {old} is now named {settings.name}."


def find_clinic(session: Session, actor: Actor, key: int | str) -> Clinic:
    """A clinic by id or name (installation administrator)."""
    require(actor, Permission.MANAGE_CLINICS)
    if isinstance(key, int):
        clinic = session.get(Clinic, key)
    else:
        clinic = session.scalar(select(Clinic).where(func.lower(Clinic.name) == " ".join(key.split()).lower()))
    if clinic is None:
        raise NotFound(f"Clinic {key} was not found.")
    return clinic


def own_clinic(session: Session, actor: Actor) -> Clinic:
    require(actor, Permission.CLINIC_SETTINGS)
    return session.get(Clinic, actor.clinic_id)


def change_settings(session: Session, actor: Actor, wanted: ClinicSettings) -> str:
    """The clinic administrator's settings (the name stays: the installation administrator renames). A new
    cancellation workflow applies to cancellations started from now on; running ones keep their process."""
    clinic = own_clinic(session, actor)
    deciders.lock_clinic(session, clinic.id, write=True)
    settings = check_settings(session, replace(wanted, name=clinic.name), clinic)
    old = settings_of(clinic)
    if settings.currency != old.currency and session.scalar(
        select(func.count(Invoice.id)).where(Invoice.clinic_id == clinic.id)
    ):
        raise Invalid({"currency": f"Currency stays {old.currency}: the clinic already has invoices in it."})
    changes = {k: [v, getattr(settings, k)] for k, v in asdict(old).items() if v != getattr(settings, k)}
    if not changes:
        return "Nothing changed."
    for key, (_old, new) in changes.items():
        setattr(clinic, key, new)
    if "cancellation_mode" in changes:
        clinic.process_id = None  # the standard process of the new workflow
        session.flush()
        refresh_stale(session, [clinic.id])  # its table decides what blocks from now on
    audit(session, actor, clinic, AuditAction.CLINIC_SETTINGS_CHANGED, changes=changes)
    return "Settings saved." + (
        " New cancellations follow the new workflow; those already running finish as they started."
        if "cancellation_mode" in changes
        else ""
    )


def timezone_names() -> list[str]:
    """The IANA time zones a clinic may choose, sorted."""
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))) + ["UTC"]
