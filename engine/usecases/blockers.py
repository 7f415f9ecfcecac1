"""The cancellation blockers' verdict kept on each open invoice, so that reads never evaluate the table.

`judge` stores it when invoices are written (the billing system's upsert, the CSV import, the demo);
`refresh_stale` brings every open invoice in line with the table its clinic runs now, after a deploy, a
rollback (Make latest), a clinic's change of workflow, or a database migration. Both use the decision table of
the clinic's latest process version, evaluated once per distinct (payment, claim, advance) facts.

The actions themselves (SAVE of a request, Cancel Invoice) do not rely on what is stored here: the diagram's
business rule task evaluates the table again inside the action's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from engine.accounts.users import clinic_process_id
from engine.models import Clinic, Invoice, ProcessVersion
from engine.reads.offers import latest_version
from engine.vocabulary import InvoiceStatus
from engine.workflow import blockers
from engine.workflow.blockers import Verdict
from engine.workflow.runtime import runtime_of

_log = logging.getLogger(__name__)

NO_ANSWER = (
    "The cancellation blockers table gives no answer for this invoice ({why}): a business analyst must fix "
    "cancellation_blockers.dmn before it can be cancelled."
)


class _Table:
    """One clinic's current table: its version and a verdict per distinct facts, computed once."""

    def __init__(self, session: Session, clinic: Clinic):
        self.version: ProcessVersion | None = latest_version(session, clinic_process_id(clinic))
        self.runtime = runtime_of(session) if self.version is not None else None  # nothing deployed: nothing to do
        self.loaded = self.runtime.spec_of(self.version) if self.runtime is not None else None
        self._verdicts: dict[tuple, Verdict] = {}

    def verdict(self, payment: str, claim: str, advance) -> Verdict:
        key = (payment, claim, advance)
        found = self._verdicts.get(key)
        if found is None:
            found = self._verdicts[key] = self._decide(payment, claim, advance)
        return found

    def _decide(self, payment: str, claim: str, advance) -> Verdict:
        if self.loaded is None or not self.loaded.blockers_task_name:
            return Verdict(False, None)
        spec = self.loaded.task_spec(self.loaded.blockers_task_name)
        facts = {"payment_status": payment, "claim_status": claim, "advance_applied": advance}
        try:
            return blockers.decide(spec, facts, self.runtime.script_engine(None))
        except Exception as exc:  # noqa: BLE001 - an unanswerable invoice is blocked until the table is fixed
            _log.warning("cancellation blockers failed for %s: %s", facts, exc)
            return Verdict(True, NO_ANSWER.format(why=str(exc).split("\n")[0]))


def judge(session: Session, invoices: Iterable[Invoice], tables: dict[int, _Table] | None = None) -> None:
    """Store each invoice's verdict (its clinic's current table). `tables` may be shared by calls of one action."""
    tables = {} if tables is None else tables
    for invoice in invoices:
        table = tables.get(invoice.clinic_id)
        if table is None:
            table = tables[invoice.clinic_id] = _Table(session, session.get(Clinic, invoice.clinic_id))
        if table.version is None:
            continue
        verdict = table.verdict(invoice.payment_status, invoice.claim_status, invoice.advance_applied)
        invoice.blocked, invoice.blocked_message = verdict.blocked, verdict.message
        invoice.blockers_version_id = table.version.id


def refresh_stale(session: Session, clinic_ids: Iterable[int] | None = None) -> int:
    """Judge again every open invoice whose verdict came from another table than its clinic's current one (or
    none yet); returns how many were updated. One UPDATE per distinct verdict, whatever the number of invoices.

    Workers starting together on PostgreSQL may both run it: their UPDATEs take the rows in the same order, so
    the second waits for the first and then finds nothing stale; an action holding an invoice's lock only delays
    that invoice's row.
    """
    query = select(Clinic)
    if clinic_ids is not None:
        query = query.where(Clinic.id.in_(list(clinic_ids)))
    updated = 0
    for clinic in session.scalars(query.order_by(Clinic.id)).all():
        table = _Table(session, clinic)
        if table.version is None:
            continue
        stale = and_(
            Invoice.clinic_id == clinic.id,
            Invoice.status == InvoiceStatus.OPEN,
            or_(Invoice.blockers_version_id.is_(None), Invoice.blockers_version_id != table.version.id),
        )
        if session.scalar(select(Invoice.id).where(stale).limit(1)) is None:
            continue
        facts = session.execute(
            select(Invoice.payment_status, Invoice.claim_status, Invoice.advance_applied)
            .where(stale)
            .distinct()
            .order_by(Invoice.payment_status, Invoice.claim_status, Invoice.advance_applied)
        ).all()
        by_verdict: dict[Verdict, list[tuple]] = {}
        for payment, claim, advance in facts:
            by_verdict.setdefault(table.verdict(payment, claim, advance), []).append((payment, claim, advance))
        for verdict, keys in by_verdict.items():
            for start in range(0, len(keys), 300):
                part = keys[start : start + 300]
                matches = or_(
                    *(
                        and_(Invoice.payment_status == p, Invoice.claim_status == c, Invoice.advance_applied == a)
                        for p, c, a in part
                    )
                )
                result = session.execute(
                    update(Invoice)
                    .where(stale, matches)
                    .values(
                        blocked=verdict.blocked,
                        blocked_message=verdict.message,
                        blockers_version_id=table.version.id,
                    )
                    .execution_options(synchronize_session=False)
                )
                updated += result.rowcount
    return updated
