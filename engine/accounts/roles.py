"""Roles a user can hold in a clinic, and how a BPMN lane name maps to them."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    BILLING_STAFF = "billing_staff"
    APPROVER = "approver"
    ADMIN = "admin"  # Clinic administrator
    ANALYST = "analyst"  # installation-wide: owns the processes, sees no invoice


ROLES: dict[str, str] = {
    Role.BILLING_STAFF: "Billing staff",
    Role.APPROVER: "Approver",
    Role.ADMIN: "Clinic administrator",
    Role.ANALYST: "Business analyst",
}


def _normalise(text: str) -> str:
    return " ".join(text.replace("_", " ").lower().split())


_BY_WORDS = {_normalise(k): Role(k) for k in ROLES} | {_normalise(v): Role(k) for k, v in ROLES.items()}


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
            known = ", ".join(ROLES.values())
            raise ValueError(f"lane part '{part.strip()}' is not a known role (known roles: {known})")
        roles.append(key)
    return tuple(roles)


def role_names(roles) -> str:
    """ "approver,admin" or an iterable of role ids -> "Approver, Clinic administrator"."""
    ids = roles.split(",") if isinstance(roles, str) else roles
    return ", ".join(ROLES.get(r, r) for r in ids if r)
