"""Bounds on diagram code: no script or condition can hold a worker, the database or its memory.

Two budgets, as the issue asks:
- **size**: operations that one C-level step could make huge are compiled into guarded calls (`**`, `*`,
  `<<`, `%` on strings, `range`, padding and formatting methods, f-string format specs); past the limits
  below they raise ScriptLimitExceeded before the work starts (a timer cannot interrupt `10**10**10`);
- **CPU time**: every evaluation of one user action's diagram code shares one budget (default 1 s,
  `SCRIPT_TIME_LIMIT`); a trace function stops Python-level code once it is spent, on every following line,
  so even a script that catches exceptions in a loop cannot keep running.

Past either budget the step fails like any other failing step: it becomes an incident at that element.
"""

from __future__ import annotations

import ast
import re
import sys
import time
from typing import Any

from RestrictedPython import RestrictingNodeTransformer

MAX_INT_BITS = 100_000  # about 30,000 decimal digits
MAX_ITEMS = 1_000_000  # characters of a string, items of a list or tuple, length of a range
MAX_FORMAT_WIDTH = 1_000  # widths and precisions in `%` formats and f-string format specs
DEFAULT_TIME_LIMIT = 1.0  # seconds of CPU for all diagram code of one user action
SCRIPT_FILENAME = "<diagram code>"


class ScriptLimitExceeded(Exception):  # noqa: N818 - reads as what happened, like TimeoutError
    """Diagram code went past a size or time budget."""


# ---- size ----------------------------------------------------------------------------------------------------


def _bits(value: int) -> int:
    return abs(value).bit_length()


def _sized(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def guarded_binop(op: str, left: Any, right: Any) -> Any:
    """`left op right` for the operators that can build a huge value in one step, refused past the limits."""
    if op == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if right * _bits(left) > MAX_INT_BITS:
                raise ScriptLimitExceeded(f"{left} ** {right} would be a number over {MAX_INT_BITS:,} bits")
        return left**right
    if op == "*":
        for sequence, times in ((left, right), (right, left)):
            length = _sized(sequence)
            if length is not None and isinstance(times, int) and length * times > MAX_ITEMS:
                raise ScriptLimitExceeded(f"repeating {length:,} items {times:,} times passes {MAX_ITEMS:,}")
        if isinstance(left, int) and isinstance(right, int) and _bits(left) + _bits(right) > MAX_INT_BITS:
            raise ScriptLimitExceeded(f"the product would be a number over {MAX_INT_BITS:,} bits")
        return left * right
    if op == "<<":
        if isinstance(left, int) and isinstance(right, int) and left and right + _bits(left) > MAX_INT_BITS:
            raise ScriptLimitExceeded(f"shifting by {right:,} would make a number over {MAX_INT_BITS:,} bits")
        return left << right
    if op == "%":
        if isinstance(left, str | bytes):
            check_percent_format(left if isinstance(left, str) else left.decode("latin-1"))
        return left % right
    raise ScriptLimitExceeded(f"the operator {op} is not guarded")


_PERCENT_SPEC = re.compile(r"%[-+ #0]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_NUMBERS = re.compile(r"\d+")


def check_percent_format(text: str) -> None:
    for width, precision in _PERCENT_SPEC.findall(text):
        for number in (width, precision):
            if number == "*" or (number and int(number) > MAX_FORMAT_WIDTH):
                raise ScriptLimitExceeded(f"a % format width or precision above {MAX_FORMAT_WIDTH} is not allowed")


def check_format_spec(spec: str) -> None:
    if any(int(n) > MAX_FORMAT_WIDTH for n in _FORMAT_NUMBERS.findall(spec)):
        raise ScriptLimitExceeded(f"a format width or precision above {MAX_FORMAT_WIDTH} is not allowed")


def limited_range(*args: int) -> range:
    span = range(*args)
    if len(span) > MAX_ITEMS:
        raise ScriptLimitExceeded(f"range of {len(span):,} numbers passes {MAX_ITEMS:,}")
    return span


def _width_limited(method, name: str):
    def call(width, *args):
        if isinstance(width, int) and width > MAX_ITEMS:
            raise ScriptLimitExceeded(f"{name}({width:,}) passes {MAX_ITEMS:,} characters")
        return method(width, *args)

    return call


def _replace_limited(text):
    def replace(old, new, count=-1):
        times = text.count(old) if count < 0 else min(count, text.count(old))
        if len(text) + times * max(len(new) - len(old), 0) > MAX_ITEMS:
            raise ScriptLimitExceeded(f"the replaced text would pass {MAX_ITEMS:,} characters")
        return text.replace(old, new, count)

    return replace


# Methods scripts may call on values (strings, numbers, lists, dicts): reading and shaping, nothing else.
ALLOWED_METHODS = frozenset(
    {"strip", "lstrip", "rstrip", "lower", "upper", "title", "capitalize", "startswith", "endswith", "split",
     "join", "replace", "count", "find", "isdigit", "isalpha", "isalnum", "isspace", "ljust", "rjust", "center",
     "zfill", "get", "keys", "values", "items", "append", "extend", "index", "copy", "quantize"}
)  # fmt: skip
_PADDING = {"ljust", "rjust", "center", "zfill"}
_REFUSED = {"format", "format_map", "expandtabs"}


def guard_attribute(obj: Any, name: str, value: Any) -> Any:
    """String methods that can build a huge string from a small one are bounded (or refused)."""
    if isinstance(obj, str | bytes):
        if name in _REFUSED:
            raise ScriptLimitExceeded(f"str.{name} is not available in scripts: use + or an f-string")
        if name in _PADDING:
            return _width_limited(value, name)
        if name == "replace":
            return _replace_limited(obj)
    return value


class BoundedTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy, with the size-dangerous operators turned into `_binop_(op, left, right)` and
    constant-checked f-string format specs."""

    _GUARDED = {ast.Pow: "**", ast.Mult: "*", ast.LShift: "<<", ast.Mod: "%"}

    def visit_BinOp(self, node: ast.BinOp):
        node = self.node_contents_visit(node)
        op = self._GUARDED.get(type(node.op))
        if op is None:
            return node
        call = ast.Call(
            func=ast.Name("_binop_", ast.Load()), args=[ast.Constant(op), node.left, node.right], keywords=[]
        )
        return ast.fix_missing_locations(ast.copy_location(call, node))

    def visit_Call(self, node: ast.Call):
        """Only a named function (`f(...)`) or an allowed method of a value (`remarks.strip()`) may be called:
        not a subscript, a call's result or any other expression (`[ValueError][0](...)`)."""
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr not in ALLOWED_METHODS:
            allowed = ", ".join(sorted(ALLOWED_METHODS))
            self.error(node, f"the method '{func.attr}' may not be called in scripts (allowed: {allowed})")
        elif not isinstance(func, ast.Name | ast.Attribute):
            self.error(node, "only a named function or an allowed method may be called, not a computed value")
        return super().visit_Call(node)

    def visit_FormattedValue(self, node: ast.FormattedValue):
        node = self.node_contents_visit(node)
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            if not all(isinstance(p, ast.Constant) for p in parts):
                self.error(node, "f-string format specs must be written out, not computed")
            else:
                try:
                    check_format_spec("".join(str(p.value) for p in parts))
                except ScriptLimitExceeded as exc:
                    self.error(node, str(exc))
        return node


def inplace(op: str, x: Any, y: Any) -> Any:
    """`x op= y` for the operators scripts may use; the size-dangerous ones are guarded like their binary form."""
    simple = {"+=": lambda: x + y, "-=": lambda: x - y, "/=": lambda: x / y, "//=": lambda: x // y}
    if op in simple:
        return simple[op]()
    if op in ("*=", "**=", "<<=", "%="):
        return guarded_binop(op[:-1], x, y)
    raise ScriptLimitExceeded(f"the operator {op} is not allowed in scripts")


# ---- time ----------------------------------------------------------------------------------------------------


class TimeBudget:
    """The CPU seconds one user action's diagram code may use, spent across all its evaluations."""

    def __init__(self, limit: float = DEFAULT_TIME_LIMIT):
        self.limit = limit
        self.spent = 0.0

    def run(self, code, namespace: dict) -> Any:
        """exec/eval `code` (compiled from diagram code) within what is left of the budget."""
        started = time.thread_time()
        deadline = started + max(self.limit - self.spent, 0.0)
        previous = sys.gettrace()

        ticks = [0]

        def on_step(frame, event, _arg):
            # Every instruction is an event (`while True: pass` makes no line events); the clock is read
            # every 64 of them. Once the budget is spent every event raises, so no handler can swallow it.
            ticks[0] += 1
            if (ticks[0] & 63 == 0 or ticks[0] < 0) and time.thread_time() > deadline:
                ticks[0] = -(2**62)  # spent: raise on every following event too
            if ticks[0] < 0:
                raise ScriptLimitExceeded(f"ran longer than {self.limit:g} s")
            return on_step

        def on_call(frame, event, _arg):
            if frame.f_code.co_filename != SCRIPT_FILENAME:
                return None  # the operations and helpers it calls are ours: not traced
            frame.f_trace_opcodes = True
            return on_step

        sys.settrace(on_call)
        try:
            if time.thread_time() > deadline:
                raise ScriptLimitExceeded(f"ran longer than {self.limit:g} s")
            return eval(code, namespace)  # noqa: S307 - RestrictedPython-compiled diagram code
        finally:
            sys.settrace(previous)
            self.spent += time.thread_time() - started
