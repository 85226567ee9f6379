"""Error types of the audiometry package.

``audiometry`` imports nothing else of hearloop, so it defines its own small error hierarchy:
- ``AudiometryInputError`` (a ``ValueError``; the CLI prints it as one clear line): bad input.
- ``AudiometryStateError`` (a ``RuntimeError``): a procedure driven out of order (``update`` without a pending stimulus,
  ``next_stimulus`` after the session is done).
- ``SessionAborted`` (a ``RuntimeError``): the responder quit.
"""

from __future__ import annotations


class AudiometryInputError(ValueError):
    """Bad input to a procedure: a non-finite or non-positive frequency, a level outside the safe range, ..."""


class AudiometryStateError(RuntimeError):
    """A procedure was driven out of order (no pending stimulus, a stimulus other than the one issued, session done)."""


class SessionAborted(RuntimeError):
    """The (human) responder quit the session."""
