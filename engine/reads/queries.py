"""Read-side lists as SQL queries (workflows are never loaded): invoices and the Financial Approval queue."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, literal, select
from sqlalchemy.orm import Session, aliased

from engine import days
from engine.accounts.permissions import Permission, require
from engine.accounts.roles import who_words
from engine.accounts.users import Actor
from engine.errors import Invalid, NotFound
from engine.models import AuditEvent, CancellationRequest, Invoice, ProcessInstance, ProcessVersion, UserTask
from engine.models.processes import approvals_words
from engine.vocabulary import InvoiceStatus, RequestStatus, Screen, UserTaskState

from .deciding import decidable_steps_bound, done_by_pattern, not_done_by, open_step
from .search import invoice_matches, number_condition, number_filter

# Financial Approval's Approval Status filter; Approved also lists requests whose invoice was then cancelled.
# Financial Approval's status filter: each request status, and all of them (Approved lists completed ones too).
ALL = "all"
APPROVAL_STATUSES = (
    RequestStatus.REQUESTED,
    RequestStatus.APPROVED,
    RequestStatus.REJECTED,
    RequestStatus.WITHDRAWN,
    RequestStatus.TERMINATED,
    RequestStatus.COMPLETED,
    ALL,
)
MAX_PER_PAGE = 100


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):  # noqa: UP046 - Python 3.11 has no `class Page[T]`
    """One page of a list, for pages and API alike."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def paginate(
    session: Session,
    query: Select,
    page: int,
    per_page: int,
    counted: Select | None = None,
    total: Select | None = None,
    params: dict | None = None,
) -> Page:
    """A page of the query's rows; `counted` is an equivalent query that is cheaper to count, if any; `total` a
    statement that counts them (cheaper still); `params` the values the statements bind. A first page that is
    not full is all there is: not counted."""
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    first = None
    if page <= 1:
        first = list(session.scalars(query.limit(per_page), params).unique())
        if len(first) < per_page:
            return Page(first, len(first), 1, per_page)
    if total is None:
        counted = (counted if counted is not None else query).order_by(None)
        total = select(func.count()).select_from(counted.with_only_columns(literal(1)).subquery())
    total = session.scalar(total, params) or 0
    last = max(1, -(-total // per_page))
    page = min(max(page, 1), last)
    if page == 1 and first is not None:
        return Page(first, total, page, per_page)
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page), params).unique())
    return Page(items, total, page, per_page)


@dataclass(frozen=True)
class InvoiceFilters:
    """The invoice list's search, filters and order, as the URL carries them (so they survive a round trip)."""

    q: str = ""
    status: str | None = None  # open | cancelled
    approval: str | None = None  # requested | approved | rejected | terminated | none
    sort: str = "-date"

    SORTS = {
        "-date": "Date, newest first",
        "date": "Date, oldest first",
        "number": "Invoice No.",
        "-amount": "Amount, largest first",
        "amount": "Amount, smallest first",
    }
    APPROVALS = {
        "requested": "Requested",
        "approved": "Approved",
        "rejected": "Rejected",
        "terminated": "Terminated",
        "withdrawn": "Withdrawn",
        "none": "None (never requested)",
    }

    @classmethod
    def parse(cls, args) -> InvoiceFilters:
        """From request arguments; Invalid names a wrong one and what it may be."""
        status, approval = args.get("status") or None, args.get("approval") or None
        sort = args.get("sort") or "-date"
        errors = {}
        if status is not None and status not in set(InvoiceStatus):
            errors["status"] = "Invoice status must be open or cancelled."
        if approval is not None and approval not in cls.APPROVALS:
            errors["approval"] = f"Approval Status must be one of: {', '.join(cls.APPROVALS.values())}."
        if sort not in cls.SORTS:
            errors["sort"] = f"Sort by one of: {', '.join(cls.SORTS.values())}."
        if errors:
            raise Invalid(errors)
        return cls((args.get("q") or "").strip(), status, approval, sort)

    def args(self) -> dict:
        """Only what differs from the defaults, for links."""
        found = {"q": self.q, "status": self.status, "approval": self.approval}
        found = {k: v for k, v in found.items() if v}
        return found | ({"sort": self.sort} if self.sort != "-date" else {})


_APPROVAL_MATCH = {
    "requested": (RequestStatus.REQUESTED,),
    "approved": (RequestStatus.APPROVED, RequestStatus.COMPLETED),
    "rejected": (RequestStatus.REJECTED,),
    "terminated": (RequestStatus.TERMINATED,),
    "withdrawn": (RequestStatus.WITHDRAWN,),
}
_ORDER = {
    "-date": (Invoice.invoice_date.desc(), Invoice.number.desc()),
    "date": (Invoice.invoice_date.asc(), Invoice.number.asc()),
    "number": (Invoice.number.asc(),),
    "-amount": (Invoice.amount.desc(), Invoice.number.asc()),
    "amount": (Invoice.amount.asc(), Invoice.number.asc()),
}


def list_invoices(
    session: Session,
    actor: Actor,
    q: str = "",
    status: str | None = None,
    page: int = 1,
    per_page: int = 20,
    filters: InvoiceFilters | None = None,
) -> Page:
    """The clinic's invoices, newest first unless `filters` orders them otherwise; `q` matches invoice number,
    patient name or patient id; `filters` adds the invoice and approval status."""
    filters = filters or InvoiceFilters(q or "", status)
    query = select(Invoice).where(Invoice.clinic_id == actor.clinic_id)
    if filters.q.strip():
        query = query.where(invoice_matches(filters.q, session.get_bind().dialect.name))
    if filters.status:
        query = query.where(Invoice.status == filters.status)
    if filters.approval == "none":
        query = query.where(Invoice.approval_status.is_(None))
    elif filters.approval:
        query = query.where(Invoice.approval_status.in_(_APPROVAL_MATCH[filters.approval]))
    query = query.order_by(*_ORDER[filters.sort])
    return paginate(session, query, page, per_page)


def has_approval_status(session: Session, actor: Actor) -> bool:
    """Whether an invoice of the actor's clinic has an approval status (the invoice list shows the column from then
    on). An invoice gets one only through a cancellation request, so the clinic's requests (indexed) lead: a clinic
    that never requested a cancellation answers at once, without reading its invoices."""
    r = CancellationRequest
    with_status = (
        select(r.id)
        .join(Invoice, Invoice.id == r.invoice_id)
        .where(r.clinic_id == actor.clinic_id, Invoice.approval_status.is_not(None))
    )
    return bool(session.scalar(select(with_status.exists())))


def parse_day(value: str | None, label: str, field: str, locale: str | None = None) -> date | None:
    """A date field: as the clinic's locale writes a day (engine.reads.days) or ISO 8601; Invalid names the field."""
    if not value:
        return None
    day = days.parse_day(value, locale)
    if day is None:
        example = days.format_day(date(2026, 12, 31), locale)
        raise Invalid({field: f"{label} must be a date written as {days.day_hint(locale)}, e.g. {example}."})
    if not 1900 <= day.year <= 9998:
        raise Invalid({field: f"{label} must be a date between 1900 and 9998."})
    return day


def day_bounds_utc(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants where a calendar day of the clinic's time zone starts and ends."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


@dataclass(frozen=True)
class ApprovalRow:
    request: CancellationRequest
    review_task_id: int | None  # the ready Financial Approval task, if any
    awaiting: str | None = None  # the lane of that task, e.g. "Clinic administrator"
    version: ProcessVersion | None = None  # the version its instance runs (its forms name the reasons)


def approval_queue(
    session: Session,
    actor: Actor,
    status: str = RequestStatus.REQUESTED,
    date_from: date | None = None,
    date_to: date | None = None,
    number: str = "",
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Financial Approval: the clinic's requests by approval status and request date, oldest first."""
    require(actor, Permission.DECIDE)
    if status not in APPROVAL_STATUSES:
        choices = ", ".join(s.capitalize() for s in APPROVAL_STATUSES if s != RequestStatus.COMPLETED)
        raise Invalid({"status": f"Approval Status must be one of: {choices}."})
    if date_from and date_to and date_from > date_to:
        raise Invalid({"to": "To must be on or after From."})
    statuses = (RequestStatus.APPROVED, RequestStatus.COMPLETED) if status == RequestStatus.APPROVED else (status,)
    params = {"clinic_id": actor.clinic_id, "statuses": list(statuses), "not_done_by": done_by_pattern(actor)}
    if date_from:
        params["date_from"] = day_bounds_utc(date_from, actor.timezone)[0]
    if date_to:
        params["date_to"] = day_bounds_utc(date_to, actor.timezone)[1]
    number_kind = None
    if number.strip():
        number_kind, params["number"] = number_filter(number, session.get_bind().dialect.name)
    roles = tuple(sorted(actor.roles))
    page_ids, counted = _queue_statements(status, bool(date_from), bool(date_to), number_kind, roles)
    total = None
    if status == RequestStatus.REQUESTED and not (date_from or date_to or number_kind):
        total = decidable_steps_bound(roles)  # without filters, counted from the index of the clinic's ready steps
    result = paginate(session, page_ids, page, per_page, counted, total, params)
    items: dict[int, ApprovalRow] = {}
    if result.items:
        for request, task_id, lane, version in session.execute(_ON_PAGE, {"ids": result.items}):
            if request.id not in items or task_id is not None:
                items[request.id] = ApprovalRow(request, task_id, lane, version)
    return Page(list(items.values()), result.total, result.page, result.per_page)


# The user_tasks aliases of the queue's conditions, made once: an alias built per call costs more than the query
# it serves (SQLAlchemy proxies every column of the table).
_WAITING_STEP = aliased(UserTask, name="waiting_step")
_JOINED_STEP = aliased(UserTask, name="joined_step")
_DECISION = aliased(UserTask, name="decision")

# The page's requests, each with the decision it waits on and the version its instance runs (one statement,
# built once).
_ON_PAGE = (
    select(CancellationRequest, _DECISION.id, _DECISION.lane, ProcessVersion)
    .join(ProcessInstance, ProcessInstance.id == CancellationRequest.instance_id)
    .join(ProcessVersion, ProcessVersion.id == ProcessInstance.process_version_id)
    .outerjoin(
        _DECISION,
        (_DECISION.instance_id == CancellationRequest.instance_id)
        & (_DECISION.state == UserTaskState.READY)
        & (_DECISION.screen == Screen.FINANCIAL_APPROVAL),
    )
    .where(CancellationRequest.id.in_(bindparam("ids", expanding=True)))
    .order_by(CancellationRequest.requested_at, CancellationRequest.id)
)


@functools.lru_cache(maxsize=256)
def _queue_statements(
    status: str, dated_from: bool, dated_to: bool, number_kind: str | None, roles: tuple[str, ...]
) -> tuple[Select, Select]:
    """Financial Approval's statements for one shape of filters, built once (building and keying them cost more
    than running them), their values bound: clinic_id, statuses, date_from, date_to, number, not_done_by.

    Returns the page's ids in date order and the same requests as counted. Waiting requests are counted from the
    clinic's ready steps (an index); the page walks the requests in date order and stops once it has enough.
    The ids come first, then the page's requests with their invoice and people: the planner cannot misjudge the
    filters into joining every waiting request before it sorts (PostgreSQL's first, custom plans did)."""
    query = select(CancellationRequest).where(CancellationRequest.clinic_id == bindparam("clinic_id"))
    if status != ALL:
        query = query.where(CancellationRequest.status.in_(bindparam("statuses", expanding=True)))
    if dated_from:
        query = query.where(CancellationRequest.requested_at >= bindparam("date_from"))
    if dated_to:
        query = query.where(CancellationRequest.requested_at < bindparam("date_to"))
    if number_kind:
        query = query.join(Invoice, Invoice.id == CancellationRequest.invoice_id).where(number_condition(number_kind))
    counted = query
    if status == RequestStatus.REQUESTED:
        waiting, joined = _WAITING_STEP, _JOINED_STEP
        counted = query.join(joined, joined.instance_id == CancellationRequest.instance_id).where(
            joined.clinic_id == bindparam("clinic_id"),
            *open_step(roles, joined),
            not_done_by(bindparam("not_done_by"), joined),
        )
        waits = select(waiting.instance_id).where(
            waiting.instance_id == CancellationRequest.instance_id,
            *open_step(roles, waiting),
            not_done_by(bindparam("not_done_by"), waiting),
        )
        query = query.where(waits.exists())
    order = (CancellationRequest.requested_at, CancellationRequest.id)
    return query.with_only_columns(CancellationRequest.id).order_by(*order), counted


def awaiting_approval(session: Session, invoice_ids: list[int]) -> dict[int, str]:
    """For invoices whose request waits on a Financial Approval step: the lane it waits on."""
    if not invoice_ids:
        return {}
    r = CancellationRequest
    rows = session.execute(
        select(UserTask.invoice_id, UserTask.lane, r.status, r.approvals_needed, r.approvals_left, r.approval_path)
        .outerjoin(r, r.instance_id == UserTask.instance_id)
        .where(
            UserTask.invoice_id.in_(invoice_ids),
            UserTask.state == UserTaskState.READY,
            UserTask.screen == Screen.FINANCIAL_APPROVAL,
        )
    )
    return {invoice_id: awaiting_words(lane, status, needed, left, path) for invoice_id, lane, status, needed, left,
            path in rows}  # fmt: skip


def awaiting_words(lane: str | None, status: str | None, needed: int | None, left: int | None, path: str | None) -> str:
    """Whom a request waits on at a Financial Approval step of `lane`: "Approver (approval 2 of 2)"."""
    words = approvals_words(status, needed, left, path) if status else None
    if words and left is not None and needed is not None and left < needed:
        words = f"approval {needed - left + 1} of {needed}"  # the lane says who
    who = who_words(lane)  # "Approver or Clinic administrator", as the messages after SAVE say it
    return f"{who} ({words})" if words else who


REQUEST_STATUSES = tuple(RequestStatus)


def list_requests(session: Session, actor: Actor, status: str | None, page: int, per_page: int) -> Page:
    """The clinic's cancellation requests, oldest first, optionally of one status."""
    if status is not None and status not in REQUEST_STATUSES:
        raise Invalid({"status": f"status must be one of: {', '.join(REQUEST_STATUSES)}."})
    query = select(CancellationRequest).where(CancellationRequest.clinic_id == actor.clinic_id)
    if status:
        query = query.where(CancellationRequest.status == status)
    return paginate(session, query.order_by(CancellationRequest.requested_at, CancellationRequest.id), page, per_page)


def history(session: Session, actor: Actor, invoice: Invoice) -> list[AuditEvent]:
    """The invoice's cancellation history, oldest first."""
    if invoice.clinic_id != actor.clinic_id:
        raise NotFound("Invoice not found.")
    return list(session.scalars(select(AuditEvent).where(AuditEvent.invoice_id == invoice.id).order_by(AuditEvent.id)))
