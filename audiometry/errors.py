"""Error types of the audiometry package, under hearloop's one base :class:`simulator.errors.HearloopError`.

``audiometry`` imports nothing else of hearloop but this leaf module (and the frequency table):
- ``AudiometryInputError`` (a ``ValueError``; the CLI prints it as one clear line): bad input.
- ``AudiometryStateError`` (a ``RuntimeError``): a procedure driven out of order (``update`` without a pending
  stimulus, ``next_stimulus`` after the session is done).
- ``SessionAborted`` (a ``RuntimeError``): the responder quit.
"""

from __future__ import annotations

from simulator.errors import HearloopError


class AudiometryInputError(HearloopError, ValueError):
    """Bad input to a procedure: a non-finite or non-positive frequency, a level outside the safe range, ..."""


class AudiometryStateError(HearloopError, RuntimeError):
    """A procedure was driven out of order (no pending stimulus, a stimulus other than the one issued, session done)."""


class SessionAborted(HearloopError, RuntimeError):
    """The (human) responder quit the session."""
