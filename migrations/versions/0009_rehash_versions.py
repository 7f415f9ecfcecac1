"""process versions are identified by canonical content: whitespace between elements and the modeller's
exporter attributes no longer make a new version; the stored versions are rehashed

The canonical form is written out here, as it was when this revision was made (engine.workflow.parsing holds
the living copy), so this revision gives the same result whatever later code says.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op
from lxml import etree

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _canonical(text: str) -> str:
    try:
        root = etree.fromstring(text.encode())  # noqa: S320 - stored, validated process files
    except etree.XMLSyntaxError:
        return text
    for name in ("exporter", "exporterVersion"):
        root.attrib.pop(name, None)
    for element in root.iter():
        if len(element) and element.text is not None and not element.text.strip():
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
    return etree.tostring(root, method="c14n").decode()


def _hash(files: dict) -> str:
    canonical = sorted((name, _canonical(text)) for name, text in files.items())
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()


def _raw_hash(files: dict) -> str:
    return hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()


def _rehash(new_hash) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, process_id, source_files FROM process_versions ORDER BY id")).all()
    taken = set()
    for version_id, process_id, source_files in rows:
        digest = new_hash(json.loads(source_files))
        if (process_id, digest) in taken:
            # the same diagram saved twice by a modeller: the earlier keeps the hash, the later stays distinct
            digest = "dup-" + digest[:60]
        taken.add((process_id, digest))
        conn.execute(
            sa.text("UPDATE process_versions SET content_hash = :h WHERE id = :i"), {"h": digest, "i": version_id}
        )


def upgrade() -> None:
    _rehash(_hash)


def downgrade() -> None:
    _rehash(_raw_hash)
