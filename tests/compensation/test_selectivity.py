"""Neural selectivity: the LDA token decoder, and the NH-trained decoders of the bundled model's responses."""

import numpy as np
import pytest
import torch

from compensation.selectivity import SelectivityConfig, SelectivityObjective, task_name
from compensation.token_decoder import TokenDecoder, response_features
from simulator.data.corpus import make_corpus
from simulator.data.speech import make_tokens
from simulator.errors import HearloopInputError, NoSpeechTokensError


def _gaussian_classes(seed: int, per_class: int, n_classes: int = 12, dim: int = 40, spread: float = 1.0):
    rng = np.random.default_rng(seed)
    means = np.random.default_rng(99).normal(0.0, 1.0, (n_classes, dim))
    labels = np.repeat(np.arange(n_classes), per_class)
    x = means[labels] + spread * rng.normal(0.0, 1.0, (labels.size, dim))
    return torch.as_tensor(x, dtype=torch.float32), labels


def test_lda_decodes_separable_classes_and_shuffled_labels_give_chance():
    x, y = _gaussian_classes(0, 12, spread=0.5)
    xt, yt = _gaussian_classes(1, 20, spread=0.5)
    folds = np.arange(y.size) % 4
    dec = TokenDecoder.fit(x, y, 12, folds=folds)
    assert dec.accuracy(xt, yt) > 0.95
    assert 0.0 < dec.temperature < np.inf
    rng = np.random.default_rng(3)
    chance = [TokenDecoder.fit(x, rng.permutation(y), 12).accuracy(xt, yt) for _ in range(20)]
    assert abs(np.mean(chance) - 1.0 / 12.0) < 0.03


def test_temperature_calibrates_overlapping_classes():
    # few tokens in many dimensions, as for neural responses: the plain LDA posterior is overconfident
    x, y = _gaussian_classes(0, 12, dim=150, spread=3.0)
    xt, yt = _gaussian_classes(1, 40, dim=150, spread=3.0)
    raw = TokenDecoder.fit(x, y, 12)
    cal = TokenDecoder.fit(x, y, 12, folds=np.arange(y.size) % 4)
    assert cal.temperature > 5.0
    assert float(cal.cross_entropy(xt, yt)) < 0.5 * float(raw.cross_entropy(xt, yt))
    assert cal.accuracy(xt, yt) == raw.accuracy(xt, yt)  # a temperature never changes the decision


def test_decoder_terms_are_differentiable_and_errors_are_named():
    x, y = _gaussian_classes(0, 4)
    dec = TokenDecoder.fit(x, y, 12)
    q = x.clone().requires_grad_(True)
    dec.cross_entropy(q, y).backward()
    assert q.grad is not None and float(q.grad.abs().sum()) > 0
    with pytest.raises(HearloopInputError, match=">= 2 training tokens"):
        TokenDecoder.fit(x[:13], y[:13], 12)
    with pytest.raises(HearloopInputError):
        dec.logits(x[:, :5])
    with pytest.raises(HearloopInputError, match="analysis window"):
        response_features(torch.zeros(2, 3, 100), "vowel")
    with pytest.raises(HearloopInputError):
        SelectivityConfig(train_seed=1, test_seed=1)
    with pytest.raises(HearloopInputError):
        SelectivityConfig(kinds=("word",))


@pytest.fixture(scope="module")
def bundled():
    from listeners import nh_reference
    from simulator import load_model

    model = load_model()
    config = SelectivityConfig(train_per_class=12, test_per_class=4)
    return model, SelectivityObjective(model, nh_reference(model).nu, config)


def _impaired_nu(model) -> np.ndarray:
    """The learned nu of the training animal with the largest ABR loss."""
    animals = model.metadata["animals"]
    worst = int(np.argmax([np.mean(a["abr_thresholds_db"]) for a in animals]))
    with torch.no_grad():
        return model.animal_nu(torch.tensor([worst]), sample=False)[0].numpy()


@pytest.mark.slow
def test_selectivity_sanity_on_the_bundled_model(bundled):
    model, obj = bundled
    assert obj.tasks == [task_name(k, c) for k in ("vowel", "consonant") for c in (None, 5.0, 0.0)]
    nh = obj.score(None, obj.reference_nu)
    impaired = obj.score(None, _impaired_nu(model))
    for kind in ("vowel", "consonant"):
        quiet, snr5, snr0 = (nh[task_name(kind, c)]["accuracy"] for c in (None, 5.0, 0.0))
        assert quiet >= 0.85  # the NH reference decodes its own clean tokens near ceiling
        assert quiet > snr5 > snr0 > 1.0 / 12.0  # and accuracy falls with SNR, above chance
        assert impaired[task_name(kind, None)]["accuracy"] < quiet - 0.3  # an impaired listener unaided: below NH


@pytest.mark.slow
def test_shuffled_labels_decode_at_chance(bundled):
    _, obj = bundled
    cfg = obj.config
    train = make_tokens("consonant", cfg.train_seed, cfg.train_per_class)
    test = obj.test_sets["consonant/quiet"]
    with torch.no_grad():
        x = obj.features(torch.as_tensor(train.audio), obj.reference_nu, "consonant")
        xt = obj.features(torch.as_tensor(test.audio), obj.reference_nu, "consonant")
    rng = np.random.default_rng(0)
    chance = [TokenDecoder.fit(x, rng.permutation(train.labels), 12).accuracy(xt, test.labels) for _ in range(10)]
    assert abs(np.mean(chance) - 1.0 / 12.0) < 0.04
    assert TokenDecoder.fit(x, train.labels, 12).accuracy(xt, test.labels) > 0.85


@pytest.mark.slow
def test_selectivity_loss_has_a_gradient_and_sounds_without_tokens_are_refused(bundled):
    _, obj = bundled
    test = obj.test_sets["vowel/quiet"]
    audio = torch.as_tensor(test.audio[:6]).clone().requires_grad_(True)
    loss = obj.loss("vowel/quiet", audio, obj.reference_nu, labels=test.labels[:6])
    loss.backward()
    assert torch.isfinite(loss) and float(audio.grad.abs().sum()) > 0
    sounds = test.to_sounds()
    got = obj.score_sounds(sounds, torch.as_tensor(test.audio), obj.reference_nu)
    assert got == pytest.approx(obj.decode("vowel/quiet", torch.as_tensor(test.audio), obj.reference_nu))
    plain = make_corpus(0, {"speech": 2}, duration_s=0.45)
    with pytest.raises(NoSpeechTokensError, match="carries no speech token"):
        obj.score_sounds(plain, torch.as_tensor(np.stack([s.audio for s in plain])), obj.reference_nu)
    unseen = make_tokens("vowel", 1, 1, snr_db=-5.0).to_sounds()  # a condition without a decoder
    with pytest.raises(NoSpeechTokensError, match="no decoder"):
        obj.score_sounds(unseen, torch.zeros(12, test.audio.shape[1]), obj.reference_nu)
    with pytest.raises(HearloopInputError, match="no selectivity task"):
        obj.decode("vowel/snr-5", torch.as_tensor(test.audio), obj.reference_nu)
