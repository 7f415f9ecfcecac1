"""Start-up: validate processes/ and store each process version once (a broken file stops start-up)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Deployment, ProcessVersion
from .processes import PROCESSES_DIR, load_directory, store_version
from .runtime import operation_names, spec_json_of


def deploy_processes(
    session: Session, directory: Path = PROCESSES_DIR, deployed_by: str = "system"
) -> list[ProcessVersion]:
    """Validate every file of the folder (raises ProcessesInvalid) and store new versions by content hash."""
    versions = []
    for process in load_directory(directory, operation_names()).values():
        known = session.scalar(
            select(ProcessVersion.id).where(
                ProcessVersion.process_id == process.process_id, ProcessVersion.content_hash == process.content_hash
            )
        )
        version = store_version(session, process, spec_json_of(process), deployed_by)
        if known is None:  # a new version from the folder: recorded like an upload
            for name in sorted(process.files):
                session.add(
                    Deployment(
                        filename=name, deployed_by=deployed_by, process_version_id=version.id, outcome="new_version"
                    )
                )
        versions.append(version)
    return versions
