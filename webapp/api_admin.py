"""The JSON API for administration: the clinic's settings, users and API keys (clinic administrator) and the
installation's clinics (installation administrator). Routes of the `api` blueprint (same tokens, errors and
idempotency); the rules are engine.usecases.people, clinics and integrations.
"""

from __future__ import annotations

from flask import g, jsonify, request

from engine.accounts.permissions import Permission, require
from engine.errors import Invalid
from engine.reads.representations import iso
from engine.usecases import clinics, integrations, people

from .api import body, bp, idempotent
from .plumbing import small_int, uow


def _clinic_param() -> int | None:
    raw = request.args.get("clinic")
    if raw in (None, ""):
        return None
    if small_int(raw) is None:
        raise Invalid({"clinic": "clinic must be a clinic id (a whole number)."})
    return small_int(raw)


def _settings_json(settings: clinics.ClinicSettings, clinic_id: int) -> dict:
    return {
        "id": clinic_id,
        "name": settings.name,
        "cancellation_workflow": settings.cancellation_mode,
        "timezone": settings.timezone,
        "locale": settings.locale,
        "currency": settings.currency,
        "reminder_after": settings.reminder_after,
        "escalate_after": settings.escalate_after,
    }


def _text(data: dict, name: str) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise Invalid({name: f"Send {name} as a string."})
    return value


def _wanted(data: dict, name: str = "") -> clinics.ClinicSettings:
    return clinics.ClinicSettings(
        name or _text(data, "name"),
        _text(data, "cancellation_workflow"),
        _text(data, "timezone"),
        _text(data, "locale"),
        _text(data, "currency"),
        _text(data, "reminder_after") if "reminder_after" in data else None,
        _text(data, "escalate_after") if "escalate_after" in data else None,
    )


# ---- the clinic's settings -----------------------------------------------------------------------------------


@bp.get("/clinic/settings")
def admin_settings():
    with uow(read_only=True) as session:
        clinic = clinics.own_clinic(session, g.actor)
        return jsonify(_settings_json(clinics.settings_of(clinic), clinic.id))


@bp.put("/clinic/settings")
def admin_change_settings():
    require(g.actor, Permission.CLINIC_SETTINGS)
    data = body()

    def action(session, actor):
        clinics.change_settings(session, actor, _wanted(data, name="-"))
        clinic = clinics.own_clinic(session, actor)
        return _settings_json(clinics.settings_of(clinic), clinic.id), 200

    return idempotent(action)


# ---- the clinic's users --------------------------------------------------------------------------------------


def _person_json(person: people.Person) -> dict:
    return {
        "id": person.id,
        "username": person.username,
        "full_name": person.full_name,
        "email": person.email,
        "active": person.active,
        "roles": list(person.roles),
        "last_login_at": iso(person.last_login_at),
    }


@bp.get("/clinic/users")
def admin_users():
    with uow(read_only=True) as session:
        found = people.clinic_people(session, g.actor, _clinic_param())
    return jsonify(items=[_person_json(p) for p in found], total=len(found))


@bp.post("/clinic/users")
def admin_add_user():
    require(g.actor, Permission.MANAGE_PEOPLE)
    data = body()
    roles = data.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Invalid({"roles": f"Send roles as a list of role ids: {', '.join(people.CLINIC_ROLES)}."})
    wanted = people.NewPerson(_text(data, "username"), _text(data, "full_name"), _text(data, "email"), tuple(roles))
    clinic_id = _clinic_param()

    def action(session, actor):
        _message, password = people.add_user(session, actor, wanted, clinic_id)
        person = people.person(session, actor, wanted.username.strip(), clinic_id)
        return _person_json(person) | {"one_time_password": password}, 201

    return idempotent(action)


# One rule for both methods: an id out of range is then 404 for each (two rules would make werkzeug answer 405).
@bp.route("/clinic/users/<id:user_id>", methods=["GET", "PATCH"])
def admin_user(user_id: int):
    if request.method == "PATCH":
        return _change_user(user_id)
    with uow(read_only=True) as session:
        username = people.username_of(session, g.actor, user_id, _clinic_param())
        return jsonify(_person_json(people.person(session, g.actor, username, _clinic_param())))


def _change_user(user_id: int):
    require(g.actor, Permission.MANAGE_PEOPLE)
    data = body()
    roles, active = data.get("roles"), data.get("active")
    if roles is not None and (not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)):
        raise Invalid({"roles": f"Send roles as a list of role ids: {', '.join(people.CLINIC_ROLES)}."})
    if active is not None and not isinstance(active, bool):
        raise Invalid({"active": "Send active as true or false."})
    clinic_id = _clinic_param()

    def action(session, actor):
        username = people.username_of(session, actor, user_id, clinic_id)
        if roles is not None:
            people.set_roles(session, actor, username, roles, clinic_id)
        if active is not None:
            people.set_active(session, actor, username, active, clinic_id)
        return _person_json(people.person(session, actor, username, clinic_id)), 200

    return idempotent(action)


@bp.post("/clinic/users/<id:user_id>/password")
def admin_reset_password(user_id: int):
    clinic_id = _clinic_param()

    def action(session, actor):
        username = people.username_of(session, actor, user_id, clinic_id)
        _message, password = people.reset_password(session, actor, username, clinic_id)
        return {"one_time_password": password}, 200

    return idempotent(action)


# ---- the clinic's API keys -----------------------------------------------------------------------------------


def _key_json(key: integrations.KeyRow) -> dict:
    return {
        "id": key.id,
        "name": key.name,
        "account": key.account,
        "status": key.status.lower(),
        "created_at": iso(key.created_at),
        "expires_at": iso(key.expires_at),
        "last_used_at": iso(key.last_used_at),
    }


@bp.get("/clinic/api-keys")
def admin_keys():
    with uow(read_only=True) as session:
        found = integrations.list_keys(session, g.actor)
    return jsonify(items=[_key_json(k) for k in found], total=len(found))


@bp.post("/clinic/api-keys")
def admin_create_key():
    require(g.actor, Permission.MANAGE_INTEGRATIONS)
    data = body()
    name, expires_on = _text(data, "name"), data.get("expires_on") or ""
    if not isinstance(expires_on, str):
        raise Invalid({"expires_on": "Send expires_on as a date, YYYY-MM-DD, or leave it out."})

    def action(session, actor):
        _message, key, key_id = integrations.create_key(session, actor, name, expires_on)
        created = integrations.list_keys(session, actor, key_id)[0]
        return _key_json(created) | {"key": key}, 201

    return idempotent(action)


@bp.delete("/clinic/api-keys/<id:key_id>")
def admin_revoke_key(key_id: int):
    def action(session, actor):
        integrations.revoke_key(session, actor, key_id)
        return {"id": key_id, "status": "revoked"}, 200

    return idempotent(action)


# ---- the installation's clinics ------------------------------------------------------------------------------


@bp.get("/clinics")
def admin_clinics():
    with uow(read_only=True) as session:
        found = clinics.list_clinics(session, g.actor)
        items = [_settings_json(clinics.settings_of(c), c.id) for c in found]
    return jsonify(items=items, total=len(items))


@bp.post("/clinics")
def admin_create_clinic():
    require(g.actor, Permission.MANAGE_CLINICS)
    data = body()
    admin = data.get("admin")
    if not isinstance(admin, dict):
        raise Invalid({"admin": 'Send admin: {"username": ...} for an existing user, or also full_name and email.'})
    existing_name = _text(admin, "username") if not admin.get("full_name") else ""
    new_admin = (
        None
        if existing_name
        else people.NewPerson(_text(admin, "username"), _text(admin, "full_name"), _text(admin, "email"), ())
    )

    def action(session, actor):
        _message, password = clinics.create_clinic(session, actor, _wanted(data), existing_name, new_admin)
        clinic = clinics.find_clinic(session, actor, _text(data, "name"))
        return _settings_json(clinics.settings_of(clinic), clinic.id) | {"admin_one_time_password": password}, 201

    return idempotent(action)


@bp.patch("/clinics/<id:clinic_id>")
def admin_rename_clinic(clinic_id: int):
    require(g.actor, Permission.MANAGE_CLINICS)
    data = body()

    def action(session, actor):
        clinics.rename_clinic(session, actor, clinic_id, _text(data, "name"))
        clinic = clinics.find_clinic(session, actor, clinic_id)
        return _settings_json(clinics.settings_of(clinic), clinic.id), 200

    return idempotent(action)
