"""Who may do what, in one table: every page, API call and use case asks here.

Clinic roles act in their own clinic only (the use cases look rows up by the actor's clinic); the analyst
role is installation-wide and sees processes, never invoices.
"""

from __future__ import annotations

from enum import StrEnum

from engine.errors import Forbidden

from .roles import Role
from .users import Actor


class Permission(StrEnum):
    WORK_ON_INVOICES = "work_on_invoices"
    DECIDE = "decide"
    MONITOR_INSTANCES = "monitor_instances"
    RETRY = "retry"
    TERMINATE = "terminate"
    MIGRATE = "migrate"
    VIEW_PROCESSES = "view_processes"
    DEPLOY = "deploy"
    MANAGE_PEOPLE = "manage_people"
    CLINIC_SETTINGS = "clinic_settings"
    MANAGE_CLINICS = "manage_clinics"
    MANAGE_INTEGRATIONS = "manage_integrations"
    AUDIT_LOG = "audit_log"
    SEND_INVOICES = "send_invoices"
    IMPORT_INVOICES = "import_invoices"
    READ_EVENTS = "read_events"


APPROVER_ROLES = frozenset({Role.APPROVER, Role.ADMIN})

# permission -> (roles that grant it, what a refused person reads)
RULES: dict[Permission, tuple[frozenset[Role], str]] = {
    Permission.WORK_ON_INVOICES: (
        frozenset({Role.BILLING_STAFF, Role.APPROVER, Role.ADMIN}),
        "Invoices are for the clinic's staff: analysts work on the processes.",
    ),
    Permission.DECIDE: (APPROVER_ROLES, "Financial Approval is for approvers and clinic administrators."),
    Permission.MONITOR_INSTANCES: (
        frozenset({Role.ADMIN}),
        "Only a clinic administrator may monitor process instances.",
    ),
    Permission.RETRY: (frozenset({Role.ADMIN}), "Only a clinic administrator may do this."),
    Permission.TERMINATE: (frozenset({Role.ADMIN}), "Only a clinic administrator may do this."),
    Permission.MIGRATE: (
        frozenset({Role.ADMIN, Role.ANALYST}),
        "Only a clinic administrator (own clinic) or a business analyst may migrate instances.",
    ),
    Permission.VIEW_PROCESSES: (
        frozenset({Role.ADMIN, Role.ANALYST}),
        "Only business analysts and clinic administrators may see the processes.",
    ),
    Permission.DEPLOY: (frozenset({Role.ANALYST}), "Only a business analyst may deploy a process."),
    Permission.MANAGE_PEOPLE: (
        frozenset({Role.ADMIN, Role.INSTALLATION_ADMIN}),
        "Only a clinic administrator may change who holds which role in the clinic.",
    ),
    Permission.CLINIC_SETTINGS: (
        frozenset({Role.ADMIN}),
        "Only a clinic administrator may change the clinic's settings.",
    ),
    Permission.MANAGE_INTEGRATIONS: (
        frozenset({Role.ADMIN}),
        "Only a clinic administrator may manage the clinic's API keys.",
    ),
    Permission.SEND_INVOICES: (
        frozenset({Role.INTEGRATION}),
        "Invoices are sent in by the clinic's billing system, with an API key (Administration > Integrations).",
    ),
    Permission.IMPORT_INVOICES: (
        frozenset({Role.ADMIN, Role.INTEGRATION}),
        "Only a clinic administrator (or the billing system) may import invoices.",
    ),
    Permission.READ_EVENTS: (
        frozenset({Role.INTEGRATION, Role.ADMIN}),
        "The event feed is read by the clinic's systems, with an API key (Administration > Integrations).",
    ),
    Permission.AUDIT_LOG: (frozenset({Role.ADMIN}), "Only a clinic administrator may read the clinic's audit log."),
    Permission.MANAGE_CLINICS: (
        frozenset({Role.INSTALLATION_ADMIN}),
        "Only an installation administrator may create or rename clinics.",
    ),
}


def may(actor: Actor, permission: Permission) -> bool:
    roles, _message = RULES[permission]
    return actor.has_any(roles)  # invoices: every staff role; each use case then checks the step's lane


def require(actor: Actor, permission: Permission) -> None:
    """Forbidden, with what the refused person reads, unless the actor holds the permission."""
    if not may(actor, permission):
        raise Forbidden(RULES[permission][1])
