"""Form validation happens in the engine, from the diagram's own form definitions."""

from __future__ import annotations

import pytest

from engine.errors import Invalid
from engine.workflow.forms import FieldDef, FormDef, Option, validate

DECISION = FieldDef(
    "decision",
    "Decision",
    "enum",
    required=True,
    options=(Option("approve", "Approve"), Option("reject", "Reject")),
)
REMARKS = FieldDef("decision_remarks", "Remarks", "string", required_if='decision == "reject"', maxlength=1000)
REVIEW = FormDef("review_request", "Review request", (DECISION, REMARKS))


def errors_of(form, submitted, data=None):
    with pytest.raises(Invalid) as caught:
        validate(form, submitted, data)
    return caught.value.errors


def test_required_if_follows_the_other_field():
    assert validate(REVIEW, {"decision": "approve"}) == {"decision": "approve", "decision_remarks": ""}
    assert errors_of(REVIEW, {"decision": "reject", "decision_remarks": " \n "}) == {
        "decision_remarks": "Remarks is required when Decision is Reject: enter it before saving."
    }


def test_enum_must_be_one_of_the_diagram_values():
    assert errors_of(REVIEW, {"decision": "maybe"}) == {"decision": "Decision must be one of: Approve, Reject."}
    assert "choose one of Approve, Reject" in errors_of(REVIEW, {})["decision"]


def test_strings_are_trimmed_and_bounded():
    form = FormDef("t", "T", (FieldDef("note", "Note", "string", required=True, minlength=3, maxlength=5),))
    assert validate(form, {"note": "  abc  "}) == {"note": "abc"}
    assert "at least 3" in errors_of(form, {"note": "ab"})["note"]
    assert "6 characters long; shorten it to at most 5" in errors_of(form, {"note": "abcdef"})["note"]


def test_typed_fields_and_undeclared_keys():
    form = FormDef(
        "t",
        "T",
        (
            FieldDef("count", "Count", "long", min=1, max=9),
            FieldDef("urgent", "Urgent", "boolean"),
            FieldDef("due", "Due", "date"),
            FieldDef("locked", "Locked", "string", readonly=True),
        ),
    )
    values = validate(
        form,
        {"count": "3", "urgent": "on", "due": "2026-01-31", "locked": "x", "sneaky": "1"},
        {"locked": "kept"},
    )
    assert values == {"count": 3, "urgent": True, "due": "2026-01-31", "locked": "kept"}
    errors = errors_of(form, {"count": "3.5", "urgent": "perhaps", "due": "31/01/2026"})
    assert errors == {
        "count": "Count must be a whole number, e.g. 3.",
        "urgent": "Urgent must be yes or no.",
        "due": "Due must be a date written as MM/DD/YYYY, e.g. 12/31/2026.",
    }
    assert errors_of(form, {"count": "10"}) == {"count": "Count must be at most 9."}


def test_a_date_field_takes_the_day_as_the_clinic_writes_it_and_stores_iso():
    form = FormDef("t", "T", (FieldDef("due", "Due", "date"),))
    assert validate(form, {"due": "1/31/2026"}, locale="en_US") == {"due": "2026-01-31"}
    assert validate(form, {"due": "31.01.2026"}, locale="de_CH") == {"due": "2026-01-31"}
    assert validate(form, {"due": "2026-01-31"}, locale="de_CH") == {"due": "2026-01-31"}
    wrong = pytest.raises(Invalid, validate, form, {"due": "1/31/2026"}, locale="de_CH").value.errors
    assert wrong == {"due": "Due must be a date written as DD.MM.YYYY, e.g. 31.12.2026."}
    nonsense = pytest.raises(Invalid, validate, form, {"due": "2/30/2026"}, locale="en_US").value.errors
    assert "MM/DD/YYYY" in nonsense["due"]
