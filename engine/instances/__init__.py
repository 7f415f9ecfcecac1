"""Process instances and their lifecycle: the one module that changes an instance (`lifecycle`), the task rows
that mirror its user tasks, and the domain operations the diagrams call while it runs.

Imports workflow, accounts and the foundation.
"""
