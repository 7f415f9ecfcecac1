"""Scripts and conditions in BPMN run in RestrictedPython's safe subset, with only our helpers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.workflow.scripting import RestrictedEnvironment, ScriptRefused


@pytest.fixture
def env():
    return RestrictedEnvironment({"double": lambda x: x * 2})


def test_plain_conditions_and_scripts_work(env):
    assert env.evaluate(
        'amount >= 1000 and decision == "approve"', {"amount": Decimal("1500.00"), "decision": "approve"}
    )
    data = {"items": [1, 2, 3]}
    env.execute("total = sum(items)\nlevel = 'high' if total > 5 else 'low'\nd = {'a': 1}\nd['b'] = double(2)", data)
    assert data == {"items": [1, 2, 3], "total": 6, "level": "high", "d": {"a": 1, "b": 4}}


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('true')",
        "().__class__.__bases__",
        "open('/etc/passwd').read()",
        "getattr(x, '__class__')",
    ],
)
def test_escapes_are_refused(env, source):
    with pytest.raises((ScriptRefused, NameError, AttributeError, TypeError)):
        env.evaluate(source, {"x": 1})


def test_imports_are_refused(env):
    with pytest.raises(ScriptRefused):
        env.execute("import os", {})
