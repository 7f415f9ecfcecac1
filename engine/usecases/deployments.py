"""Analysts own the processes: storing versions, deploying processes/ at start-up and an uploaded file, listing
versions and their files, comparing two versions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from SpiffWorkflow.bpmn.util.diff import SpecDiff
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from engine.accounts.permissions import Permission, require
from engine.accounts.users import Actor
from engine.errors import Invalid, NotFound, ProcessesInvalid
from engine.models import AuditEvent, Deployment, ProcessInstance, ProcessVersion
from engine.reads.diagram_changes import DiagramChanges, diagram_changes
from engine.reads.offers import latest_version
from engine.vocabulary import ACTIVE_INSTANCE_STATUSES, AuditAction, DeploymentOutcome
from engine.workflow.forms import FieldDef, describe_form
from engine.workflow.parsing import MAX_FILE_BYTES, PROCESSES_DIR, LoadedProcess, Source, load_directory, parse_sources
from engine.workflow.runtime import WorkflowRuntime, runtime_of

from .blockers import refresh_stale

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,150}\.(bpmn|dmn)$")


def _may_view(actor: Actor) -> None:
    require(actor, Permission.VIEW_PROCESSES)


# ---- storing versions ----------------------------------------------------------------------------------------


def store_version(session: Session, runtime: WorkflowRuntime, loaded: LoadedProcess, deployed_by: str):
    """A process version stored once per content hash, and whether it is new; safe when two workers start
    together (the loser of the race finds the winner's row)."""
    query = select(ProcessVersion).where(
        ProcessVersion.process_id == loaded.process_id, ProcessVersion.content_hash == loaded.content_hash
    )
    existing = session.scalar(query)
    if existing is not None:
        return existing, DeploymentOutcome.UNCHANGED
    latest = session.scalar(
        select(func.max(ProcessVersion.version)).where(ProcessVersion.process_id == loaded.process_id)
    )
    version = ProcessVersion(
        process_id=loaded.process_id,
        name=loaded.name,
        version=(latest or 0) + 1,
        content_hash=loaded.content_hash,
        source_files=json.dumps(loaded.files),
        spec_json=runtime.spec_json_of(loaded),
        deployed_by=deployed_by,
    )
    try:
        with session.begin_nested():
            session.add(version)
    except IntegrityError:
        return session.scalars(query).one(), DeploymentOutcome.UNCHANGED
    return version, DeploymentOutcome.NEW_VERSION


def deploy_processes(
    session: Session, directory: Path = PROCESSES_DIR, deployed_by: str = "system"
) -> list[ProcessVersion]:
    """Start-up: validate every file of the folder (raises ProcessesInvalid: a broken file stops start-up)
    and store new versions by content hash, each recorded as a deployment like an upload."""
    runtime = runtime_of(session)
    versions = []
    for process in load_directory(directory, runtime.operation_names).values():
        version, outcome = store_version(session, runtime, process, deployed_by)
        if outcome == DeploymentOutcome.NEW_VERSION:
            for name in sorted(process.files):
                session.add(
                    Deployment(filename=name, deployed_by=deployed_by, process_version_id=version.id, outcome=outcome)
                )
        versions.append(version)
    session.flush()
    refresh_stale(session)
    return versions


# ---- reading versions ----------------------------------------------------------------------------------------


@dataclass
class VersionRow:
    version: ProcessVersion
    running: int
    latest: bool = False  # the version new instances use


@dataclass
class ProcessRow:
    process_id: str
    name: str
    versions: list[VersionRow]


def list_processes(session: Session, actor: Actor) -> list[ProcessRow]:
    """Each process with its versions, newest first, and its running instances (the admin's clinic only)."""
    _may_view(actor)
    counts = select(ProcessInstance.process_version_id, func.count()).where(
        ProcessInstance.status.in_(ACTIVE_INSTANCE_STATUSES)
    )
    if not actor.is_analyst:
        counts = counts.where(ProcessInstance.clinic_id == actor.clinic_id)
    running = dict(session.execute(counts.group_by(ProcessInstance.process_version_id)).all())
    rows: dict[str, ProcessRow] = {}
    versions = session.scalars(
        select(ProcessVersion)
        .options(undefer(ProcessVersion.source_files))  # the page lists each version's files
        .order_by(ProcessVersion.process_id, ProcessVersion.version.desc())
    )
    for version in versions:
        row = rows.setdefault(version.process_id, ProcessRow(version.process_id, version.name, []))
        row.versions.append(VersionRow(version, running.get(version.id, 0)))
    for row in rows.values():
        latest = latest_version(session, row.process_id)
        for line in row.versions:
            line.latest = latest is not None and line.version.id == latest.id
    return list(rows.values())


def make_latest(session: Session, actor: Actor, version_id: int) -> str:
    """Roll back (or forward): new instances use this version from now on, recorded as a deployment."""
    require(actor, Permission.DEPLOY)
    version = session.get(ProcessVersion, version_id)
    if version is None:
        raise NotFound(f"Process version {version_id} does not exist.")
    current = latest_version(session, version.process_id)
    if current is not None and current.id == version.id:
        return f"{version.name} version {version.version} already is the latest."
    bpmn = next(name for name in version.files if name.lower().endswith(".bpmn"))
    session.add(
        Deployment(
            filename=bpmn,
            deployed_by=actor.username,
            process_version_id=version.id,
            outcome=DeploymentOutcome.UNCHANGED,
        )
    )
    session.flush()
    refresh_stale(session)
    return f"{version.name} version {version.version} is the latest again: new cancellations use it."


def get_version(session: Session, actor: Actor, version_id: int) -> ProcessVersion:
    _may_view(actor)
    version = session.get(ProcessVersion, version_id)
    if version is None:
        raise NotFound(f"Process version {version_id} does not exist.")
    return version


def recent_deployments(session: Session, actor: Actor, limit: int = 20) -> list[Deployment]:
    _may_view(actor)
    return list(session.scalars(select(Deployment).order_by(Deployment.id.desc()).limit(limit)))


# ---- compare -------------------------------------------------------------------------------------------------


@dataclass
class TaskChange:
    element_id: str
    name: str
    what: list[str] = field(default_factory=list)
    fields_added: list[str] = field(default_factory=list)
    fields_removed: list[str] = field(default_factory=list)
    fields_changed: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    old: ProcessVersion
    new: ProcessVersion
    added: list[str]
    removed: list[str]
    changed: list[TaskChange]
    files_changed: list[str]
    elements: DiagramChanges  # the drawn elements added, changed and removed: what the diagrams colour


def _name(spec) -> str:
    return f"{spec.bpmn_name or spec.name} ({spec.name})"


def _field_words(f: FieldDef) -> dict:
    return {
        "label": f.label,
        "type": f.type,
        "required": f.required,
        "required if": f.required_if,
        "minimum length": f.minlength,
        "maximum length": f.maxlength,
        "minimum": f.min,
        "maximum": f.max,
        "read-only": f.readonly,
        "choices": ", ".join(o.name for o in f.options) or None,
        "default": f.default,
    }


def _form_changes(old_spec, new_spec, change: TaskChange) -> None:
    old_form, new_form = describe_form(old_spec), describe_form(new_spec)
    old_fields = {f.id: f for f in old_form.fields}
    new_fields = {f.id: f for f in new_form.fields}
    change.fields_added = [f"{new_fields[i].label} ({i})" for i in new_fields if i not in old_fields]
    change.fields_removed = [f"{old_fields[i].label} ({i})" for i in old_fields if i not in new_fields]
    for field_id in old_fields.keys() & new_fields.keys():
        before, after = _field_words(old_fields[field_id]), _field_words(new_fields[field_id])
        for key in before:
            if before[key] != after[key]:
                change.fields_changed.append(f"{after['label']} ({field_id}): {key} {before[key]!r} → {after[key]!r}")


_ATTRIBUTE_NAMES = {"bpmn_name": "name", "script": "script", "lane": "lane", "documentation": "documentation"}


def _attribute_words(old_spec, new_spec, attributes) -> list[str]:
    """`bpmn_name` -> `name 'Review request' → 'Review the request'`; other attributes by name."""
    words = []
    for attribute in sorted(attributes):
        before, after = getattr(old_spec, attribute, None), getattr(new_spec, attribute, None)
        label = _ATTRIBUTE_NAMES.get(attribute, attribute.replace("_", " "))
        if isinstance(before, str | int | type(None)) and isinstance(after, str | int | type(None)):
            words.append(f"{label} {before!r} → {after!r}")
        else:
            words.append(f"{label} changed")
    return words


# Task specs SpiffWorkflow adds around boundary events and at the end: no element an analyst drew.
_INTERNAL_SPECS = (".BoundaryEventSplit", ".BoundaryEventJoin", ".EndJoin")


def compare(session: Session, actor: Actor, old_id: int, new_id: int) -> Comparison:
    """Tasks added, removed and changed between two versions of a process, and each changed form's fields."""
    old, new = get_version(session, actor, old_id), get_version(session, actor, new_id)
    if old.process_id != new.process_id:
        raise Invalid({"new": "Compare two versions of the same process."})
    runtime = runtime_of(session)
    old_spec, new_spec = runtime.spec_of(old).spec, runtime.spec_of(new).spec
    diff = SpecDiff(runtime.serializer.registry, old_spec, new_spec)
    changed = []
    for spec, attributes in diff.changed.items():
        change = TaskChange(
            spec.name, spec.bpmn_name or spec.name, _attribute_words(spec, diff.alignment[spec], attributes)
        )
        if getattr(spec, "manual", False) and getattr(diff.alignment.get(spec), "manual", False):
            _form_changes(spec, diff.alignment[spec], change)
        if change.what or change.fields_added or change.fields_removed or change.fields_changed:
            changed.append(change)
    # SpecDiff does not compare lanes: who does a task is a change analysts care about.
    for spec, aligned in diff.alignment.items():
        if aligned is not None and getattr(spec, "lane", None) != getattr(aligned, "lane", None):
            entry = next((c for c in changed if c.element_id == spec.name), None)
            if entry is None:
                entry = TaskChange(spec.name, spec.bpmn_name or spec.name)
                changed.append(entry)
            entry.what.append(f"lane {spec.lane!r} → {aligned.lane!r}")
    old_files, new_files = old.files, new.files
    files_changed = sorted(n for n in old_files.keys() | new_files.keys() if old_files.get(n) != new_files.get(n))
    return Comparison(
        old=old,
        new=new,
        added=[_name(s) for s in diff.added if s.bpmn_id],
        removed=[_name(s) for s in diff.removed if s.bpmn_id],
        changed=[c for c in changed if not c.element_id.endswith(_INTERNAL_SPECS)],
        files_changed=files_changed,
        elements=diagram_changes(old.bpmn_xml, new.bpmn_xml),
    )


# ---- deploy --------------------------------------------------------------------------------------------------


@dataclass
class DeployResult:
    deployments: list[Deployment]
    message: str
    nothing_changed: bool = False  # every process already had this content as its latest version


def _current_sources(session: Session) -> dict[str, Source]:
    """The files of every process's latest version: the set an uploaded file joins or replaces."""
    latest = (
        select(ProcessVersion.process_id, func.max(ProcessVersion.version).label("v"))
        .group_by(ProcessVersion.process_id)
        .subquery()
    )
    versions = session.scalars(
        select(ProcessVersion)
        .options(undefer(ProcessVersion.source_files))
        .join(latest, (latest.c.process_id == ProcessVersion.process_id) & (latest.c.v == ProcessVersion.version))
    )
    sources: dict[str, Source] = {}
    for version in versions:
        for name, text in version.files.items():
            sources[name] = Source(name, name, text)
    return sources


def check_upload(filename: str, data: bytes) -> Source:
    """The upload as a Source, or Invalid with what to do (file name, size, encoding)."""
    name = (filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if not _SAFE_NAME.match(name):
        raise Invalid({"file": "Choose a .bpmn or .dmn file (letters, digits, dots, dashes and underscores)."})
    if len(data) > MAX_FILE_BYTES:
        raise Invalid({"file": f"{name} is over 1 MB: upload the diagram file itself."})
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid({"file": f"{name} is not UTF-8 text: save it from the modeller as XML."}) from None
    return Source(name, name, text)


def validate_upload(session: Session, source: Source) -> list[LoadedProcess]:
    """Validate exactly as `make validate` does, among the deployed files; ProcessesInvalid on problems.

    A BPMN file is checked with the deployed DMN files; a DMN file with every deployed process, and the
    processes that use it are the ones it changes.
    """
    sources = _current_sources(session)
    sources[source.name] = source
    is_bpmn = source.name.lower().endswith(".bpmn")
    chosen = [s for s in sources.values() if s.name.lower().endswith(".dmn") or not is_bpmn or s.name == source.name]
    processes = parse_sources(chosen, runtime_of(session).operation_names)
    return [p for p in processes.values() if source.name in p.files]


def deploy(session: Session, actor: Actor, filename: str, data: bytes) -> DeployResult:
    """Deploy one uploaded file: validated like `make validate`; a new version only where content changed."""
    require(actor, Permission.DEPLOY)
    source = check_upload(filename, data)
    try:
        processes = validate_upload(session, source)
    except ProcessesInvalid as exc:
        raise Invalid({"file": "\n".join(p.message for p in exc.problems)}) from None
    if not processes:  # a BPMN file without an executable process is refused by the validation above
        raise Invalid({"file": f"{source.name} is used by no process: deploy the BPMN file that uses it first."})
    deployments, was_latest = [], {}
    runtime = runtime_of(session)
    for loaded in processes:
        current = latest_version(session, loaded.process_id)
        version, outcome = store_version(session, runtime, loaded, actor.username)
        was_latest[version.id] = current is not None and current.id == version.id
        deployment = Deployment(
            filename=source.name, deployed_by=actor.username, process_version_id=version.id, outcome=outcome
        )
        session.add(deployment)
        session.flush()
        deployments.append(deployment)
        details = {"file": source.name, "process": loaded.process_id, "version": version.version, "outcome": outcome}
        event = AuditEvent(actor_id=actor.user_id, action=AuditAction.PROCESS_DEPLOYED, details=json.dumps(details))
        session.add(event)
    refresh_stale(session)  # a changed table judges the open invoices again, in this deploy's transaction
    message = _deploy_message(deployments, was_latest)
    return DeployResult(deployments, message, nothing_changed=all(was_latest.values()))


def _deploy_message(deployments: list[Deployment], was_latest: dict[int, bool]) -> str:
    """What the upload did to each process it belongs to, in the analyst's words."""
    several = len(deployments) > 1
    parts = []
    for d in deployments:
        version = d.version
        if d.outcome == DeploymentOutcome.NEW_VERSION:
            parts.append(f"Deployed: {version.name} is now version {version.version}.")
        elif was_latest[version.id]:
            prefix = f"{version.name}: " if several else ""
            parts.append(f"{prefix}No change: identical to the latest version, {version.version}.")
        else:  # the content of an earlier version: a rollback
            parts.append(f"Deployed: {version.name} is version {version.version} again (the latest).")
    return " ".join(parts)
