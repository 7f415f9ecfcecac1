"""The workflow runtime over SpiffWorkflow: parsing and validating diagrams, forms, the restricted script
environment, and the runtime object (serializer, parsed specs, operations) built once at start-up.

Knows BPMN and SpiffWorkflow; knows nothing of invoices. Imports accounts (lane roles) and the foundation.
"""
