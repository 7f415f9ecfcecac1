"""Building blocks of the OpenAPI document, shared by webapp/openapi.py and webapp/openapi_admin.py."""

from __future__ import annotations

from .openapi_schemas import ref


def json_body(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*codes: int) -> dict:
    words = {
        400: "Malformed JSON or not an object",
        401: "Missing, expired, unknown or revoked token",
        403: "Not allowed for this role (or deciding one's own request)",
        404: "Unknown, or another clinic's",
        409: "Conflicts with the current state",
        422: "Invalid input; `error.fields` names each field",
        429: "Too many failed logins from this address: wait `Retry-After` seconds",
    }
    return {str(c): json_body(ref("Error"), words[c]) for c in codes}


def param(name: str, where: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema,
            "description": description}  # fmt: skip


def op(summary: str, responses: dict, params=(), body: str | None = None, public: bool = False) -> dict:
    result = {"summary": summary, "parameters": list(params), "responses": responses}
    if body:
        result["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
    if public:
        result["security"] = []
    return result


ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
IDEMPOTENCY = param(
    "Idempotency-Key",
    "header",
    {"type": "string", "maxLength": 200},
    "A retry with the same key returns the first answer",
)
