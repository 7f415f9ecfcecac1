"""Everything that is true without a web server: the workflow runtime, domain services and persistence.

Foundation modules sit here (`models`, `db`, `schema`, `errors`, `vocabulary`); the packages build on them
in this order, each importing only those before it (tests/test_architecture.py checks it):

    accounts -> workflow -> instances -> reads -> usecases

`cli` and `demo` are entry points on top. Flask never enters engine/ (ruff's banned imports).
"""
