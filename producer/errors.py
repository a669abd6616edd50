"""Errors the CLI reports as one line and a non-zero exit, never as a traceback."""

from __future__ import annotations


class LabError(Exception):
    """A failure the user can act on; ``exit_code`` 2 for bad input, 1 for a failed run or environment."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class BadInput(LabError):
    """An argument is invalid: exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=2)
