"""Roles a user can hold in a clinic, and how a BPMN lane name maps to them."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    BILLING_STAFF = "billing_staff"
    APPROVER = "approver"
    ADMIN = "admin"  # Clinic administrator
    ANALYST = "analyst"  # installation-wide: owns the processes, sees no invoice
    INSTALLATION_ADMIN = "installation_admin"  # installation-wide: clinics and their administrators, no invoice
    INTEGRATION = "integration"  # a clinic's service account (API keys): the billing system


ROLES: dict[str, str] = {
    Role.BILLING_STAFF: "Billing staff",
    Role.APPROVER: "Approver",
    Role.ADMIN: "Clinic administrator",
    Role.ANALYST: "Business analyst",
    Role.INSTALLATION_ADMIN: "Installation administrator",
    Role.INTEGRATION: "Integration",
}
# Roles held in a clinic by its staff: the only ones a lane may name.
STAFF_ROLES = (Role.BILLING_STAFF, Role.APPROVER, Role.ADMIN)
# Roles that hold for the whole installation (their grant has no clinic).
INSTALLATION_ROLES = frozenset({Role.ANALYST, Role.INSTALLATION_ADMIN})


def _normalise(text: str) -> str:
    return " ".join(text.replace("_", " ").lower().split())


_BY_WORDS = {_normalise(k): k for k in STAFF_ROLES} | {_normalise(ROLES[k]): k for k in STAFF_ROLES}


def lane_roles(lane: str | None) -> tuple[Role, ...]:
    """ "Approver, Clinic administrator" -> (Role.APPROVER, Role.ADMIN); matched case-insensitively.

    Raises ValueError naming the part that is not a known role.
    """
    if not lane:
        raise ValueError("the task is in no lane: put it in a lane named after the role that does it")
    roles = []
    for part in lane.split(","):
        key = _BY_WORDS.get(_normalise(part))
        if key is None:
            known = ", ".join(ROLES[r] for r in STAFF_ROLES)
            raise ValueError(f"lane part '{part.strip()}' is not a known staff role (lanes name: {known})")
        roles.append(key)
    return tuple(roles)


def who_words(lane: str | None) -> str:
    """ "Approver, Clinic administrator" (a lane) -> "Approver or Clinic administrator": who may take the step."""
    return " or ".join(ROLES[r] for r in lane_roles(lane))


def role_names(roles) -> str:
    """ "approver,admin" or an iterable of role ids -> "Approver, Clinic administrator"."""
    ids = roles.split(",") if isinstance(roles, str) else roles
    return ", ".join(ROLES.get(r, r) for r in ids if r)
