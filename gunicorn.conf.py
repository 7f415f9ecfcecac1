"""gunicorn's settings for `make run` and every gunicorn started from this folder (gunicorn reads this file).

The access log names each request's path without its query string and leaves the referrer out: invoice
searches put patient names in query strings (`/api/invoices?q=Maria%20Tanaka`), and they must not reach logs.
"""

access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(L)ss'

# A sync worker that does not answer within `timeout` seconds is killed: the largest request is the CSV import
# of Administration > Import invoices (100,000 rows take about half a minute on SQLite, `make bench`), so allow
# it two minutes; the diagrams' code has its own 1 s budget per action (SCRIPT_TIME_LIMIT).
timeout = 120
