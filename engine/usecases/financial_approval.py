"""Home > Billing > Financial Approval as an approver asks for it: the filtered list of requests, who decided
them, and why a request searched by number is not listed. A filter that cannot be used is named and the list is
shown without it, so the table never disappears behind an error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from engine.accounts.users import Actor
from engine.errors import Invalid
from engine.reads import decisions, queries
from engine.reads.queries import Page
from engine.vocabulary import RequestStatus

from .approval import reason_names


@dataclass
class QueueView:
    page: Page
    filters: dict[str, str]  # status, from, to, number: as asked (status falls back to Requested when unknown)
    errors: dict[str, str] = field(default_factory=dict)  # field -> what to fix; the list is shown without it
    reason_names: dict[int, str] = field(default_factory=dict)  # request id -> the reason's option name
    decided: dict = field(default_factory=dict)  # request id -> who decided each step, when
    hint: str | None = None  # why the number searched for is not listed ("... is your own request ...")


def queue_view(session: Session, actor: Actor, args: Mapping[str, str], page: int = 1) -> QueueView:
    filters = {
        "status": args.get("status", RequestStatus.REQUESTED),
        "from": args.get("from", ""),
        "to": args.get("to", ""),
        "number": args.get("number", "").strip(),
    }
    errors, days = {}, {}
    for name, label in (("from", "From"), ("to", "To")):
        try:
            days[name] = queries.parse_day(filters[name], label, name, actor.locale)
        except Invalid as exc:
            errors |= exc.errors
    found = None
    while found is None:  # a bad filter is named, and the list shows without it
        try:
            found = queries.approval_queue(
                session, actor, status=filters["status"], date_from=days.get("from"), date_to=days.get("to"),
                number=filters["number"], page=page,
            )  # fmt: skip
        except Invalid as exc:
            errors |= exc.errors
            if "status" in exc.errors:
                filters["status"] = RequestStatus.REQUESTED
            else:
                days = {}
    requests = [row.request for row in found.items]
    versions = {row.request.id: row.version for row in found.items}
    view = QueueView(found, filters, errors, reason_names(session, requests, versions))
    if filters["status"] != RequestStatus.REQUESTED:
        view.decided = decisions.decisions_of(session, requests)
    if not found.items and filters["number"] and filters["status"] in (RequestStatus.REQUESTED, queries.ALL):
        view.hint = decisions.why_not_listed(session, actor, filters["number"])
    return view
