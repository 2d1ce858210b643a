"""The embedded Reber grammar (Cleeremans et al. 1989; LSTM paper 1997, experiment 1).

A Reber string (B ... E) wrapped as B, T or P, <Reber string>, the same T or P, E. The net
reads one symbol a step and predicts the next. Everything except the closing T/P can be
predicted from the last few symbols; the closing one repeats the symbol seen a whole Reber
string earlier.

>>> from tinygrad_lstm.tasks import EmbeddedReber
>>> task = EmbeddedReber()
>>> b = task.batch(3, rng=0)
>>> [task.decode(b, i) for i in range(3)]
['BPBTSXSEPE', 'BTBTXXVPSETE', 'BTBPTTVPXTVVETE']
>>> task.legal_symbols(b, 0)    # what may follow B, P, B, T, S, X, S, E, P: only E, then P
['TP', 'B', 'TP', 'SX', 'SX', 'SX', 'E', 'P', 'E']
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tinygrad_lstm.tasks.base import NEG, Batch, Kind, Task, check_int, one_hot

SYMBOLS: str = "BTPSXVE"
_ID = {s: i for i, s in enumerate(SYMBOLS)}

#: The inner Reber grammar, states numbered as in Cleeremans et al.'s figure: state ->
#: ((symbol, next state), ...); state 0 reads the leading B, None is the end.
REBER: dict[int, tuple[tuple[str, int | None], ...]] = {
    0: (("B", 1),),
    1: (("T", 2), ("P", 3)),
    2: (("S", 2), ("X", 4)),
    3: (("T", 3), ("V", 5)),
    4: (("X", 3), ("S", 6)),
    5: (("P", 4), ("V", 6)),
    6: (("E", None),),
}


def _embedded_automaton() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The embedded grammar as one automaton: per state, the number of choices (1 or 2) and
    the (symbol, next state) of each. States: 0 start, 1 after the opening B; for branch b
    (0 = T, 1 = P), 2 + 8b + k is inner state k (k = 0..6) and 2 + 8b + 7 expects the closing
    symbol; 18 expects the final E; 19 is done (no choices)."""
    n = 20
    count = np.zeros(n, dtype=np.int64)
    sym = np.full((n, 2), -1, dtype=np.int64)
    nxt = np.full((n, 2), 19, dtype=np.int64)

    def add(state: int, symbol: str, to: int) -> None:
        sym[state, count[state]], nxt[state, count[state]] = _ID[symbol], to
        count[state] += 1

    add(0, "B", 1)
    for b, branch in enumerate("TP"):
        base = 2 + 8 * b
        add(1, branch, base)
        for k, arcs in REBER.items():
            for symbol, to in arcs:
                add(base + k, symbol, base + 7 if to is None else base + to)
        add(base + 7, branch, 18)
    add(18, "E", 19)
    return count, sym, nxt


_COUNT, _SYM, _NEXT = _embedded_automaton()
_DONE = 19
#: (state, symbol) bool: the symbols a state allows next.
_LEGAL = np.zeros((20, len(SYMBOLS)), dtype=bool)
for _s in range(20):
    _LEGAL[_s, _SYM[_s, :_COUNT[_s]]] = True


class EmbeddedReber(Task):
    """Next-symbol prediction on strings of the embedded Reber grammar.

    Symbols B, T, P, S, X, V, E (one-hot, 7 inputs; ids in that order). Each choice in the
    grammar is a fair coin. A string of n symbols gives n - 1 steps: the input at step t is
    symbol t, the target (``y``) the actual symbol t + 1, and ``info["legal"]`` (T, B, 7) the
    set of symbols the grammar allows there. Batches are padded at the end to the longest
    string in the batch, or to ``max_length - 1`` steps when ``max_length`` (in symbols, >= 9,
    the shortest string) is given; longer strings are then redrawn. ``mask`` marks the valid
    steps; the loss is the cross-entropy of the actual next symbol over those steps.

    Success criterion (the 1997 paper's): a step is right when the output units of the legal
    successors are the most active ones, i.e. with k legal successors, the top k predictions
    are exactly that set (every legal score above every other score; ties fail). A string is
    right when every step is. ``metric`` is the fraction of strings right (higher is better);
    ``solved`` asks for >= ``solved_at`` (default 1.0: every string, as in the paper).
    ``metrics`` adds the per-step accuracy and ``closing_accuracy``, the accuracy at the step
    that must predict the closing T/P (``info["closing_step"]``).

    Baseline: the closing T/P repeats the symbol seen a whole Reber string earlier (6 or more
    positions back, unbounded); every other successor set follows from the last few symbols. The
    best predictor without that long-term memory, even one that tracks the inner grammar
    exactly, must guess T or P there: right on half of the strings, so ``baseline`` = 0.5
    (``memoryless_predictions`` is that predictor, guessing T). Spreading its bet over T and P
    exactly evenly fails the strict criterion on every string, and a truly memoryless predictor
    (one that sees only the current symbol) gets no string right: after the opening T or P it
    cannot tell that a B follows. ``baseline_loss`` is None: the grammar's own coin flips make
    the loss of any predictor depend on the string lengths.
    """

    name: ClassVar[str] = "reber"
    description: ClassVar[str] = (
        "embedded Reber grammar: predict every legal next symbol; the closing T/P needs the "
        "opening one")
    kind: ClassVar[Kind] = "classification"
    per_step: ClassVar[bool] = True
    metric_name: ClassVar[str] = "string_accuracy"
    higher_is_better: ClassVar[bool] = True
    default_solved_at: ClassVar[float] = 1.0

    symbols: ClassVar[str] = SYMBOLS
    min_string_length: ClassVar[int] = 9

    def __init__(self, max_length: int | None = None, solved_at: float | None = None) -> None:
        super().__init__(solved_at)
        self.max_length = None if max_length is None else check_int(
            "EmbeddedReber", "max_length", max_length, self.min_string_length)
        self.input_size = len(SYMBOLS)
        self.output_size = len(SYMBOLS)

    @staticmethod
    def _strings(batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(ids (n_max, B) with -1 past each end, states (n_max, B) before each symbol)."""
        state = np.zeros(batch_size, dtype=np.int64)
        ids, states = [], []
        while True:
            active = state != _DONE
            if not active.any():
                break
            second = (rng.random(batch_size) < 0.5) & (_COUNT[state] == 2)
            states.append(state)
            ids.append(np.where(active, _SYM[state, second.astype(np.int64)], -1))
            state = _NEXT[state, second.astype(np.int64)]
        return np.stack(ids), np.stack(states)

    def _generate(self, batch_size: int, rng: np.random.Generator) -> Batch:
        ids, states = self._strings(batch_size, rng)
        n = (ids >= 0).sum(axis=0)
        if self.max_length is not None:
            ids, states, n = _pad(ids, states, n, self.max_length)
            while (n > self.max_length).any():
                redo = np.nonzero(n > self.max_length)[0]
                more, more_states = self._strings(len(redo), rng)
                more_n = (more >= 0).sum(axis=0)
                more, more_states, more_n = _pad(more, more_states, more_n, self.max_length)
                ids[:, redo], states[:, redo], n[redo] = more, more_states, more_n
        T = ids.shape[0] - 1
        lengths = (n - 1).astype(np.int64)
        mask = np.arange(T)[:, None] < lengths[None, :]
        x = one_hot(np.maximum(ids[:-1], 0), self.input_size, mask)
        y = np.where(mask, ids[1:], 0).astype(np.int64)
        legal = _LEGAL[states[1:]] & mask[..., None]     # the state after reading symbol t
        branch = (ids[1] == _ID["P"]).astype(np.int64)   # 0: T, 1: P
        return Batch(x=x, y=y, mask=mask, lengths=lengths,
                     info={"legal": legal, "branch": branch, "closing_step": lengths - 2})

    def decode(self, batch: Batch, row: int) -> str:
        """String ``row`` of ``batch``, final E included."""
        n = int(batch.lengths[row])
        ids = list(batch.x[:n, row].argmax(axis=-1)) + [int(batch.y[n - 1, row])]
        return "".join(SYMBOLS[i] for i in ids)

    def legal_symbols(self, batch: Batch, row: int) -> list[str]:
        """For each step of string ``row``, the symbols that may come next."""
        legal = batch.info["legal"][:batch.lengths[row], row]
        return ["".join(s for s, ok in zip(SYMBOLS, step, strict=True) if ok) for step in legal]

    def _step_right(self, predictions: Any, batch: Batch) -> np.ndarray:
        """(T, B) bool: the legal successors are strictly the top-scoring outputs (True on
        padded steps)."""
        p = self.step_predictions(predictions, batch)
        legal = batch.info["legal"]
        lowest_legal = np.where(legal, p, np.inf).min(axis=-1)
        highest_other = np.where(legal, -np.inf, p).max(axis=-1)
        return (lowest_legal > highest_other) | ~batch.mask

    def metric(self, predictions: Any, batch: Batch) -> float:
        """Fraction of strings with every step right (higher is better)."""
        return float(self._step_right(predictions, batch).all(axis=0).mean())

    def metrics(self, predictions: Any, batch: Batch) -> dict[str, float]:
        """Loss, string accuracy, per-step accuracy, accuracy on the closing T/P."""
        right = self._step_right(predictions, batch)
        closing = right[batch.info["closing_step"], np.arange(batch.size)]
        return {"loss": self.loss(predictions, batch),
                "string_accuracy": float(right.all(axis=0).mean()),
                "step_accuracy": float(right[batch.mask].mean()),
                "closing_accuracy": float(closing.mean())}

    @property
    def baseline(self) -> float:
        return 0.5

    def memoryless_predictions(self, batch: Batch) -> np.ndarray:
        """Logits: the legal set (equal scores: the grammar's own probabilities) at every step
        but the closing T/P, where it spreads its bet evenly yet ranks T a hair above P (so the
        strict top-k criterion counts the T strings right, and the loss there is ln 2)."""
        logits = np.where(batch.info["legal"], 0.0, NEG).astype(np.float32)
        closing = batch.info["closing_step"], np.arange(batch.size)
        logits[closing] = NEG
        logits[(*closing, _ID["T"])] = 0.0
        logits[(*closing, _ID["P"])] = -1e-6
        return logits

    @property
    def config(self) -> dict[str, Any]:
        return {"max_length": self.max_length, "solved_at": self.solved_at}


def _pad(ids: np.ndarray, states: np.ndarray, n: np.ndarray,
         length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pad or cut (ids, states) to ``length`` rows (a cut string keeps n > length, to redraw)."""
    rows = ids.shape[0]
    if rows < length:
        ids = np.concatenate([ids, np.full((length - rows, ids.shape[1]), -1)])
        states = np.concatenate([states, np.full((length - rows, ids.shape[1]), _DONE)])
    return ids[:length], states[:length], n
