"""The floor (issue 16): what the cancellation lifecycle costs SpiffWorkflow 3.2.0 and SQLite alone, to compare
the project's rates with.

On the shipped approval diagram and its decision tables, parsed once: start with the request form, approve,
cancel. Each step reads the instance's whole state from SQLite (WAL, synchronous FULL as the project's own
commits), deserializes it, completes the task, runs the engine steps, serializes it and writes it back in a
transaction of its own. Diagram code runs in the project's restricted environment (no safe implementation can
skip it) with operations that do nothing (clinic_setting gives the defaults). No task rows, audit, events or
notifications: that is what the project adds.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.instances.operations import build_runtime
from engine.vocabulary import CLINIC_SETTING_DEFAULTS
from engine.workflow.parsing import load_directory
from engine.workflow.runtime import RecordingScriptEngine
from engine.workflow.scripting import RestrictedEnvironment

PROCESSES = Path(__file__).resolve().parent.parent / "processes"
PROCESS = "invoice_cancellation_request"
STEPS = (
    ("request_cancellation", {"reason": "duplicate", "remarks": "Invoice was issued twice for the same visit."}),
    ("review_request", {"decision": "approve", "decision_remarks": ""}),
    ("cancel_invoice", {"cancel_remarks": "Cancelled as approved."}),
)


def _facts(n: int) -> dict:
    return {
        "invoice_number": f"NS-2026-{n:06d}",
        "patient_name": "Ana Lopez",
        "patient_id": f"P{n:06d}",
        "amount": Decimal("264.22"),  # below 1,000.00: one approval (approval_policy.dmn)
        "currency": "USD",
        "payment_status": "unpaid",
        "claim_status": "none",
        "advance_applied": Decimal("0.00"),
        "cancellation_workflow": "approval",
    }


def _whole_state_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's own serializer (the whole state, spec included), with exact amounts."""
    registry = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return BpmnWorkflowSerializer(registry)


class Floor:
    def __init__(self, folder: Path):
        self.runtime = build_runtime()
        self.serializer = _whole_state_serializer()
        loaded = load_directory(PROCESSES, self.runtime.operation_names)[PROCESS]
        self.spec, self.subprocess_specs = loaded.spec, loaded.subprocess_specs
        functions = {name: _nothing for name in self.runtime.operations}
        functions["clinic_setting"] = lambda name: CLINIC_SETTING_DEFAULTS[name]
        self.environment = RestrictedEnvironment(functions, {}, self.runtime.script_time_limit, per_action=True)
        self.db = sqlite3.connect(folder / "floor.db", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # as durable as the project's commits (SQLite's default)
        self.db.execute("CREATE TABLE IF NOT EXISTS instances (id INTEGER PRIMARY KEY, state TEXT NOT NULL)")
        self.state_bytes: list[int] = []

    def _engine(self) -> RecordingScriptEngine:
        return RecordingScriptEngine(self.environment, None)

    def _complete(self, workflow: BpmnWorkflow, element: str, values: dict) -> None:
        task = next(t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.name == element)
        task.set_data(**values)
        task.run()
        workflow.do_engine_steps()

    def lifecycle(self, n: int) -> None:
        serializer = self.serializer
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self._engine())
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(_facts(n))
        workflow.do_engine_steps()
        element, values = STEPS[0]
        self._complete(workflow, element, values)
        state = serializer.serialize_json(workflow)
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT INTO instances (id, state) VALUES (?, ?)", (n, state))
        self.db.execute("COMMIT")
        for element, values in STEPS[1:]:
            self.db.execute("BEGIN IMMEDIATE")
            (state,) = self.db.execute("SELECT state FROM instances WHERE id = ?", (n,)).fetchone()
            workflow = serializer.deserialize_json(state)
            workflow.script_engine = self._engine()
            self._complete(workflow, element, values)
            state = serializer.serialize_json(workflow)
            self.db.execute("UPDATE instances SET state = ? WHERE id = ?", (state, n))
            self.db.execute("COMMIT")
        if not workflow.is_completed():
            raise RuntimeError("floor: the lifecycle did not complete (the diagram changed?)")
        self.state_bytes.append(len(state.encode()))

    def close(self) -> None:
        self.db.close()


def _nothing(*_args, **_kwargs) -> None:
    return None


def floor_rate(lifecycles: int = 200, runs: int = 3) -> tuple[float, int]:
    """Lifecycles per second (the median of `runs` runs of `lifecycles` each, after a warm-up) and the bytes of
    state stored per completed instance."""
    rates, sizes = [], []
    with tempfile.TemporaryDirectory() as folder:
        floor = Floor(Path(folder))
        try:
            for n in range(5):  # warm-up: caches, the first compilation of diagram code
                floor.lifecycle(-1 - n)
            for run in range(runs):
                first = 1 + run * lifecycles
                started = time.perf_counter()
                for n in range(first, first + lifecycles):
                    floor.lifecycle(n)
                rates.append(lifecycles / (time.perf_counter() - started))
            sizes = floor.state_bytes
        finally:
            floor.close()
    return statistics.median(rates), int(statistics.median(sizes))


if __name__ == "__main__":
    rate, size = floor_rate()
    print(f"floor: {rate:.1f} lifecycles/s, {size:,} bytes of state per instance")
