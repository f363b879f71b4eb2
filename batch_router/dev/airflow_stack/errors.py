"""The one error the stack raises: it could not start, or did not do what was asked in time."""

from __future__ import annotations

__all__ = ["StackError"]


class StackError(RuntimeError):
    """The stack could not start, or did not do what was asked in time; the message says why and where."""
