"""User task forms as the diagram defines them (camunda:formData), and their validation.

SpiffWorkflow enforces none of a form's constraints, so every rule is checked here, once, for every surface
(pages and API). Only the fields a form declares ever reach the task data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine import days
from engine.errors import Invalid

from .scripting import RestrictedEnvironment, ScriptRefused

SUPPORTED_TYPES = ("string", "long", "boolean", "date", "enum")
SUPPORTED_CONSTRAINTS = ("required", "required_if", "minlength", "maxlength", "min", "max", "readonly")
_SIMPLE_CONDITION = re.compile(r"""^\s*(\w+)\s*==\s*["'](\w+)["']\s*$""")
_CONDITIONS = RestrictedEnvironment()


@dataclass(frozen=True)
class Option:
    id: str
    name: str


@dataclass(frozen=True)
class FieldDef:
    id: str
    label: str
    type: str
    required: bool = False
    required_if: str | None = None
    minlength: int | None = None
    maxlength: int | None = None
    min: int | None = None
    max: int | None = None
    readonly: bool = False
    default: str | None = None
    widget: str | None = None
    options: tuple[Option, ...] = ()

    def option_name(self, value: Any) -> str:
        for option in self.options:
            if option.id == value:
                return option.name
        return "" if value is None else str(value)

    def shown(self, value: Any, locale: str | None) -> str:
        """A stored value as people read it: an option's name, a day as the clinic writes it (12/1/2026)."""
        if self.type == "date" and isinstance(value, str):
            day = days.parse_day(value, None)
            return days.format_day(day, locale) if day else value
        return self.option_name(value)


@dataclass(frozen=True)
class FormDef:
    task_id: str
    title: str
    fields: tuple[FieldDef, ...] = field(default_factory=tuple)

    def get(self, field_id: str) -> FieldDef | None:
        return next((f for f in self.fields if f.id == field_id), None)


def _int_or_none(value: str | None) -> int | None:
    return None if value in (None, "") else int(value)


def describe_form(task_spec) -> FormDef:
    """Read a user task spec's camunda form into plain, immutable field definitions."""
    fields = []
    form = getattr(task_spec, "form", None)
    for f in form.fields if form is not None else []:
        rules = {v.name: v.config for v in f.validation}
        props = {p.id: p.value for p in f.properties}
        fields.append(
            FieldDef(
                id=f.id,
                label=f.label or f.id,
                type=f.type,
                required=str(rules.get("required", "false")).lower() == "true",
                required_if=rules.get("required_if"),
                minlength=_int_or_none(rules.get("minlength")),
                maxlength=_int_or_none(rules.get("maxlength")),
                min=_int_or_none(rules.get("min")),
                max=_int_or_none(rules.get("max")),
                readonly="readonly" in rules and str(rules["readonly"]).lower() != "false",
                default=f.default_value,
                widget=props.get("widget"),
                options=tuple(Option(o.id, o.name) for o in getattr(f, "options", []) or []),
            )
        )
    return FormDef(task_id=task_spec.name, title=task_spec.bpmn_name or task_spec.name, fields=tuple(fields))


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _choices(f: FieldDef) -> str:
    return ", ".join(o.name for o in f.options)


def condition_in_words(condition: str, form: FormDef) -> str:
    """`decision == "reject"` -> `Decision is Reject`; other conditions are shown as written."""
    match = _SIMPLE_CONDITION.match(condition)
    other = form.get(match.group(1)) if match else None
    if other is None:
        return condition
    return f"{other.label} is {other.option_name(match.group(2))}"


def _convert(f: FieldDef, raw: Any, locale: str | None) -> Any:
    """Turn one submitted value into its typed value, or raise ValueError with a message; a date is typed as
    the clinic's locale writes it (or ISO 8601) and stored as ISO 8601."""
    if f.type == "string":
        return str(raw).strip()
    if f.type == "enum":
        value = str(raw).strip()
        if value not in {o.id for o in f.options}:
            raise ValueError(f"{f.label} must be one of: {_choices(f)}.")
        return value
    if f.type == "long":
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ValueError(f"{f.label} must be a whole number, e.g. 3.") from None
    if f.type == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "on", "yes", "1"):
            return True
        if text in ("false", "off", "no", "0"):
            return False
        raise ValueError(f"{f.label} must be yes or no.")
    if f.type == "date":
        day = days.parse_day(str(raw), locale)
        if day is None:
            example = days.format_day(date(2026, 12, 31), locale)
            raise ValueError(f"{f.label} must be a date written as {days.day_hint(locale)}, e.g. {example}.")
        return day.isoformat()
    raise ValueError(f"{f.label} has the unsupported type {f.type}; ask an analyst to fix the diagram.")


def _check_bounds(f: FieldDef, value: Any) -> str | None:
    if isinstance(value, str) and f.type == "string":
        if f.maxlength is not None and len(value) > f.maxlength:
            return f"{f.label} is {len(value)} characters long; shorten it to at most {f.maxlength} characters."
        if f.minlength is not None and len(value) < f.minlength:
            return f"{f.label} is too short; write at least {f.minlength} characters."
    if isinstance(value, int) and not isinstance(value, bool):
        if f.min is not None and value < f.min:
            return f"{f.label} must be at least {f.min}."
        if f.max is not None and value > f.max:
            return f"{f.label} must be at most {f.max}."
    return None


def _required_message(f: FieldDef, form: FormDef, because: str | None = None) -> str:
    when = f" when {condition_in_words(because, form)}" if because else ""
    if f.type == "enum":
        return f"{f.label} is required{when}: choose one of {_choices(f)}."
    return f"{f.label} is required{when}: enter it before saving."


def _condition_holds(condition: str, values: Mapping[str, Any]) -> bool:
    try:
        return bool(_CONDITIONS.evaluate(condition, dict(values)))
    except (ScriptRefused, NameError, TypeError):
        return False


def validate(
    form: FormDef, submitted: Mapping[str, Any], data: Mapping[str, Any] | None = None, locale: str | None = None
) -> dict:
    """Check submitted values against the form; return the typed values of every declared field.

    Fields missing or blank become "" (or None for non-strings) so scripts can always name them. Raises
    Invalid with one message per failing field; unknown keys in `submitted` are ignored.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in form.fields:
        raw = submitted.get(f.id)
        if f.readonly:
            values[f.id] = (data or {}).get(f.id)
            continue
        if _is_blank(raw):
            values[f.id] = "" if f.type in ("string", "enum") else None
            continue
        try:
            if isinstance(raw, str) and "\x00" in raw:
                raise ValueError(f"{f.label} contains a NUL character, which cannot be stored: remove it.")
            values[f.id] = _convert(f, raw, locale)
        except ValueError as exc:
            errors[f.id] = str(exc)
            values[f.id] = None
            continue
        problem = _check_bounds(f, values[f.id])
        if problem:
            errors[f.id] = problem
    context = {**(data or {}), **values}
    for f in form.fields:
        if f.id in errors or f.readonly or not _is_blank(values[f.id]):
            continue
        if f.required:
            errors[f.id] = _required_message(f, form)
        elif f.required_if and _condition_holds(f.required_if, context):
            errors[f.id] = _required_message(f, form, f.required_if)
    if errors:
        raise Invalid(errors)
    return values


def with_aliases(form: FormDef, body: dict) -> dict:
    """API bodies may say `remarks` for the form's field labelled Remarks (e.g. `decision_remarks`)."""
    values = dict(body)
    if "remarks" in values and form.get("remarks") is None:
        target = next((f for f in form.fields if f.label.lower() == "remarks"), None)
        if target is not None:
            values.setdefault(target.id, values["remarks"])
    return values


def field_json(f: FieldDef) -> dict:
    """A field as API clients need it to render and validate a form."""
    constraints = {
        "required_if": f.required_if,
        "minlength": f.minlength,
        "maxlength": f.maxlength,
        "min": f.min,
        "max": f.max,
        "readonly": f.readonly or None,
    }
    return {
        "id": f.id,
        "label": f.label,
        "type": f.type,
        "required": f.required,
        "constraints": {k: v for k, v in constraints.items() if v is not None},
        "enum_values": [{"id": o.id, "name": o.name} for o in f.options],
    }
