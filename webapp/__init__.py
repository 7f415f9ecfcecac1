"""The web app: thin routes and templates over engine.usecases and engine.reads (pages for staff, JSON API)."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.db import default_url, make_engine, make_session_factory, unit_of_work
from engine.instances.operations import build_runtime
from engine.usecases.deployments import deploy_processes
from engine.workflow.runtime import WorkflowRuntime

from . import (
    admin,
    administration,
    api,
    api_admin,  # noqa: F401 - adds the administration routes to the API's blueprint
    api_events,  # noqa: F401 - adds the event feed and webhook routes to the API's blueprint
    approvals,
    auth,
    billing,
    errors,
    health,
    home,
    invoice_imports,
    notifications,
    plumbing,
    processes,
    webhook_pages,
)


def _secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else generated once into the instance folder (shared by workers)."""
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written whole to a private temp file, then linked into place: link is atomic and refuses to
        # overwrite, so workers starting together all end up reading the one key that won.
        fd, temp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temp)
    return path.read_text().strip()


def create_app(config: dict | None = None, runtime: WorkflowRuntime | None = None) -> Flask:
    """The app; `runtime` is the workflow runtime its units of work use (the product's operations by default)."""
    app = Flask(__name__, instance_path=os.environ.get("INSTANCE_PATH") or None)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,  # uploads are at most 1 MB; nothing else is near this
        SESSION_COOKIE_SECURE=os.environ.get("SESSION_COOKIE_SECURE", "") == "1",  # set 1 behind HTTPS
        PROCESSES_DIR=None,
    )
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app.instance_path)
    url = app.config.get("DATABASE_URL") or default_url(app.instance_path)
    app.config["DATABASE_URL"] = url
    engine = make_engine(url)
    runtime = runtime or build_runtime()
    factory = make_session_factory(engine, runtime)
    app.extensions["db_engine"] = engine
    app.extensions["session_factory"] = factory
    app.extensions["workflow_runtime"] = runtime
    with unit_of_work(factory) as session:
        if app.config["PROCESSES_DIR"]:
            deploy_processes(session, Path(app.config["PROCESSES_DIR"]))
        else:
            deploy_processes(session)

    proxies = int(app.config.get("TRUSTED_PROXIES") or os.environ.get("TRUSTED_PROXIES") or 0)
    if proxies:  # behind that many reverse proxies: honour their X-Forwarded-For and X-Forwarded-Proto
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.session_interface = plumbing.SecureWhenHttpsSessions()
    app.url_map.converters["id"] = plumbing.IdConverter
    plumbing.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    home.init_app(app)
    notifications.init_app(app)
    blueprints = (auth.bp, home.bp, billing.bp, approvals.bp, admin.bp, processes.bp, api.bp, health.bp)
    pages = (administration.bp, administration.account_bp, invoice_imports.bp, webhook_pages.bp, notifications.bp)
    for blueprint in (*blueprints, *pages):
        app.register_blueprint(blueprint)
    # Before CSRF reads the form: an invoice export may be larger than anything else people send.
    app.before_request_funcs.setdefault(None, []).insert(0, _larger_import_uploads)
    return app


def _larger_import_uploads() -> None:
    if request.endpoint == "imports.import_invoices":
        request.max_content_length = invoice_imports.IMPORT_MAX_BYTES
