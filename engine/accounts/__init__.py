"""Who people are and what they may do: roles, users and password hashes, permissions, API tokens.

Imports only the foundation modules (models, errors, vocabulary).
"""
