"""Home > Administration > Processes: versions, diagrams, files, compare, deploy (analysts) and migrate."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from engine.accounts.permissions import Permission
from engine.errors import Invalid
from engine.usecases import deployments, migration

from .auth import permission_required
from .plumbing import actor, session_factory, small_int, uow

bp = Blueprint("processes", __name__, url_prefix="/admin/processes")


def _int(name: str) -> int | None:
    return small_int(request.values.get(name))


@bp.get("/")
@permission_required(Permission.VIEW_PROCESSES)
def index():
    with uow(read_only=True) as session:
        processes = deployments.list_processes(session, actor())
        recent = deployments.recent_deployments(session, actor())
    return render_template("processes/index.html", processes=processes, recent=recent, errors={})


@bp.post("/deploy")
@permission_required(Permission.DEPLOY)
def deploy():
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise Invalid({"file": "Choose a .bpmn or .dmn file to deploy."})
        with uow() as session:
            result = deployments.deploy(session, actor(), upload.filename, upload.read(deployments.MAX_FILE_BYTES + 1))
    except Invalid as exc:
        with uow(read_only=True) as session:
            processes = deployments.list_processes(session, actor())
            recent = deployments.recent_deployments(session, actor())
        page = render_template("processes/index.html", processes=processes, recent=recent, errors=exc.errors)
        return page, 422
    flash(result.message, "info" if result.nothing_changed else "success")
    return redirect(url_for("processes.index"))


@bp.post("/versions/<id:version_id>/make-latest")
@permission_required(Permission.DEPLOY)
def make_latest(version_id: int):
    with uow() as session:
        message = deployments.make_latest(session, actor(), version_id)
    flash(message, "success")
    return redirect(url_for("processes.index"))


@bp.get("/versions/<id:version_id>")
@permission_required(Permission.VIEW_PROCESSES)
def version(version_id: int):
    with uow(read_only=True) as session:
        found = deployments.get_version(session, actor(), version_id)
        files = found.files
        diagram = {"xml": found.bpmn_xml, "ready": [], "completed": [], "failed": [], "flows": []}
    return render_template("processes/version.html", version=found, files=sorted(files), diagram=diagram)


@bp.get("/versions/<id:version_id>/files/<name>")
@permission_required(Permission.VIEW_PROCESSES)
def download(version_id: int, name: str):
    with uow(read_only=True) as session:
        files = deployments.get_version(session, actor(), version_id).files
    if name not in files:
        abort(404)
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(files[name], mimetype="application/xml", headers=headers)


@bp.get("/compare")
@permission_required(Permission.VIEW_PROCESSES)
def compare():
    old, new = _int("old"), _int("new")
    if old is None or new is None:
        raise Invalid({"old": "Choose the two versions to compare."})
    with uow(read_only=True) as session:
        result = deployments.compare(session, actor(), old, new)
        changes = result.elements
        diagrams = {
            "old": {"xml": result.old.bpmn_xml, "removed": changes.removed, "changed": changes.changed},
            "new": {"xml": result.new.bpmn_xml, "added": changes.added, "changed": changes.changed},
        }
    return render_template("processes/compare.html", c=result, diagrams=diagrams)


@bp.route("/migrate", methods=["GET", "POST"])
@permission_required(Permission.MIGRATE)
def migrate():
    source, target, task = _int("from"), _int("to"), request.values.get("task", "").strip()
    if source is None or target is None:
        raise Invalid({"to": "Choose the version to migrate from and the version to migrate to."})
    if request.method == "POST":
        result = migration.migrate(session_factory(), actor(), source, target, task)
        flash(f"{len(result.moved)} instance(s) migrated; {len(result.refused)} refused.", "success")
        return render_template("processes/migrate.html", lines=result.moved + result.refused, done=True,
                               source=source, target=target, task=task)  # fmt: skip
    with uow(read_only=True) as session:
        run = migration.dry_run(session, actor(), source, target, task)
    return render_template("processes/migrate.html", lines=run.lines, run=run, done=False,
                           source=source, target=target, task=task)  # fmt: skip
