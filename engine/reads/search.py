"""The invoice search of the invoice lists: a term matches anywhere in an invoice's number, patient name or
patient id, ignoring case (also beyond ASCII); a term of one or two characters matches the start of one of them.

It reads an index, not every invoice: on SQLite the FTS5 table `invoice_search` (trigram tokenizer, kept in
step with the invoices by triggers, migration 0027), on PostgreSQL pg_trgm's GIN index on the three columns,
lower-cased. A trigram index needs three characters, hence the shorter terms' prefix match.
"""

from __future__ import annotations

from itertools import product

from sqlalchemy import ColumnElement, bindparam, column, func, or_, select, table

from engine.models import Invoice

SHORTEST_ANYWHERE = 3  # characters: a shorter term matches the start of a number, name or id
_FIELDS = (Invoice.number, Invoice.patient_name, Invoice.patient_id)
_INDEX = table("invoice_search", column("rowid"))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def invoice_matches(term: str, dialect: str) -> ColumnElement[bool]:
    """The condition an invoice meets when `term` finds it, for the session's database (`dialect`)."""
    term = term.strip()
    if len(term) < SHORTEST_ANYWHERE:
        return _starts_with(term, dialect)
    if dialect == "sqlite":
        phrase = '"' + term.replace('"', '""') + '"'  # the term as it is, not FTS5 query syntax
        found = select(_INDEX.c.rowid).where(column("invoice_search").op("MATCH")(phrase))
        return Invoice.id.in_(found)
    like = f"%{_escape_like(term.lower())}%"
    return or_(*(func.lower(field).like(like, escape="\\") for field in _FIELDS))


def number_filter(term: str, dialect: str) -> tuple[str, str]:
    """Financial Approval's Invoice No. filter: an invoice whose number contains `term`, ignoring case. Returns how
    it reads and the value it binds (`number_condition`): "index", SQLite's FTS5 table with its number column
    alone (a phrase), or "like", lower(number) LIKE a pattern (PostgreSQL's GIN index covers lower(number)). A
    term of one or two characters is looked for in the numbers themselves."""
    term = term.strip()
    if dialect == "sqlite" and len(term) >= SHORTEST_ANYWHERE:
        return "index", 'number : "' + term.replace('"', '""') + '"'
    return "like", f"%{_escape_like(term.lower())}%"


def number_condition(how: str) -> ColumnElement[bool]:
    """The condition of `number_filter`, its value bound as :number (so the statement is built once)."""
    if how == "index":
        return Invoice.id.in_(select(_INDEX.c.rowid).where(column("invoice_search").op("MATCH")(bindparam("number"))))
    return func.lower(Invoice.number).like(bindparam("number"), escape="\\")


def _starts_with(term: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "sqlite":  # SQLite's LIKE folds ASCII only: each way of writing the term's letters is tried
        spellings = {"".join(chars) for chars in product(*({c.lower(), c.upper()} for c in term))}
        return or_(*(field.like(f"{_escape_like(s)}%", escape="\\") for field in _FIELDS for s in sorted(spellings)))
    like = f"{_escape_like(term.lower())}%"
    return or_(*(func.lower(field).like(like, escape="\\") for field in _FIELDS))
