"""SQLAlchemy 2 typed models (one module per concept, all importable from here): clinics, people,
invoices, requests, processes and the audit log."""

from .access import ApiToken, IdempotentResponse, LoginFailure, WebSession
from .base import Base, Money, UTCDateTime, utcnow
from .clinics import Clinic, Invoice, RoleGrant, User
from .events import Event, EventFeed, WebhookDelivery
from .notifications import MailMessage, Notification, NotificationPreference
from .processes import (
    AuditEvent,
    CancellationRequest,
    Deployment,
    NoOneMayDecide,
    ProcessInstance,
    ProcessVersion,
    Timer,
    UserTask,
)

__all__ = [
    "utcnow",
    "UTCDateTime",
    "Money",
    "Base",
    "Clinic",
    "User",
    "RoleGrant",
    "Invoice",
    "ProcessVersion",
    "ProcessInstance",
    "UserTask",
    "Timer",
    "NoOneMayDecide",
    "CancellationRequest",
    "Deployment",
    "AuditEvent",
    "ApiToken",
    "WebSession",
    "LoginFailure",
    "IdempotentResponse",
    "Event",
    "EventFeed",
    "WebhookDelivery",
    "Notification",
    "NotificationPreference",
    "MailMessage",
]
