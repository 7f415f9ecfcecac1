"""Home > Administration > Users, Clinic settings and Clinics, and each person's My account.

Clinic administrators manage their own clinic's people and settings; the installation administrator creates
and renames clinics and manages the people of any clinic (chosen with `?clinic=ID`). The rules are in
engine.usecases (people, clinics, account); these routes only read forms and show the outcome.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask_login import login_required, login_user

from engine.accounts import sessions
from engine.accounts.permissions import Permission
from engine.accounts.roles import Role
from engine.accounts.users import actor_for
from engine.errors import Invalid, TooManyAttempts
from engine.events import webhooks
from engine.reads import audit, queries
from engine.usecases import account, clinics, people
from engine.usecases import integrations as integrations_uc

from .auth import WebUser, permission_required
from .plumbing import actor, csv_download, small_int, uow

bp = Blueprint("administration", __name__, url_prefix="/admin")


def _clinic_arg() -> int | None:
    return small_int(request.values.get("clinic", "")) if request.values.get("clinic") else None


def _users_page(errors: dict | None = None, values: dict | None = None, handed: dict | None = None, status=200):
    clinic_id = _clinic_arg()
    with uow(read_only=True) as session:
        is_root = Role.INSTALLATION_ADMIN in actor().roles
        choices = clinics.list_clinics(session, actor()) if is_root else []
        if is_root and clinic_id is None and choices:
            clinic_id = choices[0].id
        clinic = people.clinic_of(session, actor(), clinic_id) if not is_root or choices else None
        found = people.clinic_people(session, actor(), clinic.id) if clinic else []
    return render_template(
        "administration/users.html",
        people=found,
        roles=people.CLINIC_ROLES,
        clinic=clinic,
        choices=choices,
        errors=errors or {},
        values=values or {},
        handed=handed,
    ), status


@bp.get("/users")
@permission_required(Permission.MANAGE_PEOPLE)
def users():
    return _users_page()


@bp.post("/users")
@permission_required(Permission.MANAGE_PEOPLE)
def add_user():
    form = request.form
    person = people.NewPerson(
        form.get("username", ""), form.get("full_name", ""), form.get("email", ""), tuple(form.getlist("roles"))
    )
    try:
        with uow() as session:
            message, password = people.add_user(session, actor(), person, _clinic_arg())
    except Invalid as exc:
        values = {"username": person.username, "full_name": person.full_name, "email": person.email}
        return _users_page(exc.errors, values | {"roles": person.roles}, status=422)
    flash(message, "success")
    return _users_page(handed={"username": person.username.strip(), "password": password})


@bp.post("/users/<username>/roles")
@permission_required(Permission.MANAGE_PEOPLE)
def change_role(username: str):
    change = people.revoke_role if request.form.get("change") == "revoke" else people.grant_role
    return _change(change, username, request.form.get("role", ""))


@bp.post("/users/<username>/active")
@permission_required(Permission.MANAGE_PEOPLE)
def change_active(username: str):
    return _change(people.set_active, username, request.form.get("active") == "1")


@bp.post("/users/<username>/password")
@permission_required(Permission.MANAGE_PEOPLE)
def reset_password(username: str):
    try:
        with uow() as session:
            message, password = people.reset_password(session, actor(), username, _clinic_arg())
    except Invalid as exc:
        flash(f"Nothing was changed: {exc.message}", "error")
        return redirect(url_for("administration.users", clinic=_clinic_arg()))
    flash(message, "success")
    return _users_page(handed={"username": username, "password": password})


def _change(change, username: str, value):
    try:
        with uow() as session:
            message = change(session, actor(), username, value, _clinic_arg())
        flash(message, "success")
    except Invalid as exc:
        flash(f"Nothing was changed: {exc.message}", "error")
    return redirect(url_for("administration.users", clinic=_clinic_arg()))


# ---- Clinic settings (clinic administrator) ----------------------------------------------------------------


def _settings_form() -> clinics.ClinicSettings:
    form = request.form
    return clinics.ClinicSettings(
        form.get("name", ""),
        form.get("cancellation_mode", ""),
        form.get("timezone", ""),
        form.get("locale", ""),
        form.get("currency", ""),
        form.get("reminder_after"),
        form.get("escalate_after"),
    )


@bp.route("/settings", methods=["GET", "POST"])
@permission_required(Permission.CLINIC_SETTINGS)
def settings():
    errors, status = {}, 200
    if request.method == "POST":
        wanted = _settings_form()
        try:
            with uow() as session:
                message = clinics.change_settings(session, actor(), wanted)
            flash(message, "success")
            return redirect(url_for("administration.settings"))
        except Invalid as exc:
            errors, status = exc.errors, 422
    with uow(read_only=True) as session:
        current = clinics.settings_of(clinics.own_clinic(session, actor()))
    shown = _settings_form() if errors else current
    return render_template(
        "administration/settings.html",
        settings=shown,
        errors=errors,
        workflows=clinics.WORKFLOWS,
        timezones=clinics.timezone_names(),
    ), status


# ---- Clinics (installation administrator) ------------------------------------------------------------------


@bp.route("/clinics", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_CLINICS)
def clinics_page():
    errors, values, handed, status = {}, {}, None, 200
    if request.method == "POST":
        form = request.form
        wanted = _settings_form()
        new_admin = people.NewPerson(
            form.get("admin_new_username", ""), form.get("admin_full_name", ""), form.get("admin_email", ""), ()
        )
        existing = form.get("admin_username", "")
        try:
            with uow() as session:
                message, password = clinics.create_clinic(
                    session, actor(), wanted, existing, None if existing.strip() else new_admin
                )
            flash(message, "success")
            if password:
                handed = {"username": new_admin.username.strip(), "password": password}
        except Invalid as exc:
            errors, status, values = exc.errors, 422, dict(form)
    with uow(read_only=True) as session:
        found = clinics.list_clinics(session, actor())
    return render_template(
        "administration/clinics.html",
        clinics=found,
        errors=errors,
        values=values,
        handed=handed,
        workflows=clinics.WORKFLOWS,
        timezones=clinics.timezone_names(),
    ), status


@bp.post("/clinics/<id:clinic_id>/name")
@permission_required(Permission.MANAGE_CLINICS)
def rename_clinic(clinic_id: int):
    try:
        with uow() as session:
            flash(clinics.rename_clinic(session, actor(), clinic_id, request.form.get("name", "")), "success")
    except Invalid as exc:
        flash(f"Nothing was changed: {exc.message}", "error")
    return redirect(url_for("administration.clinics_page"))


# ---- Integrations: API keys (clinic administrator) ---------------------------------------------------------


@bp.route("/integrations", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_INTEGRATIONS)
def integrations():
    errors, values, handed, status = {}, {}, None, 200
    if request.method == "POST":
        values = {"name": request.form.get("name", ""), "expires_on": request.form.get("expires_on", "")}
        try:
            with uow() as session:
                message, key, _id = integrations_uc.create_key(session, actor(), values["name"], values["expires_on"])
            flash(message, "success")
            handed, values = {"name": values["name"].strip(), "key": key}, {}
        except Invalid as exc:
            errors, status = exc.errors, 422
    return integrations_page(errors=errors, values=values, handed=handed), status


def integrations_page(**shown) -> str:
    """The Integrations page: API keys, the webhook and its deliveries (webapp/webhook_pages.py acts on those)."""
    shown = {"errors": {}, "values": {}, "handed": None, "webhook_errors": {}, "handed_secret": None} | shown
    status = request.args.get("deliveries") or None
    with uow(read_only=True) as session:
        keys = integrations_uc.list_keys(session, actor())
        webhook = webhooks.settings(session, actor())
        deliveries = webhooks.deliveries(session, actor(), status if status in webhooks.STATUSES else None)
        return render_template(
            "administration/integrations.html", keys=keys, webhook=webhook, deliveries=deliveries,
            deliveries_status=status, **shown,
        )  # fmt: skip


@bp.post("/integrations/<id:key_id>/revoke")
@permission_required(Permission.MANAGE_INTEGRATIONS)
def revoke_key(key_id: int):
    with uow() as session:
        flash(integrations_uc.revoke_key(session, actor(), key_id), "success")
    return redirect(url_for("administration.integrations"))


# ---- Audit log (clinic administrator) ----------------------------------------------------------------------


def _audit_filters() -> tuple[audit.AuditFilters, dict]:
    args = request.args
    raw = {k: args.get(k, "").strip() for k in ("from", "to", "person", "kind")}
    errors = {}
    try:
        start = queries.parse_day(raw["from"], "From", "from", actor().locale)
        end = queries.parse_day(raw["to"], "To", "to", actor().locale)
    except Invalid as exc:
        errors.update(exc.errors)
        start = end = None
    if raw["kind"] and raw["kind"] not in audit.KINDS:
        errors["kind"] = "Kind must be one of the listed kinds."
    if errors:
        raise Invalid(errors)
    return audit.AuditFilters(start, end, raw["person"], raw["kind"]), raw


@bp.get("/audit")
@permission_required(Permission.AUDIT_LOG)
def audit_page():
    page, errors = None, {}
    raw = {k: request.args.get(k, "") for k in ("from", "to", "person", "kind")}
    with uow(read_only=True) as session:
        try:
            filters, raw = _audit_filters()
            page = audit.audit_log(session, actor(), filters, small_int(request.args.get("page", "1")) or 1)
        except Invalid as exc:
            errors = exc.errors
    args = {k: v for k, v in raw.items() if v}
    return render_template(
        "administration/audit.html", page=page, filters=raw, args=args, errors=errors, kinds=audit.KINDS
    ), 422 if errors else 200


@bp.get("/audit.csv")
@permission_required(Permission.AUDIT_LOG)
def audit_csv():
    filters, _raw = _audit_filters()
    return csv_download("audit-log.csv", audit.audit_csv, actor(), filters)


# ---- My account (everyone) ---------------------------------------------------------------------------------

account_bp = Blueprint("account", __name__)


@account_bp.route("/account", methods=["GET", "POST"])
@login_required
def my_account():
    errors, status = {}, 200
    if request.method == "POST":
        form = request.form
        try:
            with uow() as session:  # a wrong current password is recorded (throttling) and committed
                result = account.change_password(
                    session,
                    actor(),
                    form.get("current_password", ""),
                    form.get("new_password", ""),
                    form.get("new_password_again", ""),
                    request.remote_addr or "",
                )
                if not isinstance(result, account.WrongCurrentPassword):
                    session_id = sessions.start(session, actor().user_id)  # the others ended; this one goes on
                    if actor().other_clinics:
                        sessions.choose_clinic(session, session_id, actor().clinic_id)
                    renewed = actor_for(session, actor().user_id, actor().clinic_id)
            if isinstance(result, account.WrongCurrentPassword):
                return render_template("administration/account.html", errors=result.errors), 422
            flask_session.clear()
            flask_session["sid"] = session_id
            login_user(WebUser(renewed))
            flash(result, "success")
            return redirect(url_for("auth.home"))
        except Invalid as exc:
            errors, status = exc.errors, 422
        except TooManyAttempts as exc:
            errors = {"current_password": exc.message}
            return (
                render_template("administration/account.html", errors=errors),
                429,
                {"Retry-After": str(exc.retry_after)},
            )
    return render_template("administration/account.html", errors=errors), status


@account_bp.post("/account/clinic")
@login_required
def choose_clinic():
    """People who work in several clinics act in one at a time: the header's clinic switch."""
    wanted = small_int(request.form.get("clinic", ""))
    if wanted == actor().clinic_id:
        return redirect(url_for("auth.home"))
    if wanted not in {clinic_id for clinic_id, _ in actor().other_clinics}:
        flash("You have no role in that clinic.", "error")
        return redirect(url_for("auth.home"))
    with uow() as session:
        sessions.choose_clinic(session, flask_session.get("sid"), wanted, actor().user_id)
        chosen = actor_for(session, actor().user_id, wanted)
    login_user(WebUser(chosen))
    flash(f"You now work in {chosen.clinic_name}.", "success")
    return redirect(url_for("auth.home"))
