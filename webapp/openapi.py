"""The OpenAPI 3.1 document of /api. A test checks it names exactly the API's routes, and schemathesis checks
the live app's responses against it, so it cannot drift from the code."""

from __future__ import annotations

from functools import lru_cache

from engine.vocabulary import InstanceStatus, InvoiceStatus, RequestStatus

from .openapi_admin import ADMIN_PATHS, ADMIN_SCHEMAS
from .openapi_events import EVENT_PATHS, EVENT_SCHEMAS
from .openapi_parts import ID, IDEMPOTENCY, errors, json_body, op, param
from .openapi_schemas import SCHEMAS, ref

_json, _errors, _param, _op = json_body, errors, param, op

PAGE_PARAMS = [
    _param("page", "query", {"type": "integer", "minimum": 1, "maximum": 1_000_000}, "Page number, from 1"),
    _param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 100}, "Items per page (at most 100)"),
]
NUMBER = _param("number", "path", {"type": "string"}, "The invoice number")
REQUEST_ID = _param("request_id", "path", ID, "The cancellation request id")


def _incident(*schemas: str) -> dict:
    """202: the input was saved but the next step failed; the body carries `incident`."""
    schema = ref(schemas[0]) if len(schemas) == 1 else {"anyOf": [ref(name) for name in schemas]}
    return {"202": _json(schema, "Saved, but the next step failed: see `incident`")}


PATHS = {
    "/api/tokens": {
        "post": _op(
            "Get a bearer token",
            {"201": _json(ref("Token"), "A token"), **_errors(400, 401, 422, 429)},
            body="TokenRequest",
            public=True,
        )
    },
    "/api/clinic": {
        "get": _op(
            "The clinic the token or API key acts in",
            {"200": _json(ref("Clinic"), "The clinic"), **_errors(401, 403)},
        )
    },
    "/api/tokens/current": {
        "delete": _op(
            "Revoke the token of this call (an API key is revoked by a clinic administrator)",
            {"204": {"description": "Revoked"}, **_errors(401, 403)},
        )
    },
    "/api/invoices": {
        "get": _op(
            "The clinic's invoices",
            {"200": _json(ref("InvoicePage"), "A page of invoices"), **_errors(401, 403, 422)},
            [
                _param("q", "query", {"type": "string"}, "Invoice number, patient name or patient id"),
                _param("status", "query", {"enum": [str(s) for s in InvoiceStatus]}, "Invoice status"),
                _param(
                    "approval",
                    "query",
                    {"enum": ["requested", "approved", "rejected", "terminated", "withdrawn", "none"]},
                    "Approval status (approved includes cancelled after approval; none: never requested)",
                ),
                _param(
                    "sort",
                    "query",
                    {"enum": ["-date", "date", "number", "-amount", "amount"]},
                    "Order (default -date: newest first)",
                ),
                *PAGE_PARAMS,
            ],
        )
    },
    "/api/invoices/{number}": {
        "get": _op(
            "An invoice with its cancellation history",
            {"200": _json(ref("Invoice"), "The invoice"), **_errors(401, 403, 404)},
            [NUMBER],
        ),  # fmt: skip
        "put": _op(
            "The billing system sends an invoice (an API key): created, updated, or unchanged if the same",
            {
                "200": _json(ref("InvoiceReceived"), "Updated, or unchanged (then nothing was written)"),
                "201": _json(ref("InvoiceReceived"), "Created"),
                **_errors(400, 401, 403, 409, 422),
            },
            [NUMBER],
            body="InvoiceFromBilling",
        ),
    },
    "/api/invoices/{number}/cancellation-requests": {
        "post": _op(
            "Submit an Invoice Cancellation Request",
            {
                "201": _json(ref("CancellationRequest"), "Requested"),
                **_incident("CancellationRequest", "Invoice"),  # Invoice: the step recording the request failed
                **_errors(400, 401, 403, 404, 409, 422),
            },
            [NUMBER, IDEMPOTENCY],
            body="FormBody",
        )
    },
    "/api/invoices/{number}/cancel": {
        "post": _op(
            "Cancel Invoice",
            {
                "200": _json(ref("Invoice"), "Cancelled"),
                **_incident("Invoice"),
                **_errors(400, 401, 403, 404, 409, 422),
            },
            [NUMBER, IDEMPOTENCY],
            body="FormBody",
        )
    },
    "/api/invoices/{number}/undo-cancel": {
        "post": _op(
            "Undo Cancel: the cancelled invoice opens again (approval clinics: after a clinic administrator approves)",
            {
                "200": _json(ref("Invoice"), "Undone, or waiting for approval (cancellation_request.kind: undo)"),
                **_incident("Invoice"),
                **_errors(400, 401, 403, 404, 409, 422),
            },
            [NUMBER, IDEMPOTENCY],
            body="FormBody",
        )
    },
    "/api/cancellation-requests/{request_id}/withdraw": {
        "post": _op(
            "Withdraw Request: the requester withdraws a request that waits for a decision (remarks required)",
            {
                "200": _json(ref("CancellationRequest"), "Withdrawn"),
                **_incident("CancellationRequest"),
                **_errors(400, 401, 403, 404, 409, 422),
            },
            [REQUEST_ID, IDEMPOTENCY],
            body="FormBody",
        )
    },
    "/api/cancellation-requests": {
        "get": _op(
            "The clinic's cancellation requests",
            {"200": _json(ref("CancellationRequestPage"), "A page of requests"), **_errors(401, 403, 422)},
            [
                _param(
                    "status",
                    "query",
                    {"enum": [str(s) for s in RequestStatus]},
                    "Request status",
                ),  # fmt: skip
                *PAGE_PARAMS,
            ],
        )
    },
    "/api/cancellation-requests/form": {
        "get": _op("The fields of the request form", {"200": _json(ref("Form"), "The form"), **_errors(401, 403, 409)})
    },
    "/api/cancellation-requests/{request_id}": {
        "get": _op(
            "A cancellation request",
            {"200": _json(ref("CancellationRequest"), "The request"), **_errors(401, 403, 404)},
            [REQUEST_ID],
        )
    },
    "/api/cancellation-requests/{request_id}/decision/form": {
        "get": _op(
            "The fields of the step the request waits on",
            {"200": _json(ref("Form"), "The form"), **_errors(401, 403, 404, 409)},
            [REQUEST_ID],
        )
    },
    "/api/cancellation-requests/{request_id}/decision": {
        "post": _op(
            "Decide the step the request waits on",
            {
                "200": _json(ref("CancellationRequest"), "Decided"),
                **_incident("CancellationRequest"),
                **_errors(400, 401, 403, 404, 409, 422),
            },
            [REQUEST_ID, IDEMPOTENCY],
            body="DecisionBody",
        )
    },
    "/api/process-instances": {
        "get": _op(
            "Process instances of the clinic (administrators)",
            {"200": _json(ref("ProcessInstancePage"), "A page of instances"), **_errors(401, 403, 422)},
            [
                _param("status", "query", {"enum": [str(s) for s in InstanceStatus]}, "Status"),
                _param("process_id", "query", {"type": "string"}, "Process id"),
                *PAGE_PARAMS,
            ],
        )
    },
    "/api/process-instances/{instance_id}": {
        "get": _op(
            "A process instance (administrators)",
            {"200": _json(ref("ProcessInstance"), "The instance"), **_errors(401, 403, 404)},
            [_param("instance_id", "path", ID, "The instance id")],
        )
    },
    "/api/openapi.json": {
        "get": _op(
            "This document", {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}, public=True
        )  # fmt: skip
    },
}


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Invoice cancellation API",
            "version": "1.0.0",
            "description": "Everything billing staff and approvers do in the browser, for the clinic's EMR and "
            'billing system. Errors are always `{"error": {"code", "message"}}`.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS | ADMIN_SCHEMAS | EVENT_SCHEMAS,
        },
        "paths": PATHS | ADMIN_PATHS | EVENT_PATHS,
    }
