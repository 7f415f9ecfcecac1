"""The OpenAPI 3.1 document of /api. A test checks it names exactly the API's routes, and schemathesis checks
the live app's responses against it, so it cannot drift from the code."""

from __future__ import annotations

from functools import lru_cache

NULLABLE_STRING = {"type": ["string", "null"]}
DATE_TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(name: str) -> dict:
    return {"anyOf": [_ref(name), {"type": "null"}]}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    words = {
        400: "Malformed JSON or not an object",
        401: "Missing, expired, unknown or revoked token",
        403: "Not allowed for this role (or deciding one's own request)",
        404: "Unknown, or another clinic's",
        409: "Conflicts with the current state",
        422: "Invalid input; `error.fields` names each field",
    }
    return {str(c): _json(_ref("Error"), words[c]) for c in codes}


def _page(item: str) -> dict:
    return {
        "type": "object",
        "required": ["items", "total", "page", "per_page"],
        "properties": {
            "items": {"type": "array", "items": _ref(item)},
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
        },
    }


def _param(name: str, where: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema,
            "description": description}  # fmt: skip


PAGE_PARAMS = [
    _param("page", "query", {"type": "integer", "minimum": 1, "maximum": 1_000_000}, "Page number, from 1"),
    _param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 100}, "Items per page (at most 100)"),
]
NUMBER = _param("number", "path", {"type": "string"}, "The invoice number")
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
REQUEST_ID = _param("request_id", "path", ID, "The cancellation request id")
IDEMPOTENCY = _param(
    "Idempotency-Key",
    "header",
    {"type": "string", "maxLength": 200},
    "A retry with the same key returns the first answer",
)

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            }
        },
    },
    "TokenRequest": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
    },
    "Token": {
        "type": "object",
        "required": ["token", "expires_at"],
        "properties": {"token": {"type": "string"}, "expires_at": DATE_TIME},
    },
    "FormField": {
        "type": "object",
        "required": ["id", "label", "type", "required", "constraints", "enum_values"],
        "properties": {
            "id": {"type": "string"},
            "label": {"type": "string"},
            "type": {"enum": ["string", "long", "boolean", "date", "enum"]},
            "required": {"type": "boolean"},
            "constraints": {"type": "object"},
            "enum_values": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                },  # fmt: skip
            },
        },
    },
    "Form": {
        "type": "object",
        "required": ["task", "fields"],
        "properties": {
            "task": {"type": "string"},
            "step_id": {"type": "integer"},
            "fields": {"type": "array", "items": _ref("FormField")},
        },
    },
    "Approval": {
        "type": "object",
        "required": ["step", "decision", "remarks", "decided_by", "decided_at"],
        "properties": {
            "step": {"type": "string"},
            "decision": NULLABLE_STRING,
            "remarks": NULLABLE_STRING,
            "decided_by": NULLABLE_STRING,
            "decided_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Decision": {
        "type": "object",
        "required": ["decision", "remarks", "decided_by", "decided_at"],
        "properties": {
            "decision": {"enum": ["approve", "reject"]},
            "remarks": NULLABLE_STRING,
            "decided_by": NULLABLE_STRING,
            "decided_at": DATE_TIME,
        },
    },
    "WaitingFor": {
        "type": "object",
        "required": ["task", "role"],
        "properties": {"task": {"type": "string"}, "role": {"type": "string"}},
    },
    "CancellationRequest": {
        "type": "object",
        "required": [
            "id",
            "invoice_number",
            "status",
            "reason",
            "remarks",
            "requested_by",
            "requested_at",
            "waiting_for",
            "decision",
            "approvals",
            "process_instance_id",
        ],  # fmt: skip
        "properties": {
            "id": {"type": "integer"},
            "invoice_number": {"type": "string"},
            "status": {"enum": ["requested", "approved", "rejected", "completed", "terminated"]},
            "reason": {"type": "string"},
            "remarks": {"type": "string"},
            "requested_by": {"type": "string"},
            "requested_at": DATE_TIME,
            "waiting_for": _nullable("WaitingFor"),
            "decision": _nullable("Decision"),
            "approvals": {"type": "array", "items": _ref("Approval")},
            "process_instance_id": {"type": "integer"},
        },
    },
    "HistoryEntry": {
        "type": "object",
        "required": ["at", "by", "action", "details"],
        "properties": {
            "at": DATE_TIME,
            "by": NULLABLE_STRING,
            "action": {"type": "string"},
            "details": {"type": "object"},
        },
    },
    "Invoice": {
        "type": "object",
        "required": [
            "number",
            "patient_name",
            "patient_id",
            "invoice_date",
            "amount",
            "currency",
            "status",
            "cancellation_request",
            "allowed_actions",
        ],  # fmt: skip
        "properties": {
            "number": {"type": "string"},
            "patient_name": {"type": "string"},
            "patient_id": {"type": "string"},
            "invoice_date": {"type": "string", "format": "date"},
            "amount": {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "An exact decimal"},
            "currency": {"type": "string"},
            "status": {"enum": ["open", "cancelled"]},
            "cancellation_request": _nullable("CancellationRequest"),
            "allowed_actions": {"type": "array", "items": {"enum": ["request_cancellation", "cancel"]}},
            "history": {"type": "array", "items": _ref("HistoryEntry")},
        },
    },
    "InvoicePage": _page("Invoice"),
    "CancellationRequestPage": _page("CancellationRequest"),
    "FormBody": {
        "type": "object",
        "description": "The fields of the step's form (see its /form endpoint); `remarks` names the Remarks field.",
        "additionalProperties": True,
    },
    "DecisionBody": {
        "type": "object",
        "properties": {
            "decision": {"enum": ["approve", "reject"]},
            "remarks": {"type": "string"},
            "step_id": {
                "type": "integer",
                "minimum": 1,
                "maximum": 2**31 - 1,
                "description": "The step reviewed (from the decision form): 409 if someone decided it meanwhile",
            },
        },
        "additionalProperties": True,
    },
    "Task": {
        "type": "object",
        "required": ["id", "element_id", "name"],
        "properties": {
            "id": {"type": "integer"},
            "element_id": {"type": "string"},
            "name": {"type": "string"},
            "lane": NULLABLE_STRING,
            "since": DATE_TIME,
            "completed_by": NULLABLE_STRING,
            "completed_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "ProcessInstanceSummary": {
        "type": "object",
        "required": ["id", "process_id", "process_version", "business_key", "status"],
        "properties": {
            "id": {"type": "integer"},
            "process_id": {"type": "string"},
            "process_version": {"type": "integer"},
            "business_key": {"type": "string"},
            "invoice_number": {"type": "string"},
            "status": {"enum": ["running", "completed", "terminated", "incident"]},
            "waiting_for": NULLABLE_STRING,
            "started_by": {"type": "string"},
            "started_at": DATE_TIME,
        },
    },
    "ProcessInstancePage": _page("ProcessInstanceSummary"),
    "ProcessInstance": {
        "type": "object",
        "required": ["id", "process_id", "process_version", "business_key", "status", "ready_tasks", "completed_tasks"],
        "properties": {
            "id": {"type": "integer"},
            "process_id": {"type": "string"},
            "process_version": {"type": "integer"},
            "business_key": {"type": "string"},
            "invoice_number": {"type": "string"},
            "status": {"enum": ["running", "completed", "terminated", "incident"]},
            "incident": {"type": ["object", "null"]},
            "ready_tasks": {"type": "array", "items": _ref("Task")},
            "completed_tasks": {"type": "array", "items": _ref("Task")},
        },
    },
}


def _op(summary: str, responses: dict, params=(), body: str | None = None, public: bool = False) -> dict:
    op = {"summary": summary, "parameters": list(params), "responses": responses}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    if public:
        op["security"] = []
    return op


PATHS = {
    "/api/tokens": {
        "post": _op(
            "Get a bearer token",
            {"201": _json(_ref("Token"), "A token"), **_errors(400, 401, 422)},
            body="TokenRequest",
            public=True,
        )
    },
    "/api/tokens/current": {
        "delete": _op("Revoke the token of this call", {"204": {"description": "Revoked"}, **_errors(401)})
    },
    "/api/invoices": {
        "get": _op(
            "The clinic's invoices",
            {"200": _json(_ref("InvoicePage"), "A page of invoices"), **_errors(401, 403, 422)},
            [
                _param("q", "query", {"type": "string"}, "Invoice number, patient name or patient id"),
                _param("status", "query", {"enum": ["open", "cancelled"]}, "Invoice status"),
                *PAGE_PARAMS,
            ],
        )
    },
    "/api/invoices/{number}": {
        "get": _op(
            "An invoice with its cancellation history",
            {"200": _json(_ref("Invoice"), "The invoice"), **_errors(401, 403, 404)},
            [NUMBER],
        )  # fmt: skip
    },
    "/api/invoices/{number}/cancellation-requests": {
        "post": _op(
            "Submit an Invoice Cancellation Request",
            {"201": _json(_ref("CancellationRequest"), "Requested"), **_errors(400, 401, 403, 404, 409, 422)},
            [NUMBER, IDEMPOTENCY],
            body="FormBody",
        )
    },
    "/api/invoices/{number}/cancel": {
        "post": _op(
            "Cancel Invoice",
            {"200": _json(_ref("Invoice"), "Cancelled"), **_errors(400, 401, 403, 404, 409, 422)},
            [NUMBER, IDEMPOTENCY],
            body="FormBody",
        )
    },
    "/api/cancellation-requests": {
        "get": _op(
            "The clinic's cancellation requests",
            {"200": _json(_ref("CancellationRequestPage"), "A page of requests"), **_errors(401, 403, 422)},
            [
                _param(
                    "status",
                    "query",
                    {"enum": ["requested", "approved", "rejected", "completed", "terminated"]},
                    "Request status",
                ),  # fmt: skip
                *PAGE_PARAMS,
            ],
        )
    },
    "/api/cancellation-requests/form": {
        "get": _op("The fields of the request form", {"200": _json(_ref("Form"), "The form"), **_errors(401, 403, 409)})
    },
    "/api/cancellation-requests/{request_id}": {
        "get": _op(
            "A cancellation request",
            {"200": _json(_ref("CancellationRequest"), "The request"), **_errors(401, 403, 404)},
            [REQUEST_ID],
        )
    },
    "/api/cancellation-requests/{request_id}/decision/form": {
        "get": _op(
            "The fields of the step the request waits on",
            {"200": _json(_ref("Form"), "The form"), **_errors(401, 403, 404, 409)},
            [REQUEST_ID],
        )
    },
    "/api/cancellation-requests/{request_id}/decision": {
        "post": _op(
            "Decide the step the request waits on",
            {"200": _json(_ref("CancellationRequest"), "Decided"), **_errors(400, 401, 403, 404, 409, 422)},
            [REQUEST_ID, IDEMPOTENCY],
            body="DecisionBody",
        )
    },
    "/api/process-instances": {
        "get": _op(
            "Process instances of the clinic (administrators)",
            {"200": _json(_ref("ProcessInstancePage"), "A page of instances"), **_errors(401, 403, 422)},
            [
                _param("status", "query", {"enum": ["running", "completed", "terminated", "incident"]}, "Status"),
                _param("process_id", "query", {"type": "string"}, "Process id"),
                *PAGE_PARAMS,
            ],
        )
    },
    "/api/process-instances/{instance_id}": {
        "get": _op(
            "A process instance (administrators)",
            {"200": _json(_ref("ProcessInstance"), "The instance"), **_errors(401, 403, 404)},
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
            "schemas": SCHEMAS,
        },
        "paths": PATHS,
    }
