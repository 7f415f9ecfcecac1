"""invoice search by index: SQLite an FTS5 table with the trigram tokenizer over each invoice's number, patient
name and patient id (external content: the invoices table; triggers keep it in step in the statement that writes
the invoice, whatever writes it); PostgreSQL pg_trgm with a GIN index on the same three, lower-cased

A later revision that rebuilds `invoices` on SQLite (Alembic's batch mode copies the table) drops its triggers:
it must create the three below again.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

COLUMNS = "number, patient_name, patient_id"
NEW = "new.id, new.number, new.patient_name, new.patient_id"
OLD = "'delete', old.id, old.number, old.patient_name, old.patient_id"
SQLITE = [
    f"CREATE VIRTUAL TABLE invoice_search USING fts5({COLUMNS}, content='invoices', content_rowid='id', "
    "tokenize='trigram')",
    f"CREATE TRIGGER invoice_search_insert AFTER INSERT ON invoices BEGIN "
    f"INSERT INTO invoice_search (rowid, {COLUMNS}) VALUES ({NEW}); END",
    f"CREATE TRIGGER invoice_search_delete AFTER DELETE ON invoices BEGIN "
    f"INSERT INTO invoice_search (invoice_search, rowid, {COLUMNS}) VALUES ({OLD}); END",
    f"CREATE TRIGGER invoice_search_update AFTER UPDATE OF {COLUMNS} ON invoices BEGIN "
    f"INSERT INTO invoice_search (invoice_search, rowid, {COLUMNS}) VALUES ({OLD}); "
    f"INSERT INTO invoice_search (rowid, {COLUMNS}) VALUES ({NEW}); END",
    "INSERT INTO invoice_search (invoice_search) VALUES ('rebuild')",
]
POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_invoices_search ON invoices USING gin "
    "(lower(number) gin_trgm_ops, lower(patient_name) gin_trgm_ops, lower(patient_id) gin_trgm_ops)",
]


def upgrade() -> None:
    for statement in POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_invoices_search")  # pg_trgm stays: other databases' objects may use it
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER invoice_search_{trigger}")
    op.execute("DROP TABLE invoice_search")
