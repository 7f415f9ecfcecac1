"""Log in and out; who the current user is (an engine Actor) and which roles a page needs."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from engine.accounts import sessions, throttle
from engine.accounts.permissions import Permission, may
from engine.accounts.users import Actor
from engine.errors import TooManyAttempts

from .plumbing import begin_read_unit, begin_submission_unit, uow

_READS = ("GET", "HEAD", "OPTIONS")

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Log in to continue."


class WebUser(UserMixin):
    def __init__(self, actor: Actor):
        self.actor = actor
        self.id = str(actor.user_id)


@login_manager.user_loader
def load_user(user_id: str) -> WebUser | None:
    """The user of the cookie's server-side session, if it is still live (logout and timeouts end it)."""
    session_id = flask_session.get("sid")
    if request.method in _READS:  # the page's reads share one unit of work: this is the first
        (_owner, write, _clinic), found = sessions.acting(begin_read_unit(), session_id, user_id)
        if write is not None:
            with uow() as session:
                (sessions.touch if write == "touch" else sessions.end)(session, session_id)
    else:  # a form submission: checked in the unit of work its action joins (one transaction, one commit)
        session = begin_submission_unit()
        (_owner, write, _clinic), found = sessions.acting(session, session_id, user_id)
        if write is not None:
            (sessions.touch if write == "touch" else sessions.end)(session, session_id)
    return WebUser(found) if found else None


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(message="Enter your username.")])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password.")])


def permission_required(permission: Permission):
    """The page needs this permission (engine.accounts.permissions decides; 403 otherwise)."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not may(current_user.actor, permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("billing.invoices")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            with uow() as session:  # a failure is recorded (throttling, audit) and committed before the 401
                found = throttle.log_in(session, form.username.data, form.password.data, request.remote_addr or "")
        except TooManyAttempts as exc:
            flash(exc.message, "error")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(exc.retry_after)}
        if found is None:
            flash("Username or password is not right, or the account has no clinic role. Try again.", "error")
            return render_template("auth/login.html", form=form), 401
        with uow() as session:
            session_id = sessions.start(session, found.user_id)
        flask_session.clear()  # a new session id on login (no fixation)
        flask_session["sid"] = session_id
        login_user(WebUser(found))
        if found.must_change_password:
            flash("Choose your own password now: the one you were given works only once.", "info")
            return redirect(url_for("account.my_account"))
        if not request.args.get("next"):
            return redirect(_landing(found))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    with uow() as session:
        sessions.end(session, flask_session.get("sid"))
    logout_user()
    flask_session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


def _landing(actor: Actor) -> str:
    """Where a person starts: installation-wide roles have no invoices."""
    if actor.clinic_id is not None:
        return url_for("home.home") if may(actor, Permission.WORK_ON_INVOICES) else url_for("billing.invoices")
    if may(actor, Permission.MANAGE_CLINICS):
        return url_for("administration.clinics_page")
    return url_for("processes.index")


@bp.get("/")
def home():
    if current_user.is_authenticated:
        return redirect(_landing(current_user.actor))
    return redirect(url_for("billing.invoices"))


# While a one-time password is in use, only these pages open (and the API refuses the account's tokens).
_WHILE_CHANGING = {"account.my_account", "auth.logout", "auth.login", "static", "health.healthz"}


def _password_first():
    if (
        current_user.is_authenticated
        and current_user.actor.must_change_password
        and request.endpoint not in _WHILE_CHANGING
        and not request.path.startswith("/api/")
    ):
        flash("Choose your own password first: the one you were given works only once.", "info")
        return redirect(url_for("account.my_account"))
    return None


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.before_request(_password_first)
