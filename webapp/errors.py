"""Domain errors become pages with a message a person can act on; CSRF failures change nothing."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from engine.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, Invalid: 422}


def status_of(exc: DomainError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return render_template("error.html", title="Not possible", message=exc.message), status_of(exc)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = "The form was missing its security token or it had expired. Reload the page and try again."
        return render_template("error.html", title="Form not accepted", message=message), 400

    @app.errorhandler(403)
    def forbidden(exc):
        return render_template("error.html", title="Not allowed", message="Your roles do not allow this page."), 403

    @app.errorhandler(404)
    def not_found(exc):
        message = "This page does not exist, or belongs to another clinic. Go back to the invoice list."
        return render_template("error.html", title="Not found", message=message), 404
