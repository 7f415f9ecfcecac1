"""Home > Administration > Import invoices: a clinic administrator imports the billing system's CSV export.

The rules are engine.usecases.invoice_import's (the same as PUT /api/invoices/{number}, row by row). Without
JavaScript the page posts the file and shows the report; with it (static/import-progress.js) the same POST
streams the progress, then the report.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, request, stream_with_context

from engine.accounts.permissions import Permission
from engine.errors import Invalid
from engine.usecases import invoice_import

from .auth import permission_required
from .plumbing import actor, uow

bp = Blueprint("imports", __name__, url_prefix="/admin")


class _DryRun(Exception):  # noqa: N818 - a signal, not an error
    pass


IMPORT_MAX_BYTES = 20 * 1024 * 1024  # about 250,000 rows of the billing system's export
SHOWN_PROBLEMS = 500


@bp.route("/invoices/import", methods=["GET", "POST"])
@permission_required(Permission.IMPORT_INVOICES)
def import_invoices():
    report, errors, dry_run, status = None, {}, False, 200
    if request.method == "POST":
        upload = request.files.get("file")
        dry_run = request.form.get("dry_run") == "1"
        if upload is None or not upload.filename:
            errors, status = {"file": "Choose the CSV file exported by the billing system."}, 422
        elif request.accept_mimetypes.best == NDJSON:
            return _streamed_import(upload.read(), dry_run)
        else:
            data = upload.read()
            try:
                with uow() as session:
                    report = invoice_import.import_invoices(session, actor(), data, f"CSV import by {actor().username}")
                    if dry_run:
                        raise _DryRun  # checked and reported: the unit of work rolls back
            except _DryRun:
                pass
            except Invalid as exc:
                errors, status = exc.errors, 422
    return render_template(
        "administration/import.html",
        report=report,
        errors=errors,
        dry_run=dry_run,
        header=invoice_import.HEADER,
        shown=SHOWN_PROBLEMS,
    ), status


NDJSON = "application/x-ndjson"


def _streamed_import(data: bytes, dry_run: bool) -> Response:
    """The import page's progress (static/import-progress.js): one JSON line per chunk of rows, then the report.
    The import is still one unit of work: it commits after the last chunk (a dry run rolls back), and a browser
    that goes away mid-way rolls it back."""
    total = invoice_import.expected_rows(data)

    def lines():
        report = invoice_import.ImportReport()
        try:
            with uow() as session:
                steps = invoice_import.import_in_steps(
                    session, actor(), data, f"CSV import by {actor().username}", report
                )
                for done in steps:
                    yield json.dumps({"done": done, "total": max(total, done)}) + "\n"
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        except Invalid as exc:
            yield json.dumps({"error": " ".join(exc.errors.values())}) + "\n"
            return
        shown = report.problems[:SHOWN_PROBLEMS]
        summary = {"summary": report.summary, "dry_run": dry_run, "problems": shown}
        yield json.dumps({"report": summary | {"more": len(report.problems) - len(shown)}}) + "\n"

    response = Response(stream_with_context(lines()), mimetype=NDJSON)
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front passes each line on at once
    return response
