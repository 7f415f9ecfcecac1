"""The administration part of the OpenAPI document (webapp/api_admin.py): merged into openapi.PATHS."""

from __future__ import annotations

from .openapi_parts import ID, IDEMPOTENCY, errors, json_body, op, param

CLINIC = param("clinic", "query", ID, "Installation administrators: the clinic whose users these are")
USER_ID = param("user_id", "path", ID, "The user id")
ROLE = {"enum": ["billing_staff", "approver", "admin"]}
DATE_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
DURATION = {"type": "string", "description": "ISO 8601 duration, e.g. P1D", "example": "P1D"}
SHOWN_ONCE = "Shown once: a replay with the same Idempotency-Key answers null (secrets are never stored)"

ADMIN_SCHEMAS = {
    "ClinicSettings": {
        "type": "object",
        "required": ["id", "name", "cancellation_workflow", "timezone", "locale", "currency"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "cancellation_workflow": {"enum": ["approval", "direct"]},
            "timezone": {"type": "string"},
            "locale": {"type": "string"},
            "currency": {"type": "string"},
            "reminder_after": DURATION,
            "escalate_after": DURATION,
        },
    },
    "ClinicSettingsChange": {
        "type": "object",
        "required": ["cancellation_workflow", "timezone", "locale", "currency"],
        "properties": {
            "cancellation_workflow": {"enum": ["approval", "direct"]},
            "timezone": {"type": "string", "description": "IANA, e.g. Europe/Zurich"},
            "locale": {"type": "string", "description": "e.g. de_CH"},
            "currency": {"type": "string", "description": "ISO 4217; fixed once the clinic has invoices"},
            "reminder_after": DURATION | {"description": "ISO 8601, default P1D; left out: unchanged"},
            "escalate_after": DURATION | {"description": "ISO 8601, default P3D, longer than reminder_after"},
        },
    },
    "NewClinic": {
        "type": "object",
        "required": ["name", "cancellation_workflow", "timezone", "locale", "currency", "admin"],
        "properties": {
            "name": {"type": "string"},
            "cancellation_workflow": {"enum": ["approval", "direct"]},
            "timezone": {"type": "string"},
            "locale": {"type": "string"},
            "currency": {"type": "string"},
            "admin": {
                "type": "object",
                "required": ["username"],
                "description": "An existing user (username only) or a new one (with full_name and email)",
                "properties": {
                    "username": {"type": "string"},
                    "full_name": {"type": "string"},
                    "email": {"type": "string"},
                },
            },
        },
    },
    "CreatedClinic": {
        "allOf": [
            {"$ref": "#/components/schemas/ClinicSettings"},
            {
                "type": "object",
                "required": ["admin_one_time_password"],
                "properties": {"admin_one_time_password": {"type": ["string", "null"], "description": SHOWN_ONCE}},
            },
        ]
    },
    "ClinicName": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
    "ClinicList": {
        "type": "object",
        "required": ["items", "total"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/ClinicSettings"}},
            "total": {"type": "integer"},
        },
    },
    "ClinicUser": {
        "type": "object",
        "required": ["id", "username", "full_name", "email", "active", "roles", "last_login_at"],
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "full_name": {"type": "string"},
            "email": {"type": ["string", "null"]},
            "active": {"type": "boolean"},
            "roles": {"type": "array", "items": ROLE},
            "last_login_at": DATE_TIME_OR_NULL,
        },
    },
    "NewClinicUser": {
        "type": "object",
        "required": ["username", "full_name", "email", "roles"],
        "properties": {
            "username": {"type": "string"},
            "full_name": {"type": "string"},
            "email": {"type": "string"},
            "roles": {"type": "array", "items": ROLE},
        },
    },
    "CreatedClinicUser": {
        "allOf": [
            {"$ref": "#/components/schemas/ClinicUser"},
            {
                "type": "object",
                "required": ["one_time_password"],
                "properties": {"one_time_password": {"type": ["string", "null"], "description": SHOWN_ONCE}},
            },
        ]
    },
    "ClinicUserChange": {
        "type": "object",
        "properties": {"roles": {"type": "array", "items": ROLE}, "active": {"type": "boolean"}},
    },
    "OneTimePassword": {
        "type": "object",
        "required": ["one_time_password"],
        "properties": {"one_time_password": {"type": ["string", "null"], "description": SHOWN_ONCE}},
    },
    "ClinicUserList": {
        "type": "object",
        "required": ["items", "total"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/ClinicUser"}},
            "total": {"type": "integer"},
        },
    },
    "ApiKey": {
        "type": "object",
        "required": ["id", "name", "account", "status", "created_at", "expires_at", "last_used_at"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "account": {"type": "string", "description": "The Integration service account the key acts as"},
            "status": {"enum": ["active", "expired", "revoked"]},
            "created_at": {"type": "string", "format": "date-time"},
            "expires_at": DATE_TIME_OR_NULL,
            "last_used_at": DATE_TIME_OR_NULL,
        },
    },
    "NewApiKey": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "expires_on": {"type": "string", "description": "YYYY-MM-DD; the key works until that day ends"},
        },
    },
    "CreatedApiKey": {
        "allOf": [
            {"$ref": "#/components/schemas/ApiKey"},
            {
                "type": "object",
                "required": ["key"],
                "properties": {"key": {"type": ["string", "null"], "description": SHOWN_ONCE}},
            },
        ]
    },
    "RevokedApiKey": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {"id": {"type": "integer"}, "status": {"const": "revoked"}},
    },
    "ApiKeyList": {
        "type": "object",
        "required": ["items", "total"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/ApiKey"}},
            "total": {"type": "integer"},
        },
    },
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


ADMIN_PATHS = {
    "/api/clinic/settings": {
        "get": op("The clinic's settings", {"200": json_body(_ref("ClinicSettings"), "Settings"), **errors(401, 403)}),
        "put": op(
            "Change the clinic's settings (audited)",
            {"200": json_body(_ref("ClinicSettings"), "Saved"), **errors(400, 401, 403, 422)},
            [IDEMPOTENCY],
            body="ClinicSettingsChange",
        ),
    },
    "/api/clinic/users": {
        "get": op(
            "The clinic's users",
            {"200": json_body(_ref("ClinicUserList"), "Users"), **errors(401, 403, 404, 422)},
            [CLINIC],
        ),
        "post": op(
            "Add a user (a one-time password, returned once)",
            {"201": json_body(_ref("CreatedClinicUser"), "Added"), **errors(400, 401, 403, 404, 422)},
            [CLINIC, IDEMPOTENCY],
            body="NewClinicUser",
        ),
    },
    "/api/clinic/users/{user_id}": {
        "get": op(
            "A user of the clinic",
            {"200": json_body(_ref("ClinicUser"), "The user"), **errors(401, 403, 404, 422)},
            [USER_ID, CLINIC],
        ),
        "patch": op(
            "Set a user's roles in the clinic, deactivate or reactivate them",
            {"200": json_body(_ref("ClinicUser"), "Changed"), **errors(400, 401, 403, 404, 422)},
            [USER_ID, CLINIC, IDEMPOTENCY],
            body="ClinicUserChange",
        ),
    },
    "/api/clinic/users/{user_id}/password": {
        "post": op(
            "A new one-time password for a user (their sessions and tokens end)",
            {"200": json_body(_ref("OneTimePassword"), "Reset"), **errors(401, 403, 404, 422)},
            [USER_ID, CLINIC, IDEMPOTENCY],
        )
    },
    "/api/clinic/api-keys": {
        "get": op("The clinic's API keys", {"200": json_body(_ref("ApiKeyList"), "Keys"), **errors(401, 403, 422)}),
        "post": op(
            "Create an API key (returned once)",
            {"201": json_body(_ref("CreatedApiKey"), "Created"), **errors(400, 401, 403, 422)},
            [IDEMPOTENCY],
            body="NewApiKey",
        ),
    },
    "/api/clinic/api-keys/{key_id}": {
        "delete": op(
            "Revoke an API key",
            {"200": json_body(_ref("RevokedApiKey"), "Revoked"), **errors(401, 403, 404, 422)},
            [param("key_id", "path", ID, "The API key id"), IDEMPOTENCY],
        )
    },
    "/api/clinics": {
        "get": op("The installation's clinics", {"200": json_body(_ref("ClinicList"), "Clinics"), **errors(401, 403)}),
        "post": op(
            "Create a clinic and its first clinic administrator",
            {"201": json_body(_ref("CreatedClinic"), "Created"), **errors(400, 401, 403, 422)},
            [IDEMPOTENCY],
            body="NewClinic",
        ),
    },
    "/api/clinics/{clinic_id}": {
        "patch": op(
            "Rename a clinic",
            {"200": json_body(_ref("ClinicSettings"), "Renamed"), **errors(400, 401, 403, 404, 422)},
            [param("clinic_id", "path", ID, "The clinic id"), IDEMPOTENCY],
            body="ClinicName",
        )
    },
}
