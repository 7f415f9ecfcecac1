"""Reads a submitted task form for the engine; rendering is the `task_form` macro (rules live in engine/)."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict


def submitted_values(form: MultiDict) -> dict[str, str]:
    """Every submitted field but the CSRF token; the engine validates them and keeps the declared ones."""
    return {key: form.get(key, "") for key in form if key not in ("csrf_token", "step")}
