"""Request plumbing shared by every page and the API: the per-request unit of work, the current actor, CSRF,
ids in URLs, refusing NUL characters, security headers and template filters."""

from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.numbers import format_currency, format_decimal
from flask import (
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    jsonify,
    render_template,
    request,
    stream_with_context,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session
from werkzeug.routing import IntegerConverter

from engine import days
from engine.accounts.roles import ROLES
from engine.db import unit_of_work
from engine.reads.monitoring import age_words
from engine.vocabulary import RequestStatus

csrf = CSRFProtect()


class SecureWhenHttpsSessions(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (directly, or as a trusted proxy
    says through X-Forwarded-Proto), and always when SESSION_COOKIE_SECURE is set."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


class IdConverter(IntegerConverter):
    """A row id in a URL: a positive integer the databases can hold (anything else is simply not found)."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=2**31 - 1)


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

APPROVAL_LABELS = {status.value: status.label for status in RequestStatus}


_SMALL_INT = re.compile(r"[0-9]{1,9}")
MAX_JSON_DEPTH = 32  # the API's bodies are two levels deep
_JSON_STRING = re.compile(rb'"(?:\\.|[^"\\])*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """How deeply a JSON text nests arrays and objects (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub(b"", body)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def small_int(text: str | None) -> int | None:
    """A positive whole number (ASCII digits) a database column can hold, or None."""
    text = (text or "").strip()
    return int(text) if _SMALL_INT.fullmatch(text) and int(text) > 0 else None


_JOINED_UNIT = "joined_unit"  # flask.g: the form submission's unit of work, begun when its user was loaded


def begin_submission_unit() -> Session:
    """A form submission's unit of work, begun by the user loader: the session check and the action the view
    then runs (its first `uow()`) are one transaction with one commit. Ended by that `uow()`, or when the
    request ends (commit; roll back on an error) if the view wrote nothing."""
    if _JOINED_UNIT not in g:  # at most one per request: a second would wait for the first's write turn
        stack = ExitStack()
        session = stack.enter_context(unit_of_work(current_app.extensions["session_factory"]))
        g.setdefault(_JOINED_UNIT, (stack, session))
    return g.get(_JOINED_UNIT)[1]


_READ_UNIT = "read_unit"  # flask.g: a page's read-only unit of work, begun when its user was loaded


def begin_read_unit() -> Session:
    """A page's reads in one read-only unit of work, begun by the user loader: the person, what the view reads
    and the counts every page shows read one snapshot with one BEGIN. Ended when the request ends, or at once if
    a read in it fails (the reads after begin their own)."""
    if _READ_UNIT not in g:
        stack = ExitStack()
        session = stack.enter_context(unit_of_work(current_app.extensions["session_factory"], read_only=True))
        g.setdefault(_READ_UNIT, (stack, session))
    return g.get(_READ_UNIT)[1]


@contextmanager
def uow(read_only: bool = False):
    """One request's unit of work: everything it writes commits together or not at all. Reads join the page's
    read unit when there is one."""
    if read_only and _READ_UNIT in g:
        try:
            yield g.get(_READ_UNIT)[1]
        except BaseException as exc:
            _end_read_unit(exc)
            raise
        return
    joined = None if read_only else g.pop(_JOINED_UNIT, None)
    if joined is None:
        with unit_of_work(current_app.extensions["session_factory"], read_only=read_only) as session:
            yield session
        return
    stack, session = joined
    with stack:  # commits at the end, rolls back on any exception
        yield session


def session_factory():
    """For a use case that runs several transactions of its own (a migration moves each instance in its own):
    the submission's unit, if begun, commits first so it holds no lock they would wait for."""
    joined = g.pop(_JOINED_UNIT, None)
    if joined is not None:
        joined[0].close()
    return current_app.extensions["session_factory"]


def _end_units(error: BaseException | None) -> None:
    _end(_JOINED_UNIT, error)
    _end_read_unit(error)


def _end_read_unit(error: BaseException | None) -> None:
    _end(_READ_UNIT, error)


def _end(unit: str, error: BaseException | None) -> None:
    """Commit the unit kept in flask.g under `unit`, or roll it back after an error."""
    joined = g.pop(unit, None)
    if joined is not None:
        stack, _session = joined
        if error is None:
            stack.close()
        else:
            stack.__exit__(type(error), error, error.__traceback__)


def actor():
    return current_user.actor


def _locale() -> str:
    return actor().locale if current_user.is_authenticated else days.DEFAULT_LOCALE


def localtime(value: datetime | None) -> str:
    """A moment in the person's clinic time, its day as the clinic's locale writes days ("12/1/2026 14:05"), as
    shown and as typed (a timer's due time)."""
    if value is None:
        return ""
    zone = ZoneInfo(actor().timezone) if current_user.is_authenticated else ZoneInfo("UTC")
    local = value.astimezone(zone)
    return f"{days.format_day(local.date(), _locale())} {local.strftime('%H:%M')}"


def day(value) -> str:
    """A calendar day as the clinic's locale writes it (an invoice's date)."""
    return days.format_day(value, _locale())


def day_input(raw: str | None) -> str:
    """A date field's value: the day as shown elsewhere on the page when it reads as one, else as typed."""
    parsed = days.parse_day(raw, _locale()) if raw else None
    return day(parsed) if parsed else (raw or "")


def isotime(value: str | None) -> str:
    """A time stored as text in an audit event's details, shown like localtime (as given if it is no time)."""
    try:
        return localtime(datetime.fromisoformat(value)) if value else ""
    except (TypeError, ValueError):
        return str(value)


def money(value, currency: str = "") -> str:
    """An amount with its currency code, its separators as the clinic's locale writes them (Babel): "USD 5,000.00"
    in en_US, "CHF 5’000.00" in de_CH, "EUR 5 000,00" in fr_FR."""
    locale = actor().locale if current_user.is_authenticated else "en_US"
    if not currency:
        return format_decimal(value, format="#,##0.00", locale=locale)
    return format_currency(value, currency, format="¤¤ #,##0.00", locale=locale, currency_digits=False)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.teardown_request(_end_units)
    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.filters["isotime"] = isotime
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["day"] = day
    app.jinja_env.filters["day_input"] = day_input
    app.jinja_env.globals["day_hint"] = lambda: days.day_hint(_locale())
    app.jinja_env.globals["moment_hint"] = lambda: days.moment_hint(_locale())
    app.jinja_env.filters["role_name"] = lambda role: ROLES.get(role, role)
    app.jinja_env.filters["approval_label"] = lambda s: APPROVAL_LABELS.get(s or "", "")
    app.jinja_env.globals["ROLES"] = ROLES
    app.jinja_env.filters["audit_pair"] = lambda event: (event, event.details_dict)
    app.jinja_env.filters["age"] = lambda since: age_words(since) if since else ""

    @app.before_request
    def refuse_nul_characters():
        """A NUL character can be stored by no database here (PostgreSQL refuses it): say so, change nothing."""
        values = [request.path, request.headers.get("Idempotency-Key", "")]
        values += [v for _, v in request.args.items(multi=True)]
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            values += [v for _, v in request.form.items(multi=True)]
        body = request.get_data(cache=True) if request.is_json else b""
        if any("\x00" in v for v in values) or b"\x00" in body or b"\\u0000" in body:
            message = "The request contains a NUL character, which cannot be stored: remove it and send again."
            if request.path.startswith("/api/"):
                return jsonify(error={"code": "invalid", "message": message}), 422
            return render_template("error.html", title="Not accepted", message=message), 422
        return None

    @app.before_request
    def refuse_deep_json():
        """Nesting deeper than MAX_JSON_DEPTH is refused before parsing (the parser would recurse out of stack)."""
        if not request.is_json:
            return None
        depth = json_depth(request.get_data(cache=True))
        if depth <= MAX_JSON_DEPTH:
            return None
        message = f"The JSON body is nested {depth} levels deep; send at most {MAX_JSON_DEPTH} levels."
        if request.path.startswith("/api/"):
            return jsonify(error={"code": "bad_request", "message": message}), 400
        return render_template("error.html", title="Not accepted", message=message), 400

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not request.path.startswith("/static/"):
            # Pages and answers hold patient data, one-time passwords and API keys: no cache keeps them.
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def csv_download(filename: str, export, *args) -> Response:
    """A CSV file streamed from `export(session, *args)` (a generator of lines), read in a read-only unit of
    work of its own that lasts as long as the download."""
    factory = current_app.extensions["session_factory"]

    def rows():
        with unit_of_work(factory, read_only=True) as session:
            yield from export(session, *args)

    headers = {"Content-Disposition": f"attachment; filename={filename}"}
    _end_read_unit(None)  # the page's reads (the person) are done: its unit does not last the download
    return Response(stream_with_context(rows()), mimetype="text/csv", headers=headers)
