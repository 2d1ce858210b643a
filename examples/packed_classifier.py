"""A packed-sequence bidirectional LSTM sentiment classifier, ported to tinygrad_lstm.

The original: Ben Trevett's "2 - Upgraded Sentiment Analysis" (pytorch-sentiment-analysis,
https://github.com/bentrevett/pytorch-sentiment-analysis): an Embedding with a padding index,
a 2-layer bidirectional LSTM over ``pack_padded_sequence`` batches, the last layer's final
forward and backward hidden states concatenated into a Linear, BCEWithLogitsLoss and Adam. On
IMDb it states "~84% accuracy".

No download here: reviews are generated, seeded (``make_reviews``): variable-length sequences
of neutral, positive and negative words, where "not" flips the next sentiment word; the label
says whether the (flipped) positives outnumber the negatives. So the figure printed is test
accuracy on that data, next to the original's on IMDb: the recipe compares, the numbers do not.
``pack_padded_sequence(x, lengths)`` becomes ``lstm(x, lengths=lengths)``: padded steps leave the
state unchanged and the reverse direction starts at each sequence's own last word. Run:
``python examples/packed_classifier.py`` (a minute or two on one core).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np

import tinygrad_lstm as tl

PAD, NOT = 0, 1
N_POSITIVE, N_NEGATIVE, N_NEUTRAL = 20, 20, 100
POSITIVE = range(2, 2 + N_POSITIVE)
NEGATIVE = range(POSITIVE.stop, POSITIVE.stop + N_NEGATIVE)
VOCAB = NEGATIVE.stop + N_NEUTRAL
ORIGINAL_ACCURACY = 0.84  # the original's introduction: "~84% accuracy" on IMDb


def make_reviews(n: int, seed: int, min_len: int = 5,
                 max_len: int = 40) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` token sequences of random lengths and their labels (1: positive), seeded."""
    rng = np.random.default_rng(seed)
    reviews, labels = [], []
    while len(reviews) < n:
        length = int(rng.integers(min_len, max_len + 1))
        kind = rng.choice(4, size=length, p=[0.7, 0.1, 0.1, 0.1])  # neutral, +, -, not
        tokens = np.where(kind == 0, rng.integers(NEGATIVE.stop, VOCAB, length),
                          np.where(kind == 1, rng.integers(POSITIVE.start, POSITIVE.stop, length),
                                   rng.integers(NEGATIVE.start, NEGATIVE.stop, length)))
        tokens[kind == 3] = NOT
        score, flip = 0, 1
        for token in tokens:
            if token == NOT:
                flip = -1
                continue
            if token in POSITIVE or token in NEGATIVE:
                score += flip * (1 if token in POSITIVE else -1)
            flip = 1
        if score == 0:
            continue  # no clear sentiment: drawn again
        reviews.append(tokens)
        labels.append(1.0 if score > 0 else 0.0)
    return reviews, np.array(labels)


def pad(reviews: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(T, B) token indices padded with PAD, and the lengths (torch: pad_sequence)."""
    lengths = np.array([len(r) for r in reviews])
    out = np.full((lengths.max(), len(reviews)), PAD, dtype=np.int64)
    for b, review in enumerate(reviews):
        out[:len(review), b] = review
    return out, lengths


class BiLSTMClassifier(tl.nn.Module):
    def __init__(self, vocab_size: int, embedding_dim: int, hidden_dim: int,
                 n_layers: int, dropout: float) -> None:
        super().__init__()
        self.embedding = tl.nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.rnn = tl.nn.LSTM(embedding_dim, hidden_dim, num_layers=n_layers,
                              bidirectional=True, dropout=dropout)
        self.fc = tl.nn.Linear(hidden_dim * 2, 1)
        self.dropout = tl.nn.Dropout(dropout)

    def forward(self, text: np.ndarray, lengths: np.ndarray) -> tl.Tensor:
        embedded = self.dropout(self.embedding(text))
        # torch: packed = pack_padded_sequence(embedded, lengths, enforce_sorted=False)
        _, (hidden, _) = self.rnn(embedded, lengths=lengths)
        hidden = self.dropout(tl.cat([hidden[-2], hidden[-1]], dim=1))  # last layer, both ways
        return self.fc(hidden).squeeze(1)


def evaluate(model: BiLSTMClassifier, reviews: list[np.ndarray], labels: np.ndarray) -> float:
    model.eval()
    with tl.no_grad():
        text, lengths = pad(reviews)
        predicted = model(text, lengths).numpy() > 0
    model.train()
    return float((predicted == labels).mean())


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64, help="the original's 64")
    parser.add_argument("--max-batches", type=int, default=None, help="stop early (tests)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    tl.manual_seed(args.seed)
    train_x, train_y = make_reviews(args.train, args.seed)
    test_x, test_y = make_reviews(args.test, args.seed + 1)
    model = BiLSTMClassifier(VOCAB, 32, 32, n_layers=2, dropout=0.2)
    optimizer = tl.optim.Adam(model.parameters())
    criterion = tl.nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(args.seed + 2)
    batches, batch_losses = 0, []
    for epoch in range(args.epochs):
        total, seen = 0.0, 0
        order = rng.permutation(len(train_x))
        for start in range(0, len(train_x), args.batch_size):
            chunk = order[start:start + args.batch_size]
            text, lengths = pad([train_x[i] for i in chunk])
            optimizer.zero_grad()
            logits = model(text, lengths)
            loss = criterion(logits, train_y[chunk])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(chunk)
            batch_losses.append(loss.item())
            seen += len(chunk)
            batches += 1
            if args.max_batches is not None and batches >= args.max_batches:
                break
        print(f"epoch {epoch + 1}  train loss {total / seen:.4f}  test accuracy "
              f"{evaluate(model, test_x, test_y):.3f}")
        if args.max_batches is not None and batches >= args.max_batches:
            break
    accuracy = evaluate(model, test_x, test_y)
    print(f"test accuracy {accuracy:.3f} on generated reviews (majority class "
          f"{max(test_y.mean(), 1 - test_y.mean()):.3f}); the original: ~{ORIGINAL_ACCURACY:.2f}"
          " on IMDb")
    return {"test_accuracy": accuracy, "majority": float(max(test_y.mean(), 1 - test_y.mean())),
            "batch_losses": batch_losses}


if __name__ == "__main__":
    main()
