"""The essay's own example: "I grew up in France ... I speak fluent French."

The word needed at the end was given ``gap`` filler words earlier; a model without memory sees
"I speak fluent" and knows a language comes next, but not which.

>>> from tinygrad_lstm.tasks import FranceTask
>>> task = FranceTask(gap=5)
>>> b = task.batch(1, rng=14)
>>> task.decode(b, 0)
'I grew up in France . but moved years they old I speak fluent French'
>>> b.x.shape, task.lag   # T = gap + 9 steps, one-hot over 56 words; the country is gap + 4 back
((14, 1, 56), 9)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tinygrad_lstm.tasks.base import Batch, Kind, Task, TaskOption, check_int, end_mask, one_hot

#: (country, language) pairs, in the order ``n_countries`` takes them.
COUNTRIES: tuple[tuple[str, str], ...] = (
    ("France", "French"), ("Germany", "German"), ("Spain", "Spanish"), ("Italy", "Italian"),
    ("Portugal", "Portuguese"), ("Greece", "Greek"), ("Poland", "Polish"),
    ("Sweden", "Swedish"), ("Finland", "Finnish"), ("Japan", "Japanese"),
    ("Russia", "Russian"), ("Turkey", "Turkish"),
)

#: Words between the two sentences; none names a place or a language, none is "speak"/"fluent".
FILLERS: tuple[str, ...] = (
    "the", "a", "we", "they", "it", "was", "is", "and", "then", "after", "school", "went", "to",
    "lived", "there", "many", "years", "with", "my", "family", "friends", "played", "every",
    "day", "summer", "house", "near", "river", "later", "moved", "city", "old", "small", "big",
    "worked", "as", "teacher", "but", "now", "live", "here", "of", "course", "so", ",",
)

PREFIX: tuple[str, ...] = ("I", "grew", "up", "in")     # + country + "."
SUFFIX: tuple[str, ...] = ("I", "speak", "fluent")       # + the language, to be predicted


class FranceTask(Task):
    """Predict the language of the country named ``gap`` filler words earlier.

    A sequence is the tokens "I grew up in <country> ." , then ``gap`` filler words drawn
    uniformly (with replacement) from ``FILLERS``, then "I speak fluent"; T = gap + 9 steps.
    The country is uniform over the first ``n_countries`` of ``COUNTRIES`` (default 4: France,
    Germany, Spain, Italy). Inputs are one-hot over ``vocabulary`` (template words, the
    countries in use, the fillers); the target, at the last step (the input "fluent"), is the
    class of the language, ``languages[y]``, which is also the country's index. The country is
    ``lag`` = gap + 4 steps before that.

    ``metric`` is the accuracy of the argmax (higher is better); ``solved`` asks for >=
    ``solved_at`` (default 0.95). Baseline: the last steps say only that a language comes next,
    so a model without memory guesses: accuracy 1/n_countries, cross-entropy ln(n_countries).
    ``decode(batch, row)`` gives the sentence back as text.
    """

    name: ClassVar[str] = "france"
    options: ClassVar[tuple[TaskOption, ...]] = (
        TaskOption("gap", int, 20, "filler words between the country and the language", low=0),)
    description: ClassVar[str] = (
        "the essay's example: 'I grew up in France .' + gap filler words + 'I speak fluent' -> "
        "French")
    kind: ClassVar[Kind] = "classification"
    per_step: ClassVar[bool] = False
    metric_name: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True
    default_solved_at: ClassVar[float] = 0.95

    def __init__(self, gap: int = 20, n_countries: int = 4,
                 solved_at: float | None = None) -> None:
        super().__init__(solved_at)
        self.gap = check_int("FranceTask", "gap", gap, 0)
        self.n_countries = check_int("FranceTask", "n_countries", n_countries, 2)
        if self.n_countries > len(COUNTRIES):
            raise ValueError(f"FranceTask: n_countries must be at most {len(COUNTRIES)}, "
                             f"got {n_countries!r}")
        self.countries = tuple(c for c, _ in COUNTRIES[:self.n_countries])
        self.languages = tuple(lang for _, lang in COUNTRIES[:self.n_countries])
        words = PREFIX + (".",) + SUFFIX + self.countries + FILLERS
        self.vocabulary: tuple[str, ...] = tuple(dict.fromkeys(words))   # unique, in order
        self.index = {w: i for i, w in enumerate(self.vocabulary)}
        self.input_size = len(self.vocabulary)
        self.output_size = self.n_countries

    @property
    def steps(self) -> int:
        """gap + 9, the length of every sentence."""
        return len(PREFIX) + 2 + self.gap + len(SUFFIX)

    @property
    def lag(self) -> int:
        """Steps from the country's token to the step where its language is predicted."""
        return self.steps - 1 - len(PREFIX)

    def _generate(self, batch_size: int, rng: np.random.Generator) -> Batch:
        B, L = batch_size, self.steps
        country = rng.integers(0, self.n_countries, size=B)
        fillers = np.array([self.index[w] for w in FILLERS])
        words = fillers[rng.integers(0, len(FILLERS), size=(self.gap, B))]
        ids = np.concatenate([
            np.repeat([[self.index[w]] for w in PREFIX], B, axis=1),
            np.array([self.index[c] for c in self.countries])[country][None, :],
            np.full((1, B), self.index["."]),
            words.reshape(self.gap, B),
            np.repeat([[self.index[w]] for w in SUFFIX], B, axis=1),
        ])
        lengths = np.full(B, L, dtype=np.int64)
        return Batch(x=one_hot(ids, self.input_size), y=country.astype(np.int64),
                     mask=end_mask(lengths, L), lengths=lengths, info={"country": country})

    def decode(self, batch: Batch, row: int, with_target: bool = True) -> str:
        """Sequence ``row`` of ``batch`` as text; ``with_target`` appends the language."""
        x = batch.x[:batch.lengths[row], row]
        words = [self.vocabulary[i] for i in x.argmax(axis=-1)]
        if with_target:
            words.append(self.languages[int(batch.y[row])])
        return " ".join(words)

    def metric(self, predictions: Any, batch: Batch) -> float:
        """Accuracy of the argmax at the last step (higher is better)."""
        p, y = self.scored(predictions, batch)
        return float(np.mean(p.argmax(axis=-1) == y))

    @property
    def baseline(self) -> float:
        return 1.0 / self.n_countries

    @property
    def baseline_loss(self) -> float:
        return float(np.log(self.n_countries))

    def memoryless_predictions(self, batch: Batch) -> np.ndarray:
        """Uniform logits (argmax: always the first language), shape (B, n_countries)."""
        return np.zeros((batch.size, self.output_size), dtype=np.float32)

    @property
    def config(self) -> dict[str, Any]:
        return {"gap": self.gap, "n_countries": self.n_countries, "solved_at": self.solved_at}
