"""The cancellation use cases the pages and the API both call: request a cancellation, cancel an invoice.

Every function takes the session of the caller's unit of work: the workflow state, the task rows, the invoice
and request status and the audit event of one user action commit together or not at all.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.accounts.users import Actor
from engine.errors import Conflict
from engine.reads.offers import CANCEL_STEP, REQUEST_STEP, UNDO_STEP, clinic_process, clinic_processes, process_for
from engine.vocabulary import InvoiceStatus
from engine.workflow.forms import with_aliases
from engine.workflow.runtime import runtime_of

from .steps import Outcome, StepInput, complete_on, locked_invoice


def request_cancellation(session: Session, actor: Actor, number: str, body: dict) -> Outcome:
    """Submit an Invoice Cancellation Request (approval clinics); direct clinics cancel without one."""
    invoice = locked_invoice(session, actor, number)
    _version, loaded = clinic_process(session, actor)
    if runtime_of(session).first_user_task(loaded).name != REQUEST_STEP:
        raise Conflict(f"{actor.clinic_name} cancels invoices directly, without a request: cancel the invoice instead.")
    values = with_aliases(loaded.form(REQUEST_STEP), body)
    return complete_on(session, actor, invoice, StepInput(REQUEST_STEP, values))


def cancel_invoice(session: Session, actor: Actor, number: str, body: dict) -> Outcome:
    """Cancel Invoice: at once in a direct clinic, after approval in an approval clinic."""
    invoice = locked_invoice(session, actor, number)
    _version, loaded = clinic_process(session, actor)
    has_step = CANCEL_STEP in loaded.spec.task_specs
    values = with_aliases(loaded.form(CANCEL_STEP), body) if has_step else body
    return complete_on(session, actor, invoice, StepInput(CANCEL_STEP, values))


def undo_cancel(session: Session, actor: Actor, number: str, body: dict) -> Outcome:
    """Undo Cancel: the cancelled invoice opens again (at once in a direct clinic, after a clinic administrator's
    approval in an approval clinic), as the Undo Cancel process says."""
    invoice = locked_invoice(session, actor, number)
    if invoice.status != InvoiceStatus.CANCELLED:
        raise Conflict(f"Invoice {number} is not cancelled: there is nothing to undo.")
    found = process_for(clinic_processes(session, actor), runtime_of(session), invoice)
    if found is None or UNDO_STEP not in found[1].spec.task_specs:
        raise Conflict("No Undo Cancel process is deployed: ask a business analyst to deploy processes/.")
    values = with_aliases(found[1].form(UNDO_STEP), body)
    return complete_on(session, actor, invoice, StepInput(UNDO_STEP, values))
