"""What people and systems read: invoice lists and queues as SQL, what an invoice offers, monitoring,
an instance's detail, and the JSON representations of the API. Nothing here writes.

Imports instances, workflow, accounts and the foundation.
"""
