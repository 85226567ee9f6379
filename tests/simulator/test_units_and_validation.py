"""Shared units, constants and input validation."""

import math

import pytest
import torch

import simulator
from simulator.constants import db_spl_to_pa_rms, pa_rms_to_db_spl
from simulator.validation import validate_audio, validate_nu, validate_sample_rate


def test_rates_and_frames_follow_design():
    assert simulator.SAMPLE_RATE == 24414.0625
    assert simulator.BIN_RATE == pytest.approx(762.939453125)
    assert simulator.FRAME_SAMPLES // 32 == 256 and simulator.CONTEXT_SAMPLES // 32 == 64
    assert simulator.N_CLASSES == 5


def test_db_spl_round_trip_and_one_pascal_is_94_db():
    assert pa_rms_to_db_spl(1.0) == pytest.approx(93.98, abs=0.01)
    for level in (0.0, 40.0, 94.0, 120.0):
        assert pa_rms_to_db_spl(db_spl_to_pa_rms(level)) == pytest.approx(level)
    with pytest.raises(ValueError, match="positive"):
        pa_rms_to_db_spl(0.0)


def test_validate_audio_rejects_bad_input_with_named_problem():
    with pytest.raises(simulator.HearloopInputError, match="non-finite"):
        validate_audio(torch.tensor([[0.0, math.nan]]))
    with pytest.raises(simulator.HearloopInputError, match=r"\(batch, samples\)"):
        validate_audio(torch.zeros(10))
    with pytest.raises(simulator.HearloopInputError, match=r"torch\.Tensor"):
        validate_audio([[0.0]])
    out = validate_audio(torch.zeros(2, 5, dtype=torch.float64))
    assert out.dtype == torch.float32 and out.shape == (2, 5)


def test_validate_nu_checks_range_and_dimension():
    with pytest.raises(simulator.HearloopInputError, match=r"\[0, 1\]"):
        validate_nu(torch.tensor([[0.5, 1.2, 0.1]]), 3)
    with pytest.raises(simulator.HearloopInputError, match="D=3"):
        validate_nu(torch.rand(2, 3), 6)
    assert validate_nu(torch.full((3,), 0.5), 3).shape == (1, 3)


def test_validate_sample_rate_names_the_rates():
    validate_sample_rate(24414.0625)
    with pytest.raises(simulator.HearloopInputError, match="44100"):
        validate_sample_rate(44100)


def test_every_hearloop_error_derives_from_one_base_and_keeps_its_builtin_parent():
    import audiometry.errors as aud
    import simulator.errors as err
    from simulator.data.recordings import RecordingNotFoundError

    builtin = {
        err.HearloopInputError: ValueError,
        err.RecordingFormatError: ValueError,
        err.SpecError: ValueError,
        err.MissingFileError: FileNotFoundError,
        err.UnknownNameError: KeyError,
        err.HearloopStateError: RuntimeError,
        err.CheckpointError: RuntimeError,
        RecordingNotFoundError: FileNotFoundError,
        aud.AudiometryInputError: ValueError,
        aud.AudiometryStateError: RuntimeError,
        aud.SessionAborted: RuntimeError,
    }
    for cls, parent in builtin.items():
        assert issubclass(cls, err.HearloopError) and issubclass(cls, parent), cls
    # the families stay apart, so an ``except HearloopInputError`` catches no more than before
    assert not issubclass(err.RecordingFormatError, err.HearloopInputError)
    assert not issubclass(err.SpecError, err.HearloopInputError)
