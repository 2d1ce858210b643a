"""Small work: the part-of-speech tagger of examples/pos_tagger.py against PyTorch, CPU time.

What is measured
    One *step* trains on one sentence (batch 1, 4 to 9 words): ``zero_grad``, Embedding ->
    LSTM -> Linear -> log_softmax, the NLL loss, ``backward``, an SGD update; the tutorial's
    sizes (embedding 6, hidden 6, 3 tags) and a 60-word vocabulary. ``forward`` is the same
    model under no_grad (tagging a sentence). Both frameworks start from the same weights
    (copied from PyTorch with ``load_state_dict(layout="torch")``) and the first losses are
    checked against each other before timing.

How it is timed
    ``time.process_time`` (CPU time of this process), one BLAS/intra-op thread each
    (threadpoolctl, ``torch.set_num_threads(1)``). A repeat runs every sentence of a fixed
    list once; the frameworks take turns repeat by repeat (interleaved, so machine noise hits
    both); the figure is the median over ``--repeats`` repeats, per step. The ratio is
    ours / PyTorch: below 1.0 we are faster.

Usage (from the repository root)::

    python benchmarks/tagger.py [--repeats 15] [--sentences 50] [--profile] [--json PATH]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import tinygrad_lstm as tl  # noqa: E402

VOCAB, EMBEDDING_DIM, HIDDEN_DIM, TAGS = 60, 6, 6, 3


class Tagger(tl.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.word_embeddings = tl.nn.Embedding(VOCAB, EMBEDDING_DIM)
        self.lstm = tl.nn.LSTM(EMBEDDING_DIM, HIDDEN_DIM)
        self.hidden2tag = tl.nn.Linear(HIDDEN_DIM, TAGS)

    def forward(self, sentence: np.ndarray) -> tl.Tensor:
        embeds = self.word_embeddings(sentence)
        lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
        return tl.log_softmax(self.hidden2tag(lstm_out.view(len(sentence), -1)), dim=1)


def _torch_tagger(torch: Any) -> Any:
    class TorchTagger(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.word_embeddings = torch.nn.Embedding(VOCAB, EMBEDDING_DIM)
            self.lstm = torch.nn.LSTM(EMBEDDING_DIM, HIDDEN_DIM)
            self.hidden2tag = torch.nn.Linear(HIDDEN_DIM, TAGS)

        def forward(self, sentence: Any) -> Any:
            embeds = self.word_embeddings(sentence)
            lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
            tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
            return torch.log_softmax(tag_space, dim=1)

    return TorchTagger()


def build(n_sentences: int, seed: int) -> dict[str, Any]:
    """The two models from the same weights, their optimisers, and the sentences."""
    import torch

    torch.manual_seed(seed)
    theirs = _torch_tagger(torch)
    ours = Tagger()
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    ours.word_embeddings.load_state_dict({"weight": sd["word_embeddings.weight"]})
    ours.lstm.load_state_dict({k[len("lstm."):]: v for k, v in sd.items()
                               if k.startswith("lstm.")}, layout="torch")
    ours.hidden2tag.load_state_dict({"weight": sd["hidden2tag.weight"],
                                     "bias": sd["hidden2tag.bias"]})
    rng = np.random.default_rng(seed)
    sentences = [rng.integers(0, VOCAB, int(rng.integers(4, 10))) for _ in range(n_sentences)]
    tags = [rng.integers(0, TAGS, len(s)) for s in sentences]
    return {"ours": ours, "theirs": theirs, "sentences": sentences, "tags": tags,
            "t_sentences": [torch.from_numpy(s) for s in sentences],
            "t_tags": [torch.from_numpy(t) for t in tags],
            "opt": tl.optim.SGD(ours.parameters(), lr=0.1),
            "t_opt": torch.optim.SGD(theirs.parameters(), lr=0.1),
            "t_loss": torch.nn.NLLLoss(), "torch": torch}


def steps(setup: dict[str, Any]) -> dict[str, Callable[[], float]]:
    """One repeat of each column: every sentence once."""
    ours, theirs, opt, t_opt = setup["ours"], setup["theirs"], setup["opt"], setup["t_opt"]
    sentences, tags = setup["sentences"], setup["tags"]
    t_sentences, t_tags, t_loss = setup["t_sentences"], setup["t_tags"], setup["t_loss"]
    torch = setup["torch"]

    def train_ours() -> float:
        total = 0.0
        for s, t in zip(sentences, tags, strict=True):
            opt.zero_grad()
            loss = -ours(s).gather(1, t[:, None]).mean()
            loss.backward()
            opt.step()
            total += loss.item()
        return total

    def train_torch() -> float:
        total = 0.0
        for s, t in zip(t_sentences, t_tags, strict=True):
            t_opt.zero_grad()
            loss = t_loss(theirs(s), t)
            loss.backward()
            t_opt.step()
            total += loss.item()
        return total

    def forward_ours() -> float:
        with tl.no_grad():
            return sum(float(ours(s).numpy()[0, 0]) for s in sentences)

    def forward_torch() -> float:
        with torch.no_grad():
            return sum(float(theirs(s)[0, 0]) for s in t_sentences)

    return {"train ours": train_ours, "train torch": train_torch,
            "forward ours": forward_ours, "forward torch": forward_torch}


def check_same_losses(setup: dict[str, Any]) -> float:
    """The first sentence's loss in both frameworks (same weights): their difference."""
    s, t = setup["sentences"][0], setup["tags"][0]
    with tl.no_grad():
        ours = -setup["ours"](s).gather(1, t[:, None]).mean().item()
    with setup["torch"].no_grad():
        theirs = setup["t_loss"](setup["theirs"](setup["t_sentences"][0]),
                                 setup["t_tags"][0]).item()
    if abs(ours - theirs) > 1e-5:
        raise SystemExit(f"tagger: the losses differ from the same weights: {ours} vs {theirs}")
    return abs(ours - theirs)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--sentences", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="cProfile our training step")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    setup = build(args.sentences, args.seed)
    setup["torch"].set_num_threads(1)
    difference = check_same_losses(setup)
    columns = steps(setup)
    for fn in columns.values():  # warm-up: first calls, caches, allocator
        fn()
    samples: dict[str, list[float]] = {name: [] for name in columns}
    for _ in range(args.repeats):
        for name, fn in columns.items():
            start = time.process_time()
            fn()
            samples[name].append((time.process_time() - start) / args.sentences)
    medians = {name: statistics.median(v) for name, v in samples.items()}
    result = {
        "python": platform.python_version(), "numpy": np.__version__,
        "torch": setup["torch"].__version__, "machine": platform.machine(),
        "sentences": args.sentences, "repeats": args.repeats,
        "first_loss_difference": difference,
        "median_ms_per_sentence": {k: v * 1e3 for k, v in medians.items()},
        "ratio_train": medians["train ours"] / medians["train torch"],
        "ratio_forward": medians["forward ours"] / medians["forward torch"],
    }
    print(f"tagger, batch 1, {args.sentences} sentences of 4-9 words, one thread, CPU time "
          f"(process_time), median of {args.repeats} interleaved repeats")
    for name, ms in result["median_ms_per_sentence"].items():
        print(f"  {name:14s} {ms:7.3f} ms per sentence")
    print(f"  ours / PyTorch: train {result['ratio_train']:.2f}x, "
          f"forward {result['ratio_forward']:.2f}x")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        columns["train ours"]()
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
