"""Outputs shared by every audiometry procedure: the trial log and the audiogram (JSON / CSV export).

An ``Audiogram`` holds, per standard frequency, the threshold estimate (dB HL), its SD and 95% band, and a
``no_response`` flag: the threshold lies above the maximum safe level, so it can only be reported as "> max" (GP-PTA:
the posterior mean exceeds the maximum level; Hughson-Westlake: no response at the maximum level). JSON is the lossless
exchange format (``to_json``/``from_json`` round-trip); CSV is for spreadsheets and prints "> 120" style thresholds.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from audiometry.errors import AudiometryInputError
from simulator.atomic_io import atomic_write_text

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Trial:
    """One presentation: the stimulus, the answer, and safety flags."""

    index: int  # 1-based trial number
    freq_hz: float
    level_db_hl: float
    heard: bool
    clamped: bool = False  # the level the procedure wanted lay outside the safe range and was clamped
    no_response_at_max: bool = False  # presented at the maximum safe level and not heard


@dataclass
class Audiogram:
    """Thresholds at standard frequencies with uncertainty. Arrays are plain lists (JSON-ready), one entry per freq."""

    method: str
    freqs_hz: list[float]
    threshold_db_hl: list[float]
    sd_db: list[float]
    lower95_db_hl: list[float]
    upper95_db_hl: list[float]
    no_response: list[bool]
    level_range_db_hl: tuple[float, float]
    n_trials: int
    trials: list[Trial] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    below_range: list[bool] = field(default_factory=list)
    """Per frequency: the estimate lies below the tested range (under ``level_range_db_hl[0]``, the quietest tone
    presented): the listener heard everything, so the true threshold is only known to be at most that level. Derived
    from the thresholds when not given."""

    def __post_init__(self) -> None:
        n = len(self.freqs_hz)
        for name in ("threshold_db_hl", "sd_db", "lower95_db_hl", "upper95_db_hl", "no_response"):
            if len(getattr(self, name)) != n:
                raise AudiometryInputError(f"Audiogram.{name} has {len(getattr(self, name))} entries, expected {n}")
        self.level_range_db_hl = (float(self.level_range_db_hl[0]), float(self.level_range_db_hl[1]))
        if not self.below_range:
            self.below_range = [t < self.level_range_db_hl[0] for t in self.threshold_db_hl]
        if len(self.below_range) != n:
            raise AudiometryInputError(f"Audiogram.below_range has {len(self.below_range)} entries, expected {n}")
        self.trials = [t if isinstance(t, Trial) else Trial(**t) for t in self.trials]

    def as_dict(self) -> dict[float, float]:
        """{freq_hz: threshold dB HL}: the form compensation prescriptions take."""
        return dict(zip(self.freqs_hz, self.threshold_db_hl, strict=True))

    def display_value(self, i: int) -> str:
        """Threshold at index i as a clinician reads it: '35.0', '> 120' for no response at the maximum, or '< -10' for
        an estimate below the tested range (every tone heard)."""
        if self.no_response[i]:
            return f"> {self.level_range_db_hl[1]:g}"
        if self.below_range[i]:
            return f"< {self.level_range_db_hl[0]:g}"
        return f"{self.threshold_db_hl[i]:.1f}"

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise (lossless). Writes to ``path`` if given; returns the JSON text."""
        payload = asdict(self)
        payload["format"] = "hearloop.audiogram/1"
        text = json.dumps(payload, indent=2, allow_nan=False, default=_json_default)
        if path is not None:
            atomic_write_text(path, text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Audiogram:
        """Parse JSON text, or read it from a path."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text()
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as err:
            raise AudiometryInputError(f"audiogram JSON is malformed: {err}") from err
        if payload.pop("format", None) != "hearloop.audiogram/1":
            raise AudiometryInputError("not a hearloop audiogram JSON (missing format 'hearloop.audiogram/1')")
        payload["level_range_db_hl"] = tuple(payload["level_range_db_hl"])
        return cls(**payload)

    def to_csv(self, path: str | Path | None = None) -> str:
        """One row per frequency: freq_hz, threshold (or '> max'), sd, lower95, upper95, no_response."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["freq_hz", "threshold_db_hl", "sd_db", "lower95_db_hl", "upper95_db_hl", "no_response"])
        for i, f in enumerate(self.freqs_hz):
            writer.writerow(
                [
                    f"{f:g}",
                    self.display_value(i),
                    f"{self.sd_db[i]:.2f}",
                    f"{self.lower95_db_hl[i]:.1f}",
                    f"{self.upper95_db_hl[i]:.1f}",
                    int(self.no_response[i]),
                ]
            )
        text = buf.getvalue()
        if path is not None:
            atomic_write_text(path, text)
        return text

    def format_table(self) -> str:
        """A human-readable table for the terminal."""
        lines = [f"Audiogram ({self.method}, {self.n_trials} trials)", "  freq Hz   dB HL    95% band"]
        for i, f in enumerate(self.freqs_hz):
            band = f"[{self.lower95_db_hl[i]:.1f}, {self.upper95_db_hl[i]:.1f}]"
            lines.append(f"  {f:7g}  {self.display_value(i):>7}  {band}")
        return "\n".join(lines)


def _json_default(obj: object) -> object:
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def make_audiogram(method, freqs, mean, sd, level_range, no_response, trials, info=None) -> Audiogram:
    """Build an ``Audiogram`` from numpy arrays (mean/sd in dB), with 95% bands mean +/- 1.96 sd."""
    mean_l = [float(v) for v in mean]
    sd_l = [float(v) for v in sd]
    for v in mean_l + sd_l:
        if not math.isfinite(v):
            raise AudiometryInputError("audiogram values must be finite")
    return Audiogram(
        method=method,
        freqs_hz=[float(f) for f in freqs],
        threshold_db_hl=mean_l,
        sd_db=sd_l,
        lower95_db_hl=[m - Z95 * s for m, s in zip(mean_l, sd_l, strict=True)],
        upper95_db_hl=[m + Z95 * s for m, s in zip(mean_l, sd_l, strict=True)],
        no_response=[bool(v) for v in no_response],
        level_range_db_hl=level_range,
        n_trials=len(trials),
        trials=list(trials),
        info=dict(info or {}),
    )
