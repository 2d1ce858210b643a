"""The LSTM part-of-speech tagger of PyTorch's tutorial, ported to tinygrad_lstm.

The original: "Sequence Models and Long Short-Term Memory Networks" (Robert Guthrie),
https://pytorch.org/tutorials/beginner/nlp/sequence_models_tutorial.html. Its model embeds each
word (6 numbers), runs an LSTM (6 hidden units) over the sentence, one sentence at a time
(batch 1), maps each output to 3 tag scores and trains 300 epochs of SGD (lr 0.1) with
log_softmax + NLLLoss on two sentences. After training it prints the tag scores of "The dog
ate the apple" and reads off the predicted tags: 0 1 2 0 1, DET NN V DET NN, "the correct
sequence" (5 of 5 tags). This port prints the same sequence next to the tutorial's.

Run it: ``python examples/pos_tagger.py`` (a few seconds on one core). The lines a PyTorch
user changes are marked ``# torch:``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np

import tinygrad_lstm as tl

TRAINING_DATA = [
    # tags: DET determiner, NN noun, V verb
    ("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
    ("Everybody read that book".split(), ["NN", "V", "DET", "NN"]),
]
TAG_TO_IX = {"DET": 0, "NN": 1, "V": 2}
EMBEDDING_DIM = 6
HIDDEN_DIM = 6
TUTORIAL_PREDICTION = [0, 1, 2, 0, 1]  # the tutorial's printed result for sentence 0


def prepare_sequence(seq: Sequence[str], to_ix: dict[str, int]) -> np.ndarray:
    return np.array([to_ix[w] for w in seq])  # torch: torch.tensor(idxs, dtype=torch.long)


class LSTMTagger(tl.nn.Module):  # torch: nn.Module
    def __init__(self, embedding_dim: int, hidden_dim: int, vocab_size: int,
                 tagset_size: int) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.word_embeddings = tl.nn.Embedding(vocab_size, embedding_dim)
        self.lstm = tl.nn.LSTM(embedding_dim, hidden_dim)
        self.hidden2tag = tl.nn.Linear(hidden_dim, tagset_size)

    def forward(self, sentence: np.ndarray) -> tl.Tensor:
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
        tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
        return tl.log_softmax(tag_space, dim=1)  # torch: F.log_softmax(tag_space, dim=1)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300, help="the tutorial's 300")
    parser.add_argument("--seed", type=int, default=1, help="the tutorial's torch.manual_seed(1)")
    args = parser.parse_args(argv)
    tl.manual_seed(args.seed)  # torch: torch.manual_seed(1)

    word_to_ix: dict[str, int] = {}
    for sent, _ in TRAINING_DATA:
        for word in sent:
            word_to_ix.setdefault(word, len(word_to_ix))
    model = LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, len(word_to_ix), len(TAG_TO_IX))
    loss_function = tl.nn.NLLLoss()
    optimizer = tl.optim.SGD(model.parameters(), lr=0.1)

    with tl.no_grad():  # the scores before training
        before = model(prepare_sequence(TRAINING_DATA[0][0], word_to_ix))
    losses = []
    for _ in range(args.epochs):
        total = 0.0
        for sentence, tags in TRAINING_DATA:
            model.zero_grad()
            sentence_in = prepare_sequence(sentence, word_to_ix)
            targets = prepare_sequence(tags, TAG_TO_IX)
            loss = loss_function(model(sentence_in), targets)
            loss.backward()
            optimizer.step()
            total += loss.item()
        losses.append(total / len(TRAINING_DATA))

    with tl.no_grad():
        scores = model(prepare_sequence(TRAINING_DATA[0][0], word_to_ix))
        correct = sum(int((model(prepare_sequence(s, word_to_ix)).argmax(dim=1)
                           == prepare_sequence(t, TAG_TO_IX)).sum()) for s, t in TRAINING_DATA)
    predicted = scores.argmax(dim=1).tolist()
    n_tags = sum(len(t) for _, t in TRAINING_DATA)
    print(f"tag scores of 'The dog ate the apple' before training:\n{before.numpy().round(4)}")
    print(f"after {args.epochs} epochs (mean loss {losses[0]:.4f} -> {losses[-1]:.4f}):\n"
          f"{scores.numpy().round(4)}")
    print(f"predicted tags: {predicted}   the tutorial's: {TUTORIAL_PREDICTION} (DET NN V DET NN)")
    print(f"training tags right: {correct}/{n_tags}   the tutorial: 5/5 on its first sentence")
    return {"predicted": predicted, "correct": correct, "n_tags": n_tags, "losses": losses}


if __name__ == "__main__":
    main()
