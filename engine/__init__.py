"""The invoice cancellation engine: workflow runtime, domain services and persistence (no web code)."""
