"""Bootstrap intervals over listeners: coverage, determinism, pairing and degenerate groups."""

import numpy as np
import pytest

from compensation.listener_statistics import bootstrap_mean, paired_difference
from simulator.errors import HearloopInputError


def test_interval_contains_the_mean_and_covers_the_true_mean_about_95_percent():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(200):
        g = bootstrap_mean(rng.normal(0.3, 0.1, 12), n_resamples=999, seed=1)
        assert g.low <= g.mean <= g.high and g.n == 12
        hits += g.low <= 0.3 <= g.high
    assert 0.85 <= hits / 200 <= 0.99  # BCa on 12 listeners is a little liberal


def test_same_values_same_interval_and_wider_for_fewer_listeners():
    rng = np.random.default_rng(1)
    values = rng.normal(0.0, 1.0, 40)
    assert bootstrap_mean(values, seed=3) == bootstrap_mean(values, seed=3)
    wide, narrow = bootstrap_mean(values[:8]), bootstrap_mean(values)
    assert wide.high - wide.low > narrow.high - narrow.low


def test_paired_difference_removes_the_listener_effect():
    rng = np.random.default_rng(2)
    listener = rng.normal(0.0, 1.0, 10)  # large between-listener spread, a small consistent gain
    a, b = listener + 0.05 + rng.normal(0.0, 0.005, 10), listener
    paired = paired_difference(a, b)
    assert paired.low > 0.0 and paired.mean == pytest.approx(0.05, abs=0.01)
    unpaired_low = bootstrap_mean(a).low - bootstrap_mean(b).high
    assert unpaired_low < 0.0  # comparing the two intervals would miss it


def test_degenerate_groups_and_bad_input():
    one = bootstrap_mean([0.4])
    assert one.mean == 0.4 and np.isnan(one.low) and str(one) == "+0.400"
    same = bootstrap_mean([0.2, 0.2, 0.2])
    assert same.low == same.high == pytest.approx(0.2)
    two = bootstrap_mean([0.1, 0.3])
    assert np.isfinite(two.low) and two.low <= 0.2 <= two.high
    for bad in ([], [0.1, float("nan")]):
        with pytest.raises(HearloopInputError):
            bootstrap_mean(bad)
    with pytest.raises(HearloopInputError):
        paired_difference([0.1, 0.2], [0.1])
    with pytest.raises(HearloopInputError):
        bootstrap_mean([0.1, 0.2], confidence=1.5)
