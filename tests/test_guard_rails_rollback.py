"""Issue 9, item 3: rollback works. Latest is the most recent deployment; identity ignores a modeller's re-save."""

from __future__ import annotations

import json

from alembic import command
from helpers import RECORD, REQUEST, copy_with, task_url, upload
from sqlalchemy import create_engine, select, text

from engine.db import unit_of_work
from engine.models import Deployment, ProcessInstance, ProcessVersion
from engine.schema import alembic_config
from engine.usecases import migration
from engine.workflow.parsing import PROCESSES_DIR, content_hash
from webapp import create_app

PROCESS = "invoice_cancellation_request"


def versions(factory) -> list[ProcessVersion]:
    with unit_of_work(factory) as s:
        return list(
            s.scalars(select(ProcessVersion).where(ProcessVersion.process_id == PROCESS).order_by(ProcessVersion.id))
        )


def renamed() -> bytes:
    return copy_with(REQUEST, ('name="Review request"', 'name="Review the request"'))


def started_version(factory, number: str) -> int:
    with unit_of_work(factory) as s:
        return s.scalar(
            select(ProcessInstance.process_version_id)
            .join(ProcessInstance.version)
            .where(ProcessInstance.business_key.endswith(number))
        )


def test_uploading_an_earlier_versions_content_makes_it_latest_again(web, demo, session_factory):
    analyst = web("analyst")
    assert upload(analyst, REQUEST, renamed()).status_code == 302
    v1, v2 = versions(session_factory)
    back = upload(analyst, REQUEST, (PROCESSES_DIR / REQUEST).read_bytes())
    assert back.status_code == 302
    page = analyst.get("/admin/processes/").text
    assert "is version 1 again (the latest)" in page
    assert len(versions(session_factory)) == 2  # no new version: the content is stored once
    number = demo.invoice_numbers("NS")[0]
    web("billing").post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "x"})
    assert started_version(session_factory, number) == v1.id
    with unit_of_work(session_factory) as s:
        last = s.scalars(select(Deployment).order_by(Deployment.id.desc())).first()
    assert (last.deployed_by, last.process_version_id) == ("analyst", v1.id)


def test_make_latest_on_the_processes_page(web, demo, session_factory, db_snapshot):
    analyst = web("analyst")
    upload(analyst, REQUEST, renamed())
    v1, v2 = versions(session_factory)
    before = db_snapshot()
    assert web("admin").post(f"/admin/processes/versions/{v1.id}/make-latest").status_code == 403
    assert analyst.post(f"/admin/processes/versions/{v1.id}/make-latest", csrf=False).status_code == 400
    assert db_snapshot() == before
    page = analyst.get("/admin/processes/").text
    assert f'action="/admin/processes/versions/{v1.id}/make-latest"' in page
    assert f'action="/admin/processes/versions/{v2.id}/make-latest"' not in page  # v2 is the latest
    made = analyst.post(f"/admin/processes/versions/{v1.id}/make-latest", follow_redirects=True)
    assert "version 1 is the latest again" in made.text
    number = demo.invoice_numbers("NS")[1]
    web("billing").post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "x"})
    assert started_version(session_factory, number) == v1.id


def test_a_restart_never_undoes_an_analysts_deployment(web, demo, session_factory, database_url, tmp_path):
    upload(web("analyst"), REQUEST, renamed())
    v1, v2 = versions(session_factory)
    again = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x"})  # starts with processes/
    again.extensions["db_engine"].dispose()
    number = demo.invoice_numbers("NS")[2]
    web("billing").post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "x"})
    assert started_version(session_factory, number) == v2.id


def test_a_modellers_resave_is_the_same_version_but_a_script_indent_is_not(web, demo, session_factory):
    analyst = web("analyst")
    shipped = (PROCESSES_DIR / REQUEST).read_text()
    resaved = shipped.replace('exporter="hand-written" exporterVersion="1.0"', 'exporter="Camunda Modeler"')
    resaved = resaved.replace("\n    <", "\n\t\t<").replace("/>\n", "/>\n\n")
    answer = upload(analyst, REQUEST, resaved.encode())
    assert answer.status_code == 302 and len(versions(session_factory)) == 1
    assert "No change: identical to the latest version, 1." in analyst.get("/admin/processes/").text
    script = RECORD
    for indent in ("    ", "        "):  # the same script but for its indentation: two versions
        body = f"<bpmn:script>if True:\n{indent}submit_request(reason=reason, remarks=remarks)</bpmn:script>"
        assert upload(analyst, REQUEST, shipped.replace(script, body).encode()).status_code == 302
    assert len(versions(session_factory)) == 3


def test_instances_migrate_back_to_an_earlier_version(web, demo, session_factory):
    analyst = web("analyst")
    upload(analyst, REQUEST, renamed())
    v1, v2 = versions(session_factory)
    number = demo.invoice_numbers("NS")[3]
    demo.request("billing", number)
    assert started_version(session_factory, number) == v2.id
    result = migration.migrate(session_factory, demo.actor("analyst"), v2.id, v1.id)
    assert len(result.moved) == 1 and not result.refused
    assert started_version(session_factory, number) == v1.id


def test_the_data_migration_rehashes_stored_versions(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0008")
    files = {REQUEST: (PROCESSES_DIR / REQUEST).read_text()}
    raw = __import__("hashlib").sha256(json.dumps(sorted(files.items())).encode()).hexdigest()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO process_versions (process_id, name, version, content_hash, source_files, spec_json, "
                "deployed_at, deployed_by) VALUES (:p, 'x', 1, :h, :f, '{}', '2026-11-01 00:00:00', 'system')"
            ),
            {"p": PROCESS, "h": raw, "f": json.dumps(files)},
        )
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT content_hash FROM process_versions")) == content_hash(files)
    command.downgrade(cfg, "0008")
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT content_hash FROM process_versions")) == raw
    engine.dispose()
