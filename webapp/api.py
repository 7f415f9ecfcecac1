"""The JSON API for the EMR and other systems: the same engine use cases and rules as the pages.

Every error is `{"error": {"code", "message"}}`; state-changing calls accept an Idempotency-Key header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy.exc import IntegrityError

from engine.accounts import tokens
from engine.accounts.permissions import Permission, may, require
from engine.accounts.roles import Role
from engine.errors import DomainError, Invalid, TooManyAttempts, Unauthenticated
from engine.models import IdempotentResponse
from engine.reads import monitoring, offers, queries, representations
from engine.reads.instance_detail import get_instance
from engine.usecases import approval, cancellation, idempotency, invoices
from engine.workflow.forms import field_json

from .errors import status_of
from .openapi import openapi_document
from .plumbing import csrf, uow

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)
PUBLIC = {"api.create_token", "api.openapi"}


def error(status: int, code: str, message: str, **extra) -> Response:
    response = jsonify(error={"code": code, "message": message, **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    status = status_of(exc)
    extra = {"fields": exc.errors} if isinstance(exc, Invalid) else {}
    response = error(status, exc.code, exc.message, **extra)
    if isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@bp.before_request
def authenticate():
    if request.endpoint in PUBLIC:
        return None
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        return error(401, "unauthenticated", "Send Authorization: Bearer <token>; get a token with POST /api/tokens.")
    with uow(read_only=True) as session:
        g.actor, touch = tokens.actor_for_token(session, header[7:].strip())
    if touch is not None:
        with uow() as session:
            tokens.touch_key(session, touch)
    g.token = header[7:].strip()
    administration = (request.endpoint or "").startswith("api.admin_")  # the use cases check who may
    if (
        not may(g.actor, Permission.WORK_ON_INVOICES)
        and request.endpoint not in ANY_CLINIC_ACTOR
        and not administration
    ):
        if Role.INTEGRATION in g.actor.roles:
            return error(403, "forbidden", "API keys act for the clinic's billing system: this call is for its staff.")
        return error(403, "forbidden", "The API serves clinic users; analysts use the Processes page.")
    return None


# Calls every authenticated caller may make (staff, API keys): the rest need a staff role.
# Routes any clinic account may reach: the use case checks who may (the upsert and the feed: API keys).
ANY_CLINIC_ACTOR = {"api.revoke_token", "api.clinic", "api.upsert_invoice", "api.events"}


def body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise _BadRequest()
    return data


class _BadRequest(DomainError):
    code = "bad_request"

    def __init__(self):
        super().__init__("The body must be a JSON object, sent with Content-Type: application/json.")


def _int_arg(name: str, default: int, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < 1 or (maximum and int(raw) > maximum):
        limit = f" from 1 to {maximum}" if maximum else " of 1 or more"
        raise Invalid({name: f"{name} must be a whole number{limit}."})
    return int(raw)


def _page_args() -> tuple[int, int]:
    return _int_arg("page", 1, 1_000_000), _int_arg("per_page", 20, queries.MAX_PER_PAGE)


def _full_path() -> str:
    """The path with its query (`?clinic=2` names another clinic: a different request)."""
    return request.full_path.rstrip("?")


def idempotent(action: Callable[..., tuple[dict, int]]):
    """Run a state-changing action once per Idempotency-Key: a retry gets the first response back."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 200:
        raise Invalid({"Idempotency-Key": "An Idempotency-Key has at most 200 characters: use a shorter one."})
    actor = g.actor

    def stored():
        with uow(read_only=True) as session:
            return idempotency.find(session, actor.user_id, key)

    request_hash = idempotency.fingerprint(request.get_json(silent=True))

    def replay(found: IdempotentResponse):
        idempotency.check_same_request(found, request.method, _full_path(), request_hash)
        response = Response(found.body, status=found.status, mimetype="application/json")
        response.headers["Idempotent-Replayed"] = "true"
        return response

    if key and (found := stored()) is not None:
        return replay(found)
    try:
        with uow() as session:
            payload, status = action(session, actor)
            if key:
                stored_body = json.dumps(idempotency.without_secrets(payload))
                idempotency.remember(
                    session, actor.user_id, key, request.method, _full_path(), status, stored_body, request_hash
                )
    except (DomainError, IntegrityError):
        if key and (found := stored()) is not None:  # a simultaneous retry committed first
            return replay(found)
        raise
    return jsonify(payload), status


def _saved(payload: dict, outcome, status: int) -> tuple[dict, int]:
    """The answer to a SAVE: 202 with the incident when the input was saved but the next step failed."""
    if outcome.incident:
        return payload | {"incident": representations.incident_json(outcome.instance)}, 202
    return payload, status


# ---- tokens ---------------------------------------------------------------------------------------------------


@bp.post("/tokens")
def create_token():
    data = body()
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise Invalid({"username": "Send username and password as strings."})
    clinic = data.get("clinic")
    if clinic is not None and not isinstance(clinic, (str, int)):
        raise Invalid({"clinic": "Send clinic as its id or its name."})
    with uow() as session:  # a failure is recorded (throttling) and committed before the 401
        issued = tokens.issue(session, username, password, request.remote_addr or "", clinic)
    if issued is None:
        raise Unauthenticated(tokens.WRONG_CREDENTIALS)
    token, expires_at = issued
    return jsonify(token=token, expires_at=representations.iso(expires_at)), 201


@bp.get("/clinic")
def clinic():
    """The clinic the token or key acts in: what a billing system needs to send invoices in."""
    a = g.actor
    if a.clinic_id is None:
        return error(403, "forbidden", "This account works in no clinic.")
    return jsonify(
        id=a.clinic_id,
        name=a.clinic_name,
        cancellation_workflow=a.cancellation_mode,
        timezone=a.timezone,
        locale=a.locale,
        currency=a.currency,
    )


@bp.delete("/tokens/current")
def revoke_token():
    """A person's token ends here; an API key is the clinic administrator's to revoke."""
    if Role.INTEGRATION in g.actor.roles:
        return error(
            403,
            "forbidden",
            "An API key is revoked by a clinic administrator: Administration > Integrations, or "
            "DELETE /api/clinic/api-keys/{id}.",
        )
    with uow() as session:
        tokens.revoke(session, g.token)
    return "", 204


# ---- invoices ------------------------------------------------------------------------------------------------


def _invoice(session, number: str) -> dict:
    return _invoice_json(session, offers.get_invoice(session, g.actor, number))


def _invoice_json(session, found) -> dict:
    (item,) = representations.invoices_json(session, g.actor, [found])
    item["history"] = representations.history_json(session, found)
    return item


@bp.get("/invoices")
def list_invoices():
    filters = queries.InvoiceFilters.parse(request.args)
    page, per_page = _page_args()
    with uow(read_only=True) as session:
        result = queries.list_invoices(session, g.actor, page=page, per_page=per_page, filters=filters)
        items = representations.invoices_json(session, g.actor, result.items)
    return jsonify(items=items, total=result.total, page=result.page, per_page=result.per_page)


@bp.get("/invoices/<number>")
def get_invoice(number: str):
    with uow(read_only=True) as session:
        return jsonify(_invoice(session, number))


@bp.put("/invoices/<number>")
def upsert_invoice(number: str):
    """The billing system sends an invoice: 201 created, 200 updated or unchanged (then nothing is written)."""
    require(g.actor, Permission.SEND_INVOICES)
    data = body()
    with uow() as session:
        done = invoices.upsert_invoice(session, g.actor, number, data)
        payload = representations.invoice_data_json(session, done.invoice) | {
            "changed": sorted(done.changes) if not done.created else [],
        }
    return jsonify(payload), 201 if done.created else 200


@bp.post("/invoices/<number>/cancellation-requests")
def create_request(number: str):
    data = body()

    def action(session, actor):
        outcome = cancellation.request_cancellation(session, actor, number, data)
        session.flush()
        request = representations.latest_request(session, outcome.invoice)
        if request is None or request.instance_id != outcome.instance.id:
            # the step that records the request failed: what was saved is the invoice's cancellation, stopped
            return _saved(_invoice_json(session, outcome.invoice), outcome, 201)
        return _saved(representations.request_json(session, request, outcome.instance), outcome, 201)

    return idempotent(action)


@bp.post("/invoices/<number>/cancel")
def cancel(number: str):
    data = body()

    def action(session, actor):
        outcome = cancellation.cancel_invoice(session, actor, number, data)
        session.flush()
        return _saved(_invoice_json(session, outcome.invoice), outcome, 200)

    return idempotent(action)


@bp.post("/invoices/<number>/undo-cancel")
def undo_cancel(number: str):
    data = body()

    def action(session, actor):
        outcome = cancellation.undo_cancel(session, actor, number, data)
        session.flush()
        return _saved(_invoice_json(session, outcome.invoice), outcome, 200)

    return idempotent(action)


# ---- cancellation requests ----------------------------------------------------------------------------------


@bp.get("/cancellation-requests")
def list_requests():
    page, per_page = _page_args()
    with uow(read_only=True) as session:
        result = queries.list_requests(session, g.actor, request.args.get("status") or None, page, per_page)
        items = [representations.request_json(session, r) for r in result.items]
    return jsonify(items=items, total=result.total, page=result.page, per_page=result.per_page)


@bp.get("/cancellation-requests/form")
def request_form():
    with uow(read_only=True) as session:
        form = offers.request_form(session, g.actor)
    return jsonify(task=form.title, fields=[field_json(f) for f in form.fields])


@bp.post("/cancellation-requests/<id:request_id>/withdraw")
def withdraw_request(request_id: int):
    data = body()

    def action(session, actor):
        outcome = approval.withdraw(session, actor, request_id, data)
        session.flush()
        request = approval.get_request(session, actor, request_id)
        return _saved(representations.request_json(session, request, outcome.instance), outcome, 200)

    return idempotent(action)


@bp.get("/cancellation-requests/<id:request_id>")
def get_request(request_id: int):
    with uow(read_only=True) as session:
        found = approval.get_request(session, g.actor, request_id)
        return jsonify(representations.request_json(session, found))


@bp.get("/cancellation-requests/<id:request_id>/decision/form")
def decision_form(request_id: int):
    with uow(read_only=True) as session:
        form, step = approval.decision_form(session, g.actor, request_id)
        found = approval.get_request(session, g.actor, request_id)
        may_decide, _refusal = approval.review_form(session, g.actor, found)
        warnings = approval.decision_warnings(session, g.actor, found) if may_decide else []
    fields = [field_json(f) for f in form.fields]
    return jsonify(task=form.title, step_id=step.id, fields=fields, warnings=warnings)


@bp.post("/cancellation-requests/<id:request_id>/decision")
def decide(request_id: int):
    data = body()
    step = data.get("step_id")
    if step is not None and (not isinstance(step, int) or isinstance(step, bool) or not 0 < step < 2**31):
        raise Invalid({"step_id": "step_id must be the whole number given by the decision form."})

    def action(session, actor):
        outcome = approval.decide(session, actor, request_id, data, step)
        session.flush()
        found = approval.get_request(session, actor, request_id)
        session.refresh(found)  # who decided: the relationship follows the id set during the action
        return _saved(representations.request_json(session, found, outcome.instance), outcome, 200)

    return idempotent(action)


# ---- process instances (admins) -----------------------------------------------------------------------------


def _instance_json(row) -> dict:
    return {
        "id": row.id,
        "process_id": row.process_id,
        "process_version": row.version,
        "business_key": row.business_key,
        "invoice_number": row.invoice_number,
        "status": row.status,
        "waiting_for": row.waiting_for or None,
        "started_by": row.started_by_username,
        "started_at": representations.iso(row.started_at),
    }


@bp.get("/process-instances")
def list_instances():
    status = request.args.get("status", "")
    page, per_page = _page_args()
    filters = monitoring.InstanceFilters(status=status, process_id=request.args.get("process_id", ""))
    with uow(read_only=True) as session:
        result = monitoring.list_instances(session, g.actor, filters, page, per_page)
        items = [_instance_json(r) for r in result.items]
    return jsonify(items=items, total=result.total, page=result.page, per_page=result.per_page)


@bp.get("/process-instances/<id:instance_id>")
def get_process_instance(instance_id: int):
    with uow(read_only=True) as session:
        return jsonify(representations.instance_json(session, get_instance(session, g.actor, instance_id)))


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
