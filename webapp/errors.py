"""Domain errors become pages with a message a person can act on; CSRF failures change nothing."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError

from engine.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooManyAttempts, Unauthenticated

# One table for pages and API alike: which HTTP status each domain error is.
STATUS = {
    Unauthenticated: 401,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    Invalid: 422,
    TooManyAttempts: 429,
}


def status_of(exc: DomainError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)


def _api_error(status: int, code: str, message: str):
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        return render_template("error.html", title="Not possible", message=exc.message), status_of(exc)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = "The form was missing its security token or it had expired. Reload the page and try again."
        return render_template("error.html", title="Form not accepted", message=message), 400

    _http_errors(app)


def _http_errors(app: Flask) -> None:
    """403/404/405/413/500: a page for people, JSON under /api/."""

    @app.errorhandler(403)
    def forbidden(exc):
        if _is_api():
            return _api_error(403, "forbidden", "Your roles do not allow this.")
        return render_template("error.html", title="Not allowed", message="Your roles do not allow this page."), 403

    @app.errorhandler(404)
    def not_found(exc):
        if _is_api():
            return _api_error(404, "not_found", "No such resource: check the path against /api/openapi.json.")
        message = "This page does not exist, or belongs to another clinic. Go back to the invoice list."
        return render_template("error.html", title="Not found", message=message), 404

    @app.errorhandler(413)
    def too_large(exc):
        message = "The request is larger than 2 MB: diagrams and forms are far smaller, send less."
        if _is_api():
            return _api_error(413, "too_large", message)
        return render_template("error.html", title="Too large", message=message), 413

    @app.errorhandler(405)
    def method_not_allowed(exc):
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))
        if _is_api():
            response = _api_error(405, "method_not_allowed", "This method is not allowed here: see /api/openapi.json.")
            response.headers["Allow"] = allowed
            return response
        page = render_template("error.html", title="Not allowed", message="This page does not take that action.")
        return page, 405, {"Allow": allowed}

    @app.errorhandler(500)
    def server_error(exc):
        if _is_api():
            return _api_error(500, "server_error", "Something went wrong on our side; nothing was saved. Try again.")
        message = "Something went wrong on our side; nothing was saved. Try again, or tell the administrator."
        return render_template("error.html", title="Error", message=message), 500
