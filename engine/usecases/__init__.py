"""The entry points pages, API and CLI call, one function per user action, each inside the caller's unit of
work: cancellation (request, decide, cancel), instance administration, deployments and migration.

May import every other package.
"""
