"""Neural selectivity: how well a listener's response to aided sound tells speech tokens apart.

Hearing aids restore the *sensitivity* of neural responses to speech (enough activity) more than their *selectivity*
(distinct responses to distinct sounds) [Armstrong2022]_, [Sabesan2023]_. Fidelity restored measures closeness to the
normal response; this module measures discriminability, as Armstrong et al. did with a classifier of consonant
responses in the gerbil inferior colliculus:

1. Tokens (:mod:`simulator.data.speech`): 12 vowels and 12 /aCa/ consonants, each class in several talkers, in quiet
   and in speech-shaped noise at 5 and 0 dB SNR (:data:`DEFAULT_CONDITIONS`).
2. For every task (kind x condition) a decoder (:class:`compensation.token_decoder.TokenDecoder`, shrinkage LDA on
   time-binned responses) is fitted on the NH reference listener's responses to a *training* token set.
3. A disjoint *test* token set (another seed: other talkers' variation, other masker samples) is processed by the
   strategy, heard by the listener, and decoded by that NH decoder. Selectivity is the decoding accuracy (chance 1/12),
   with the soft accuracy (mean posterior of the true token) beside it and the cross-entropy as the differentiable
   training term (:meth:`SelectivityObjective.loss`).

Decoders per condition. A decoder fitted on the NH reference's responses to clean tokens decodes the NH reference's own
responses in noise at chance already at 5 dB SNR (the masker's response swamps templates learnt in quiet), so it
cannot rank strategies in noise. Each condition's decoder is therefore fitted on the NH reference's responses to
training tokens in that condition -- the normal listener's decoder for that listening situation -- and a listener is
scored against it. Quiet is exactly the clean-trained decoder.

.. [Armstrong2022] A. G. Armstrong, C. C. Lam, S. Sabesan, N. A. Lesica, "Compression and amplification algorithms in
   hearing aids impair the selectivity of neural responses to speech", Nature Biomedical Engineering 6:717-730, 2022.
.. [Sabesan2023] S. Sabesan, A. Fragner, C. Bench, F. Drakopoulos, N. A. Lesica, "Large-scale electrophysiology and
   deep learning reveal distorted neural signal dynamics after hearing loss", eLife 12:e85108, 2023.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from compensation.token_decoder import SHRINKAGE, TokenDecoder, response_features
from simulator.data.speech import TOKEN_CLASSES, TOKEN_KINDS, TokenSet, condition_name, make_tokens, tokens_from_sounds
from simulator.errors import HearloopInputError, NoSpeechTokensError
from simulator.model.spikes import expected_counts
from simulator.validation import validate_nu

__all__ = ["DEFAULT_CONDITIONS", "SelectivityConfig", "SelectivityObjective", "task_name"]

DEFAULT_CONDITIONS: tuple[float | None, ...] = (None, 5.0, 0.0)
"""Quiet, 5 dB SNR and 0 dB SNR."""


def task_name(kind: str, snr_db: float | None) -> str:
    """``"vowel/quiet"``, ``"consonant/snr5"``, ..."""
    return f"{kind}/{condition_name(snr_db)}"


@dataclasses.dataclass(frozen=True)
class SelectivityConfig:
    """What the selectivity measure decodes (every field is recorded with results).

    Attributes:
        kinds: token kinds (:data:`simulator.data.speech.TOKEN_KINDS`).
        conditions: masker SNRs in dB, None for quiet.
        train_seed, test_seed: token seeds of the NH decoders' training set and of the scored test set (distinct).
        train_per_class, test_per_class: tokens per class in each set.
        masker: ``"speech_shaped"`` or ``"babble"``.
        level_db_spl: speech level of the tokens (dB SPL).
        shrinkage: LDA covariance shrinkage (:data:`compensation.token_decoder.SHRINKAGE`).
    """

    kinds: tuple[str, ...] = TOKEN_KINDS
    conditions: tuple[float | None, ...] = DEFAULT_CONDITIONS
    train_seed: int = 3101
    test_seed: int = 3102
    train_per_class: int = 12
    test_per_class: int = 4
    masker: str = "speech_shaped"
    level_db_spl: float = 65.0
    shrinkage: float = SHRINKAGE

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", tuple(self.kinds))
        object.__setattr__(self, "conditions", tuple(None if c is None else float(c) for c in self.conditions))
        if not self.kinds or set(self.kinds) - set(TOKEN_KINDS):
            raise HearloopInputError(f"kinds must be a non-empty subset of {TOKEN_KINDS}, got {self.kinds}")
        if not self.conditions or len(set(self.conditions)) != len(self.conditions):
            raise HearloopInputError(f"conditions must be distinct SNRs (None for quiet), got {self.conditions}")
        if self.train_seed == self.test_seed:
            raise HearloopInputError("train_seed and test_seed must differ (the test tokens must be held out)")
        if self.train_per_class < 2 or self.test_per_class < 1:
            raise HearloopInputError("train_per_class must be >= 2 and test_per_class >= 1")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SelectivityObjective:
    """NH-trained token decoders and held-out test tokens: selectivity of any listener's response to aided tokens.

    Args:
        model: the frozen nu-ICNet.
        reference_nu: ``D`` NH reference nu (the decoders' listener).
        config: :class:`SelectivityConfig` (default: vowels and consonants in quiet, 5 and 0 dB SNR).
        batch_size: tokens per model call.

    Building fits one decoder per task on ``12 * train_per_class`` NH responses (about 0.5 min on 2 CPU cores for the
    default six tasks).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        reference_nu: Sequence[float] | np.ndarray | torch.Tensor,
        config: SelectivityConfig | None = None,
        *,
        batch_size: int = 24,
    ) -> None:
        self.model = model.eval()
        self.config = config or SelectivityConfig()
        ref = torch.as_tensor(np.asarray(reference_nu, dtype=np.float32)).reshape(1, -1)
        self.reference_nu = validate_nu(ref, int(model.n_params))
        self.batch_size = int(batch_size)
        cfg = self.config
        self.test_sets: dict[str, TokenSet] = {}
        self.decoders: dict[str, TokenDecoder] = {}
        for kind in cfg.kinds:
            for snr in cfg.conditions:
                name = task_name(kind, snr)
                train = make_tokens(kind, cfg.train_seed, cfg.train_per_class, snr, cfg.masker, cfg.level_db_spl)
                with torch.no_grad():
                    feats = self.features(torch.as_tensor(train.audio), self.reference_nu, kind)
                folds = (np.arange(len(train)) // len(train.classes)) // 3  # 3 instances (one per talker) per fold
                self.decoders[name] = TokenDecoder.fit(feats, train.labels, len(train.classes), cfg.shrinkage, folds)
                self.test_sets[name] = make_tokens(
                    kind, cfg.test_seed, cfg.test_per_class, snr, cfg.masker, cfg.level_db_spl
                )

    @property
    def tasks(self) -> list[str]:
        """Task names (``kind/condition``) in config order."""
        return list(self.decoders)

    def chance(self, task: str) -> float:
        """Chance accuracy of a task: 1 / number of classes."""
        return 1.0 / len(TOKEN_CLASSES[task.split("/")[0]])

    # -------------------------------------------------------------------------------------------------- responses
    def features(self, audio: torch.Tensor, nu: torch.Tensor | np.ndarray, kind: str) -> torch.Tensor:
        """Decoder features of listeners hearing ``audio`` (``tokens x samples`` Pa) -> ``tokens x F``.

        ``nu`` is one listener (``D`` or ``1 x D``) for every token, or one per token (``tokens x D``).
        Differentiable with respect to ``audio`` (and ``nu``) when they require grad; batched by ``batch_size``.
        """
        nu_t = nu if isinstance(nu, torch.Tensor) else torch.as_tensor(np.asarray(nu, dtype=np.float32))
        nu_t = (nu_t.reshape(1, -1) if nu_t.dim() == 1 else nu_t).float().to(self.model.device)
        if nu_t.shape[0] not in (1, audio.shape[0]):
            raise HearloopInputError(f"nu must be one listener or one per token ({audio.shape[0]}); got {nu_t.shape}")
        nu_t = nu_t.expand(audio.shape[0], -1)
        out = []
        for chunk, nus in zip(audio.split(self.batch_size), nu_t.split(self.batch_size), strict=True):
            probs = self.model.predict(chunk.to(self.model.device), nus)
            out.append(response_features(expected_counts(probs), kind))
        return torch.cat(out)

    def task_decoder(self, task: str) -> tuple[str, TokenDecoder]:
        """(token kind, NH decoder) of ``task``."""
        if task not in self.decoders:
            raise HearloopInputError(f"no selectivity task {task!r}; this objective decodes {self.tasks}")
        return task.split("/")[0], self.decoders[task]

    # -------------------------------------------------------------------------------------------------- scoring
    def decode(self, task: str, aided: torch.Tensor, nu: torch.Tensor | np.ndarray) -> dict[str, float]:
        """Accuracy and soft accuracy of the listener ``nu`` on the aided test tokens of ``task``.

        Args:
            task: a name of :attr:`tasks`.
            aided: ``tokens x samples`` aided versions of ``self.test_sets[task].audio``, in the same order.
            nu: the listener (``D``).
        """
        kind, decoder = self.task_decoder(task)
        labels = self.test_sets[task].labels
        if aided.shape[0] != labels.size:
            raise HearloopInputError(f"task {task!r} has {labels.size} test tokens; got {aided.shape[0]} aided sounds")
        with torch.no_grad():
            feats = self.features(aided, nu, kind)
            soft = float(decoder.soft_accuracy(feats, labels))
            return {"accuracy": decoder.accuracy(feats, labels), "soft_accuracy": soft}

    def score(
        self, process: Callable[[torch.Tensor, str], torch.Tensor] | None, nu: torch.Tensor | np.ndarray
    ) -> dict[str, dict[str, float]]:
        """Selectivity of one listener on every task: ``{task: {"accuracy", "soft_accuracy"}}``.

        Args:
            process: ``process(tokens, task) -> aided`` (``tokens x samples`` Pa in and out), e.g. a strategy at the
                listener's theta followed by loudness matching; None scores the unaided tokens.
            nu: the listener (``D``).
        """
        out = {}
        for task, tokens in self.test_sets.items():
            audio = torch.as_tensor(tokens.audio)
            with torch.no_grad():
                aided = audio if process is None else process(audio, task)
            out[task] = self.decode(task, aided, nu)
        return out

    def loss(self, task: str, aided: torch.Tensor, nu: torch.Tensor | np.ndarray, labels=None) -> torch.Tensor:
        """Cross-entropy of the NH decoder on the listener's response to ``aided`` tokens; differentiable scalar.

        ``labels`` default to the task's test labels (``aided`` then holds the aided test tokens); pass the labels of
        any other token set of the same kind and condition (e.g. training tokens for a compensator).
        """
        kind, decoder = self.task_decoder(task)
        labels = self.test_sets[task].labels if labels is None else labels
        return decoder.cross_entropy(self.features(aided, nu, kind), labels)

    def score_sounds(
        self, sounds: Sequence[Any], aided: torch.Tensor, nu: torch.Tensor | np.ndarray
    ) -> dict[str, float]:
        """Accuracy and soft accuracy on labelled token sounds (:meth:`simulator.data.speech.TokenSet.to_sounds`).

        Raises:
            NoSpeechTokensError: a sound carries no speech token, or their condition has no decoder here.
        """
        tokens = tokens_from_sounds(sounds)
        task = task_name(tokens.kind, tokens.snr_db)
        if task not in self.decoders:
            raise NoSpeechTokensError(f"these tokens ({task}) have no decoder; this objective decodes {self.tasks}")
        kind, decoder = self.task_decoder(task)
        with torch.no_grad():
            feats = self.features(aided, nu, kind)
            return {"accuracy": decoder.accuracy(feats, tokens.labels),
                    "soft_accuracy": float(decoder.soft_accuracy(feats, tokens.labels))}  # fmt: skip
