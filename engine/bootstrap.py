"""Start-up: validate processes/ and store each process version once (a broken file stops start-up)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from .models import ProcessVersion
from .processes import PROCESSES_DIR, load_directory, store_version
from .runtime import operation_names, spec_json_of


def deploy_processes(
    session: Session, directory: Path = PROCESSES_DIR, deployed_by: str = "system"
) -> list[ProcessVersion]:
    """Validate every file of the folder (raises ProcessesInvalid) and store new versions by content hash."""
    loaded = load_directory(directory, operation_names())
    return [store_version(session, proc, spec_json_of(proc), deployed_by) for proc in loaded.values()]
