"""Fitting nu to new animals: objective, gradient fit, BO with the 2% rule, subsets, unseen-animal reference, PCA."""

import numpy as np
import pytest
import torch

from listeners.fit_objective import NuFitObjective, recording_subset
from listeners.fit_result import evaluations_to_criterion, within_tolerance
from listeners.gradient_fit import gradient_fit, target_loss
from listeners.loss_surface import loss_surface, principal_axes
from listeners.nu_fitting import bo_fit
from simulator import build_model
from simulator.constants import DOWNSAMPLE, SAMPLE_RATE
from simulator.data.recording_types import AnimalRecording, SoundRecording
from simulator.errors import HearloopInputError
from simulator.training.losses import spike_count_cross_entropy

NU_TRUE = np.array([0.8, 0.2, 0.65])


@pytest.fixture(scope="module")
def setup():
    """A tiny model and an 'animal' whose counts are drawn from the model itself at NU_TRUE (known optimum)."""
    torch.manual_seed(0)
    model = build_model("tiny", n_params=3, n_animals=2, seed=5).eval()
    with torch.no_grad():  # make nu matter (at init its effect on the logits is ~1e-4): amplify the nu pathway
        for k in (0, 2, 4):
            model.expander.net[k].weight.mul_(3.0)
        model.combiner.layers[0].weight[:, model.combiner.latent_channels :] *= 10.0
        model.decoder.proj.weight.mul_(10.0)
    gen = torch.Generator().manual_seed(1)
    sounds = []
    for k in range(3):
        audio = (0.05 * torch.randn(1, 4096, generator=gen)).float()
        probs = model.predict(audio, torch.tensor(NU_TRUE[None], dtype=torch.float32), grad=False)
        counts = torch.multinomial(probs.reshape(-1, 5), 1, generator=gen).reshape(probs.shape[:-1])
        sounds.append(SoundRecording(f"s{k}", "speech", audio[0].numpy(), counts.numpy().astype(np.uint8), 0.5 * k))
    return model, sounds


def test_objective_equals_the_training_cross_entropy_and_is_differentiable(setup):
    model, sounds = setup
    obj = NuFitObjective(model, sounds)
    nu = torch.tensor([[0.3, 0.6, 0.5]], requires_grad=True)
    loss = obj(nu)
    audio = torch.as_tensor(np.stack([s.audio for s in sounds]))
    counts = torch.as_tensor(np.stack([s.counts[0] for s in sounds]).astype(np.int64))
    direct = spike_count_cross_entropy(model.decode(model.encode(audio), nu.detach()), counts)
    assert loss.shape == (1,) and float(loss.detach()) == pytest.approx(float(direct), rel=1e-5)
    loss.sum().backward()
    assert nu.grad is not None and torch.isfinite(nu.grad).all() and nu.grad.abs().sum() > 0
    assert obj.evaluations == 1
    with pytest.raises(HearloopInputError, match="B x 3"):
        obj(torch.full((1, 6), 0.5))
    with pytest.raises(HearloopInputError, match=r"\[0, 1\]"):
        obj(torch.tensor([0.5, 1.5, 0.5]))


@pytest.mark.parametrize(("method", "steps"), [("lbfgs", 40), ("adam", 80)])
def test_gradient_fit_reaches_the_generating_loss(setup, method, steps):
    model, sounds = setup
    obj = NuFitObjective(model, sounds)
    true_loss = float(obj.losses(NU_TRUE[None])[0])
    start_loss = float(obj.losses(np.full((1, 3), 0.5))[0])
    fit = gradient_fit(obj, np.full(3, 0.5), steps=steps, method=method)
    assert fit.loss < start_loss
    assert fit.loss <= true_loss + 0.01 * abs(true_loss)  # the sampled data's optimum is at (or near) NU_TRUE
    assert fit.evaluations == len(fit.losses) == obj.evaluations <= steps
    assert fit.points.shape == (fit.evaluations, 3) and np.all((fit.points > 0) & (fit.points < 1))
    assert np.allclose(obj.losses(fit.points[-1:]), fit.losses[-1:], rtol=1e-5)  # the trace is the objective's
    stopped = gradient_fit(obj, np.full(3, 0.5), steps=steps, target=true_loss, tol=0.02, method=method)
    assert stopped.reached and stopped.evaluations < fit.evaluations
    assert stopped.evaluations == stopped.evaluations_to(true_loss)  # stopped at the first evaluation meeting it
    with pytest.raises(HearloopInputError, match="method"):
        gradient_fit(obj, method="sgd")
    with pytest.raises(HearloopInputError, match="nu0"):
        gradient_fit(obj, np.array([0.5, 1.2, 0.5]))


def test_bo_reaches_the_criterion_seeded_and_within_budget(setup):
    model, sounds = setup
    obj = NuFitObjective(model, sounds)
    target = target_loss(obj, np.vstack([np.full(3, 0.5), NU_TRUE]), steps=30)
    a = bo_fit(obj, n_init=4, max_evals=20, target=target.loss, tol=0.02, seed=3)
    b = bo_fit(obj, n_init=4, max_evals=20, target=target.loss, tol=0.02, seed=3)
    assert a.reached and a.evaluations <= 20
    assert np.array_equal(a.points, b.points) and np.array_equal(a.losses, b.losses)
    assert a.losses.min() > target.loss - 0.02 * target.loss
    # it stopped at the first evaluation meeting the rule (the Sobol start is evaluated as one batch)
    assert a.evaluations == max(4, a.evaluations_to(target.loss)) and a.evaluations_to(target.loss) > 1
    sobol = torch.quasirandom.SobolEngine(3, scramble=True, seed=3).draw(4, dtype=torch.float64).numpy()
    n = min(4, a.evaluations)
    assert np.allclose(a.points[:n], sobol[:n])
    budget = bo_fit(obj, n_init=4, max_evals=6, target=target.loss - 10.0, seed=0)  # unreachable target
    assert not budget.reached and budget.evaluations == 6
    with pytest.raises(HearloopInputError):
        bo_fit(obj, n_init=8, max_evals=4)


def test_evaluations_to_criterion_uses_the_best_so_far():
    losses = np.array([2.0, 1.5, 1.7, 1.02, 1.3])
    assert evaluations_to_criterion(losses, 1.0, 0.02) == 4
    assert evaluations_to_criterion(losses, 1.0, 0.6) == 2
    assert evaluations_to_criterion(losses, 0.5, 0.02) == np.inf
    assert within_tolerance(-0.98, -1.0, 0.02) and not within_tolerance(-0.97, -1.0, 0.02)


def test_recording_subset_keeps_early_training_sounds_cropped():
    n = 4 * DOWNSAMPLE * 100
    mk = lambda name, h, split: SoundRecording(  # noqa: E731
        name, "speech", np.zeros(n, np.float32), np.zeros((2 if split == "test" else 1, 2, n // 32), np.uint8), h, split
    )
    animal = AnimalRecording("A", "NH", {}, [mk("a", 0.5, "train"), mk("b", 3.0, "train"), mk("t", 0.1, "test")])
    sub = recording_subset(animal, seconds_per_sound=200 * DOWNSAMPLE / SAMPLE_RATE, max_hours=2.0)
    assert [s.name for s in sub.sounds] == ["a"]
    assert sub.sounds[0].audio.shape[0] == 200 * DOWNSAMPLE and sub.sounds[0].counts.shape == (1, 2, 200)
    with pytest.raises(HearloopInputError, match=r"before 0\.1 h"):
        recording_subset(animal, max_hours=0.1)


def test_reference_animal_is_regenerated_exactly():
    from listeners.unseen import reference_animal_params
    from simulator.virtual_ic import generate_cohort

    kwargs = {"n_nh": 2, "n_hi": 0, "seed": 4, "n_channels": 6, "shuffle_channels": True, "periphery": "gammatone"}
    cohort = generate_cohort(
        **kwargs, train_seconds=1.0, sound_duration_s=0.2, n_test_per_class=1, test_duration_s=0.2, progress=False
    )
    for animal in cohort:
        params = reference_animal_params(kwargs, animal.animal_id).to_dict()
        gt = animal.ground_truth
        assert params["electrodes"]["template_index"] == gt["electrodes"]["template_index"]
        assert np.allclose(params["electrodes"]["channels"]["cf_pos"], gt["electrodes"]["channels"]["cf_pos"])
        assert params["severity_db_hl"] == pytest.approx(gt["severity_db_hl"])
        assert np.allclose(params["profile"]["ohc_loss_db"], gt["profile"]["ohc_loss_db"])
    with pytest.raises(HearloopInputError, match="NH animal"):
        reference_animal_params(kwargs, "HI01")


def test_principal_axes_and_loss_surface(setup, capsys):
    model, sounds = setup
    rng = np.random.default_rng(0)
    nus = 0.5 + np.outer(rng.normal(0, 0.2, 30), [1, 0, 0]) + np.outer(rng.normal(0, 0.05, 30), [0, 1, 0])
    centre, axes, ratio = principal_axes(nus)
    # the sample's principal axes are the top eigenvectors of its covariance (up to sign), close to the generating x, y
    evals, evecs = np.linalg.eigh(np.cov(nus, rowvar=False))
    assert np.allclose(centre, nus.mean(0))
    assert np.allclose(np.abs(axes @ evecs[:, ::-1][:, :2]), np.eye(2), atol=1e-9)
    assert np.allclose(ratio, evals[::-1][:2] / evals.sum())
    assert abs(axes[0] @ [1, 0, 0]) > 0.98 and abs(axes[1] @ [0, 1, 0]) > 0.98 and ratio[0] > 0.9
    flat = np.column_stack([rng.uniform(0, 1, 10), np.full(10, 0.3), np.full(10, 0.4)])  # one direction only
    _, axes1, ratio1 = principal_axes(flat)
    assert np.allclose(axes1 @ axes1.T, np.eye(2), atol=1e-9) and ratio1[1] < 1e-12
    obj = NuFitObjective(model, sounds)
    surf = loss_surface(obj, nus, NU_TRUE[None], n_grid=4)
    assert surf.loss.shape == (4, 4) and np.isfinite(surf.loss).all()
    assert "loss surface" not in capsys.readouterr().err
    shown = loss_surface(obj, nus, NU_TRUE[None], n_grid=4, progress=True)  # row by row, the same map
    assert np.array_equal(shown.loss, surf.loss) and "loss surface: 100%" in capsys.readouterr().err
    aa, bb = np.meshgrid(surf.a, surf.b)  # loss[i, j] is the loss at (a[j], b[i])
    at = np.clip(surf.centre + aa[2, 1] * surf.axes[0] + bb[2, 1] * surf.axes[1], 0.0, 1.0)
    assert np.isclose(obj.losses(at[None])[0], surf.loss[2, 1])
    assert obj.evaluations == 0  # maps do not count as fitting evaluations
    xy = surf.project(NU_TRUE)[0]
    assert surf.a[0] <= xy[0] <= surf.a[-1] and surf.b[0] <= xy[1] <= surf.b[-1]


def test_cohort_audiometry_scores_gppta_against_the_neurometric_truth():
    from listeners import ToneProtocol, sample_cohort
    from listeners.cohort_audiometry import run_cohort_audiometry, summarise_audiometry

    model = build_model("tiny", n_params=6, n_animals=3, seed=3).eval()
    model.metadata = {"animals": [{"id": f"A{k}", "status": s} for k, s in enumerate(["NH", "NH", "HI"])]}
    fast = ToneProtocol(lead_s=0.03, tone_s=0.06, ramp_ms=5.0, tail_s=0.01, iterations=6)
    cohort = sample_cohort(2, seed=1, model=model, protocol=fast)
    cohort[0].reference.protocol = fast  # one protocol for the whole cohort (batched bisection)
    a = run_cohort_audiometry(cohort, max_trials=12, seed=4, freqs_hz=(500, 2000, 4000))
    b = run_cohort_audiometry(cohort, max_trials=12, seed=4, freqs_hz=(500, 2000, 4000))
    assert [r.listener_id for r in a] == ["L000", "L001"]
    for r, rb, lis in zip(a, b, cohort, strict=True):
        assert np.allclose(r.truth_db_hl, lis.thresholds([500, 2000, 4000]))
        assert r.mae.shape == (r.trials + 1,) and r.trials == 12
        assert r.final_mae == pytest.approx(np.abs(r.estimate_db_hl - r.truth_db_hl).mean())
        assert np.array_equal(r.mae, rb.mae)  # seeded
    s = summarise_audiometry(a)
    assert s["listeners"] == 2 and s["median_final_mae_db"] == pytest.approx(np.median([r.final_mae for r in a]))


def tiny_cohort_model(**metadata):
    """A tiny nu-ICNet whose metadata describes a 1 NH + 1 HI, 6-channel synthetic cohort (seed 4), and ``metadata``."""
    kwargs = {"n_nh": 1, "n_hi": 1, "seed": 4, "n_channels": 6, "train_seconds": 2.0, "sound_duration_s": 0.4}
    kwargs |= {"n_test_per_class": 1, "test_duration_s": 0.4}
    model = build_model("tiny", n_params=3, n_animals=2, seed=0)
    model.metadata = {
        "cohort": {"generator": "simulator.virtual_ic.generate_cohort", "kwargs": kwargs},
        "reference_animal": "NH01",
        **metadata,
    }
    return model


def test_unseen_animals_are_recorded_in_a_fitting_session_with_the_training_template(capsys):
    from listeners.fit_objective import FIT_WINDOW_HOURS
    from listeners.unseen import generate_unseen_animals
    from simulator.virtual_ic import sample_channel_template

    model = tiny_cohort_model()
    fresh = generate_unseen_animals(model, n_nh=1, n_hi=1, seed=77)
    assert [a.animal_id for a in fresh] == ["U-NH01", "U-HI01"]
    hours = np.array([s.hours for a in fresh for s in a.sounds])
    assert hours.max() <= FIT_WINDOW_HOURS  # every training and test sound inside the fitting session
    assert {s.split for s in fresh[0].sounds} == {"train", "test"}
    whole = generate_unseen_animals(model, n_nh=1, n_hi=1, seed=77, session_hours=None)
    assert max(s.hours for a in whole for s in a.sounds) > FIT_WINDOW_HOURS  # the cohort's 10 h session
    assert "fresh animals" not in capsys.readouterr().err
    again = generate_unseen_animals(model, n_nh=1, n_hi=1, seed=77, progress=True)  # the same animals, with bars
    err = capsys.readouterr().err
    bars = ("fresh animals: sounds", "reference animal: sounds", "aligning to the reference animal")
    assert all(f"{bar}: 100%" in err for bar in bars), err
    assert all(
        np.array_equal(x.counts, y.counts)
        for a, b in zip(fresh, again, strict=True)
        for x, y in zip(a.sounds, b.sounds, strict=True)
    )
    template = sample_channel_template(np.random.default_rng([4, 1]), 6)  # the training cohort's probe
    for a in fresh:
        bmf = a.ground_truth["electrodes"]["channels"]["bmf_hz"]
        assert np.allclose(sorted(bmf), sorted(template.bmf_hz))
    with pytest.raises(HearloopInputError, match="training cohort's seed"):
        generate_unseen_animals(model, seed=4)
    with pytest.raises(HearloopInputError, match="session_hours"):
        generate_unseen_animals(model, seed=77, session_hours=-1.0)


def test_unseen_animals_kept_in_a_scratch_folder_are_read_back_not_simulated_again(tmp_path, monkeypatch):
    """The same animals with and without ``scratch_dir``; a rerun simulates no sound; another request is refused."""
    import simulator.virtual_ic.session as session
    from listeners.unseen import generate_unseen_animals
    from simulator.virtual_ic.partial_cohort import PartialCohortMismatchError

    model = tiny_cohort_model()
    plain = generate_unseen_animals(model, n_nh=0, n_hi=1, seed=77)
    kept = generate_unseen_animals(model, n_nh=0, n_hi=1, seed=77, scratch_dir=tmp_path / "s")
    assert {d.name for d in (tmp_path / "s").iterdir()} == {"fresh", "reference"}

    def no_simulation(task):
        raise AssertionError(f"sound {task[0]} simulated again")

    monkeypatch.setattr(session, "_sound_task", no_simulation)
    again = generate_unseen_animals(model, n_nh=0, n_hi=1, seed=77, scratch_dir=tmp_path / "s")
    for run in (kept, again):
        assert run[0].ground_truth == plain[0].ground_truth
        assert all(np.array_equal(x.counts, y.counts) for x, y in zip(run[0].sounds, plain[0].sounds, strict=True))
    with pytest.raises(PartialCohortMismatchError):
        generate_unseen_animals(model, n_nh=0, n_hi=1, seed=78, scratch_dir=tmp_path / "s")


def test_unseen_animals_follow_the_training_cohorts_shape_rule():
    """A cohort generated with ``flat_from_pta_db`` gives fresh animals of severe targets flat losses too."""
    from listeners.unseen import generate_unseen_animals

    kwargs = {"n_nh": 1, "n_hi": 2, "seed": 4, "n_channels": 6, "train_seconds": 2.0, "sound_duration_s": 0.4}
    kwargs |= {"n_test_per_class": 1, "test_duration_s": 0.4, "hi_pta_range_db": [60.0, 90.0]}
    model = build_model("tiny", n_params=3, n_animals=3, seed=0)
    shapes = {}
    for flat_from in (None, 50.0):
        cohort = {
            "generator": "simulator.virtual_ic.generate_cohort",
            "kwargs": {**kwargs, "flat_from_pta_db": flat_from},
        }
        model.metadata = {"cohort": cohort, "reference_animal": "NH01"}
        fresh = generate_unseen_animals(model, n_nh=0, n_hi=2, seed=78)
        shapes[flat_from] = [a.ground_truth["profile"]["shape"] for a in fresh]
    assert shapes[50.0] == ["flat", "flat"] and shapes[None] != shapes[50.0]


def test_likelihood_alignment_undoes_a_planted_channel_shuffle(setup):
    from dataclasses import replace

    from listeners.channel_refinement import likelihood_alignment_cost, likelihood_permutation
    from simulator.data.alignment import apply_alignment

    model, sounds = setup
    animal = AnimalRecording("A", "HI", None, sounds)
    n = sounds[0].counts.shape[1]
    assert np.array_equal(likelihood_permutation(model, animal, NU_TRUE), np.arange(n))  # already in model order
    shuffle = np.random.default_rng(3).permutation(n)
    shuffled = apply_alignment(animal, shuffle)  # recorded channel j is model channel shuffle[j]
    perm = likelihood_permutation(model, shuffled, NU_TRUE)
    assert np.array_equal(shuffle[perm], np.arange(n))  # re-aligned channel j is model channel j again
    cost = likelihood_alignment_cost(model, shuffled, NU_TRUE)
    assert cost.shape == (n, n) and np.all(cost > 0)
    assert cost[perm, np.arange(n)].sum() < cost[np.arange(n), np.arange(n)].sum()
    wrong = replace(animal, sounds=[replace(s, counts=s.counts[:, :-1]) for s in sounds])
    with pytest.raises(HearloopInputError, match="channels"):
        likelihood_alignment_cost(model, wrong, NU_TRUE)


def test_fit_animal_keeps_a_likelihood_realignment_only_when_it_clearly_helps(setup, capsys):
    from listeners.animal_fit import fit_animal
    from simulator.data.alignment import apply_alignment

    model, sounds = setup
    gen = torch.Generator().manual_seed(7)
    audio = (0.05 * torch.randn(1, 4096, generator=gen)).float()
    probs = model.predict(audio, torch.tensor(NU_TRUE[None], dtype=torch.float32), grad=False)[0]
    counts = torch.multinomial(probs.reshape(-1, 5), 2, replacement=True, generator=gen)
    counts = counts.T.reshape(2, *probs.shape[:-1]).numpy().astype(np.uint8)
    test = SoundRecording("t0", "speech", audio[0].numpy(), counts, 0.2, "test")
    animal = AnimalRecording("A", "HI", None, [*sounds, test])
    shuffle = np.random.default_rng(3).permutation(test.counts.shape[1])
    shuffled = apply_alignment(animal, shuffle)
    kw = {"n_init": 4, "max_evals": 6, "target_steps": 15, "grad_steps": 4, "max_hours": 5.0}
    saved = getattr(model, "metadata", None)
    model.metadata = {"animals": [{"id": "A0", "status": "NH"}, {"id": "A1", "status": "HI"}]}  # NH reference
    try:
        fit = fit_animal(model, shuffled, progress=True, **kw)
        err = capsys.readouterr().err
        plain = fit_animal(model, shuffled, realign=False, **kw)
        kept = fit_animal(model, animal, **kw)  # already aligned: nothing to gain, the given order stays
    finally:
        model.metadata = saved
    assert "fitting A: 100%" in err and "5/5" in err  # every phase counted, each named while it ran
    assert "target loss (multi-start L-BFGS): 15 loss evaluations" in err  # kw: 15 evaluations per target start
    assert fit.objective.on_evaluate is None  # the returned objective no longer reports to the closed bar
    for phase in ("target loss", "channel realignment", "Bayesian optimisation", "gradient fit", "held-out FEVE"):
        assert phase in err, phase
    assert "fitting A" not in capsys.readouterr().err  # no bar unless asked
    assert fit.realigned and fit.row()["realigned"]
    assert np.array_equal(fit.animal.sounds[-1].counts, test.counts)  # back in the model's channel order
    assert not plain.realigned and plain.target.loss > fit.target.loss
    assert not kept.realigned and kept.animal is animal


SIGNATURE_CASES = [
    ({"alignment_signature": "time_course"}, "time_course"),
    ({}, "time_course"),  # a checkpoint from before the key: the legacy cost
    ({"alignment_signature": "rate_correlation"}, "rate_correlation"),
]


@pytest.mark.parametrize(("recorded", "expected"), SIGNATURE_CASES)
def test_unseen_animals_are_aligned_with_the_checkpoints_recorded_cost(monkeypatch, recorded, expected):
    import listeners.unseen as unseen
    from simulator.data.alignment import align_channels

    used = []

    def spy(animal, reference, **kw):
        used.append(kw["signature"])
        return align_channels(animal, reference, **kw)

    monkeypatch.setattr(unseen, "align_channels", spy)
    model = tiny_cohort_model(alignment={"NH01": list(range(6)), "HI01": list(range(6))}, **recorded)
    fresh = unseen.generate_unseen_animals(model, n_nh=1, n_hi=1, seed=77)
    assert used == [expected, expected]
    assert all(sorted(a.ground_truth["alignment"]["permutation"]) == list(range(6)) for a in fresh)


def test_cohort_kwargs_fill_the_tone_frequencies_of_older_checkpoints():
    from listeners.unseen import cohort_kwargs

    model = build_model("tiny", n_params=3, n_animals=2, seed=0)
    cohort = {"generator": "simulator.virtual_ic.generate_cohort", "kwargs": {"seed": 4}}
    model.metadata = {"cohort": cohort}
    assert cohort_kwargs(model)["tone_frequencies"] == "audiometric"  # recorded before the key: the fixed set
    cohort["kwargs"]["tone_frequencies"] = "continuous"
    assert cohort_kwargs(model)["tone_frequencies"] == "continuous"
