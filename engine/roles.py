"""Roles a user can hold in a clinic, and how a BPMN lane name maps to them."""

from __future__ import annotations

ROLES: dict[str, str] = {
    "billing_staff": "Billing staff",
    "approver": "Approver",
    "admin": "Clinic administrator",
    "analyst": "Business analyst",  # installation-wide: owns the processes, sees no invoice
}


def _normalise(text: str) -> str:
    return " ".join(text.replace("_", " ").lower().split())


_BY_WORDS = {_normalise(k): k for k in ROLES} | {_normalise(v): k for k, v in ROLES.items()}


def lane_roles(lane: str | None) -> tuple[str, ...]:
    """ "Approver, Clinic administrator" -> ("approver", "admin"); matched case-insensitively.

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
