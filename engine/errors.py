"""Domain errors that carry a message a person can act on; each surface maps them to its status codes."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = "not_found"


class Unauthenticated(DomainError):
    """No valid credentials (the API's bearer token is missing, unknown, expired or revoked)."""

    code = "unauthenticated"


class TooManyAttempts(DomainError):
    """Too many failed logins from this address: wait `retry_after` seconds."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            f"Too many failed logins from your address: try again in {minutes} minute{'s' if minutes > 1 else ''}."
        )


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class Blocked(Conflict):
    """The cancellation blockers (processes/cancellation_blockers.dmn) say the invoice may not be cancelled now."""

    code = "blocked"


class Invalid(DomainError):
    """Form input that breaks a rule of the diagram's form: one message per field id."""

    code = "invalid"

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


class ProcessDefinitionError(DomainError):
    """A problem in a file of processes/: printed as `path:line: element-id: message`."""

    code = "process_definition"

    def __init__(self, path: str, line: int | None, element: str | None, message: str):
        self.path, self.line, self.element = path, line, element
        super().__init__(f"{path}:{line or 0}: {element or '-'}: {message}")


class ProcessesInvalid(Exception):
    """Start-up refused: one or more files of processes/ are broken."""

    def __init__(self, problems: list[ProcessDefinitionError]):
        self.problems = problems
        super().__init__("\n".join(p.message for p in problems))
