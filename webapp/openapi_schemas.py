"""The schemas of the API's resources, for its OpenAPI document (webapp/openapi.py)."""

from __future__ import annotations

from engine.vocabulary import InstanceStatus, InvoiceStatus, Outcome, RequestStatus

NULLABLE_STRING = {"type": ["string", "null"]}
DATE_TIME = {"type": "string", "format": "date-time"}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(name: str) -> dict:
    return {"anyOf": [ref(name), {"type": "null"}]}


def _page(item: str) -> dict:
    return {
        "type": "object",
        "required": ["items", "total", "page", "per_page"],
        "properties": {
            "items": {"type": "array", "items": ref(item)},
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
        },
    }


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
        "properties": {
            "username": {"type": "string"},
            "password": {"type": "string"},
            "clinic": {
                "oneOf": [{"type": "string"}, {"type": "integer"}],
                "description": "The clinic the token acts in (id or name): needed when the person works in several",
            },
        },
    },
    "Clinic": {
        "type": "object",
        "required": ["id", "name", "cancellation_workflow", "timezone", "locale", "currency"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "cancellation_workflow": {"enum": ["approval", "direct"]},
            "timezone": {"type": "string", "description": "IANA time zone, e.g. America/New_York"},
            "locale": {"type": "string", "description": "e.g. en_US"},
            "currency": {"type": "string", "description": "ISO 4217 code"},
        },
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
            "fields": {"type": "array", "items": ref("FormField")},
            "warnings": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Choices after which the next step could be taken by no one (read them before deciding)",
            },
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
            "kind": {"enum": ["cancel", "undo"], "description": "Cancel the invoice, or undo its cancellation"},
            "status": {"enum": [str(s) for s in RequestStatus]},
            "reason": {"type": "string"},
            "remarks": {"type": "string"},
            "requested_by": {"type": "string"},
            "requested_at": DATE_TIME,
            "waiting_for": _nullable("WaitingFor"),
            "decision": _nullable("Decision"),
            "approvals": {"type": "array", "items": ref("Approval")},
            "approvals_needed": {
                "type": ["integer", "null"],
                "description": "How many decisions the request needs, as the clinic's approval policy decided when "
                "it first waited for one (null before that, and for a clinic without approvals)",
            },
            "approvals_left": {"type": ["integer", "null"], "description": "Decisions still to take"},
            "approval_path": {
                **NULLABLE_STRING,
                "description": "Who takes the decisions ahead, from the diagram's lanes, e.g. "
                "'Approver or Clinic administrator, then Clinic administrator'",
            },
            "process_instance_id": {"type": "integer"},
            "outcome": {
                "enum": [*(str(o) for o in Outcome), None],
                "description": "How the cancellation's process ended (null while it runs)",
            },
            "incident": ref("Incident"),
        },
    },
    "Incident": {
        "type": "object",
        "description": "The input was saved, but the step after it failed: the clinic administrator follows it up.",
        "required": ["element", "message", "at"],
        "properties": {"element": NULLABLE_STRING, "message": {"type": "string"}, "at": DATE_TIME},
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
            "cancellation_blockers",
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
            "status": {"enum": [str(s) for s in InvoiceStatus]},
            "payment_status": {"enum": ["unpaid", "partially_paid", "paid"]},
            "insurance_claim_status": {"enum": ["none", "submitted", "accepted"]},
            "advance_applied": {"type": "string", "pattern": r"^\d+\.\d{2}$"},
            "cancellation_blockers": ref("CancellationBlockers"),
            "cancellation_request": _nullable("CancellationRequest"),
            "allowed_actions": {
                "type": "array",
                "items": {"enum": ["request_cancellation", "cancel", "undo_cancel"]},
            },
            "history": {"type": "array", "items": ref("HistoryEntry")},
            "incident": ref("Incident"),
        },
    },
    "CancellationBlockers": {
        "type": "object",
        "description": (
            "What processes/cancellation_blockers.dmn says of the invoice as last sent: stored when the invoice is "
            "written and when a new table is deployed. Requesting or cancelling a blocked invoice is refused (409, "
            "code blocked) with the same message."
        ),
        "required": ["blocked", "message", "decided_by"],
        "properties": {
            "blocked": {"type": "boolean"},
            "message": {"type": ["string", "null"], "description": "What to do before cancelling, when blocked"},
            "decided_by": {
                "description": "The process version whose table decided (null until the invoice is first checked)",
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["process", "version"],
                        "properties": {"process": {"type": "string"}, "version": {"type": "integer"}},
                    },
                ],
            },
        },
    },
    "InvoicePage": _page("Invoice"),
    "InvoiceFromBilling": {
        "type": "object",
        "required": ["patient_id", "patient_name", "invoice_date", "amount", "currency"],
        "properties": {
            "patient_id": {"type": "string", "maxLength": 40},
            "patient_name": {"type": "string", "maxLength": 200},
            "invoice_date": {"type": "string", "format": "date", "description": "A date in the clinic's time zone"},
            "amount": {"type": "string", "pattern": r"^\d{1,10}\.\d{2}$", "description": "Exact, two places"},
            "currency": {"type": "string", "description": "Must be the clinic's (GET /api/clinic)"},
            "payment_status": {"enum": ["unpaid", "partially_paid", "paid"], "default": "unpaid"},
            "insurance_claim_status": {"enum": ["none", "submitted", "accepted"], "default": "none"},
            "advance_applied": {"type": "string", "pattern": r"^\d{1,10}\.\d{2}$", "default": "0.00"},
        },
    },
    "InvoiceReceived": {
        "type": "object",
        "required": [
            "number",
            "patient_id",
            "patient_name",
            "invoice_date",
            "amount",
            "currency",
            "payment_status",
            "insurance_claim_status",
            "advance_applied",
            "status",
            "cancellation_blockers",
            "changed",
        ],  # fmt: skip
        "properties": {
            "number": {"type": "string"},
            "patient_id": {"type": "string"},
            "patient_name": {"type": "string"},
            "invoice_date": {"type": "string", "format": "date"},
            "amount": {"type": "string"},
            "currency": {"type": "string"},
            "payment_status": {"enum": ["unpaid", "partially_paid", "paid"]},
            "insurance_claim_status": {"enum": ["none", "submitted", "accepted"]},
            "advance_applied": {"type": "string"},
            "status": {"enum": [str(s) for s in InvoiceStatus]},
            "cancellation_blockers": ref("CancellationBlockers"),
            "changed": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The fields this call changed (empty when nothing changed or on creation)",
            },
        },
    },
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
            "status": {"enum": [str(s) for s in InstanceStatus]},
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
            "status": {"enum": [str(s) for s in InstanceStatus]},
            "incident": {"type": ["object", "null"]},
            "ready_tasks": {"type": "array", "items": ref("Task")},
            "completed_tasks": {"type": "array", "items": ref("Task")},
        },
    },
}
