"""The workflow runtime is an object each app builds: its operations are its own, bound to one action at a time."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.db import unit_of_work
from engine.instances.operations import OPERATIONS, build_runtime
from engine.models import ProcessInstance
from engine.usecases import steps
from engine.workflow.runtime import runtime_of


def test_a_runtime_with_an_extra_operation_leaves_the_products_operations_alone():
    extra = build_runtime({"ledger_post": lambda ctx, invoice_number: None})
    assert "ledger_post" in extra.operation_names
    assert "ledger_post" not in build_runtime().operation_names
    assert set(OPERATIONS) == {
        "submit_request", "record_decision", "cancel_invoice", "refuse_if_blocked", "request_undo", "reopen_invoice",
        "withdraw_request", "clinic_setting", "remind_deciders", "escalate",
    }  # fmt: skip
    with pytest.raises(TypeError):
        OPERATIONS["ledger_post"] = print  # the product's set cannot be changed at run time


def test_each_app_uses_the_runtime_it_was_built_with(app, session_factory, ledger):
    with unit_of_work(session_factory) as s:
        assert runtime_of(s) is app.extensions["workflow_runtime"]
        assert "ledger_post" in runtime_of(s).operation_names


def test_a_workflow_loaded_to_read_cannot_run_an_operation(demo, session_factory):
    number = demo.invoice_numbers()[0]
    with unit_of_work(session_factory) as s:
        steps.complete_task(
            s, demo.actor("billing"), number, "request_cancellation", {"reason": "duplicate", "remarks": "Twice"}
        )
    with unit_of_work(session_factory, read_only=True) as s:
        instance = s.scalar(select(ProcessInstance))
        workflow = runtime_of(s).load_workflow(instance.state_json, instance.version)
        operation = workflow.script_engine.environment.functions["cancel_invoice"]
        with pytest.raises(RuntimeError, match="outside a user action"):
            operation(remarks="x")
