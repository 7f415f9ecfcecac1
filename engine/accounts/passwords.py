"""What a password must be, and one-time passwords an administrator hands out.

A password has at least 12 characters, is not the username, and is not common or guessable: zxcvbn (Dropbox's
strength estimator, the `zxcvbn` package) must score it at least 3 of 4, with the person's own names and the
product's words counted as guessable.
"""

from __future__ import annotations

import secrets

from zxcvbn import zxcvbn

from engine.errors import Invalid

MIN_LENGTH = 12
MIN_SCORE = 3
PRODUCT_WORDS = ("clinic", "billing", "invoice", "northside", "lakeside", "demo")


def check_new_password(password: str, username: str, full_name: str = "", field: str = "password") -> None:
    """Invalid naming `field` with what to do, unless the password is acceptable."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        raise Invalid({field: f"Password must have at least {MIN_LENGTH} characters."})
    if password.strip().lower() == (username or "").strip().lower():
        raise Invalid({field: "Password must not be the username."})
    words = [username, *full_name.split(), *PRODUCT_WORDS]
    result = zxcvbn(password[:100], user_inputs=[w for w in words if w])
    if result["score"] < MIN_SCORE:
        feedback = result["feedback"]
        hint = feedback.get("warning") or "It is easy to guess."
        suggestion = " ".join(feedback.get("suggestions") or []) or "Use a few uncommon words together."
        raise Invalid({field: f"Password is too easy to guess: {hint.rstrip('.')}. {suggestion}"})


def one_time_password() -> str:
    """A password an administrator hands to a person once; they must choose their own at the next login."""
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))
