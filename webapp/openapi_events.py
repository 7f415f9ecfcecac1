"""The events part of the OpenAPI document (webapp/api_events.py): merged into openapi.PATHS."""

from __future__ import annotations

from engine.vocabulary import EventType

from .openapi_parts import ID, IDEMPOTENCY, errors, json_body, op, param
from .openapi_schemas import ref

DATE_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
STATUS = {"enum": ["pending", "delivered", "failed", "skipped"]}
DELIVERY_ID = param("delivery_id", "path", ID, "The delivery id")

EVENT_SCHEMAS = {
    "CloudEvent": {
        "type": "object",
        "description": "CloudEvents 1.0, JSON format (also the body of each webhook delivery)",
        "required": ["specversion", "id", "source", "type", "subject", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "description": "Unique; the same on every delivery attempt (webhook-id)"},
            "source": {"type": "string", "description": "/clinics/{id}"},
            "type": {"enum": [t.cloudevent_type for t in EventType]},
            "subject": {"type": "string", "description": "The invoice number"},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "data": {
                "type": "object",
                "description": "The invoice, the request (or null), who acted (by) and their remarks",
                "required": ["invoice", "request", "by", "remarks"],
            },
        },
    },
    "EventPage": {
        "type": "object",
        "required": ["events", "cursor"],
        "properties": {
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["position", "event"],
                    "properties": {"position": {"type": "integer"}, "event": ref("CloudEvent")},
                },
            },
            "cursor": {"type": "string", "description": "Send as `after` to get the next events"},
        },
    },
    "Webhook": {
        "type": "object",
        "required": ["url", "has_secret", "old_secret_valid_until", "deliveries"],
        "properties": {
            "url": {"type": ["string", "null"]},
            "has_secret": {"type": "boolean"},
            "old_secret_valid_until": DATE_TIME_OR_NULL,
            "deliveries": {"type": "object", "additionalProperties": {"type": "integer"}},
            "message": {"type": "string"},
            "secret": {
                "type": ["string", "null"],
                "description": "The Standard Webhooks signing secret (whsec_…): shown once, when it is made",
            },
        },
    },
    "WebhookUrl": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}},
    "Delivery": {
        "type": "object",
        "required": ["id", "event_id", "type", "position", "url", "status", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "event_id": {"type": "string"},
            "type": {"type": "string"},
            "position": {"type": "integer"},
            "url": {"type": "string"},
            "status": STATUS,
            "attempts": {"type": "integer"},
            "created_at": DATE_TIME_OR_NULL,
            "next_attempt_at": DATE_TIME_OR_NULL,
            "last_attempt_at": DATE_TIME_OR_NULL,
            "last_response": {"type": ["string", "null"]},
            "delivered_at": DATE_TIME_OR_NULL,
        },
    },
    "DeliveryList": {
        "type": "object",
        "required": ["items", "page"],
        "properties": {"items": {"type": "array", "items": ref("Delivery")}, "page": {"type": "integer"}},
    },
    "DeliveryChange": {
        "type": "object",
        "required": ["message", "id", "status"],
        "properties": {"message": {"type": "string"}, "id": {"type": "integer"}, "status": STATUS},
    },
}

EVENT_PATHS = {
    "/api/events": {
        "get": op(
            "The clinic's events after a cursor, in commit order (an Integration API key polls here)",
            {"200": json_body(ref("EventPage"), "Events"), **errors(401, 403, 422)},
            [
                param("after", "query", {"type": "string"}, "The cursor of the last page (none or 0: from the start)"),
                param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500}, "At most this many"),
            ],
        )
    },
    "/api/clinic/webhook": {
        "get": op("The clinic's webhook", {"200": json_body(ref("Webhook"), "Webhook"), **errors(401, 403)}),
        "put": op(
            "Set the webhook URL (the first time, the signing secret is answered once)",
            {"200": json_body(ref("Webhook"), "Set"), **errors(400, 401, 403, 422)},
            [IDEMPOTENCY],
            body="WebhookUrl",
        ),
        "delete": op(
            "Remove the webhook (pending deliveries are skipped; the feed keeps every event)",
            {"200": json_body(ref("Webhook"), "Removed"), **errors(400, 401, 403, 422)},
            [IDEMPOTENCY],
        ),
    },
    "/api/clinic/webhook/secret": {
        "post": op(
            "Rotate the signing secret (answered once; the old one also signs for 24 hours)",
            {"200": json_body(ref("Webhook"), "Rotated"), **errors(400, 401, 403, 409, 422)},
            [IDEMPOTENCY],
        )
    },
    "/api/clinic/webhook/deliveries": {
        "get": op(
            "The webhook's deliveries, newest first",
            {"200": json_body(ref("DeliveryList"), "Deliveries"), **errors(401, 403, 422)},
            [
                param("status", "query", STATUS, "Only deliveries with this status"),
                param("page", "query", ID, "Page (50 per page)"),
            ],
        )
    },
    "/api/clinic/webhook/deliveries/{delivery_id}/redeliver": {
        "post": op(
            "Send the event again now (retried for another 24 hours, same event id)",
            {"200": json_body(ref("DeliveryChange"), "Pending again"), **errors(400, 401, 403, 404, 409, 422)},
            [DELIVERY_ID, IDEMPOTENCY],
        )
    },
    "/api/clinic/webhook/deliveries/{delivery_id}/skip": {
        "post": op(
            "Give up on a pending or failed delivery: the invoice's later events go out",
            {"200": json_body(ref("DeliveryChange"), "Skipped"), **errors(400, 401, 403, 404, 409, 422)},
            [DELIVERY_ID, IDEMPOTENCY],
        )
    },
}
