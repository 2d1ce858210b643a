"""The examples/ ports run, on a few batches (the tagger in full: it is tiny), and the tagger
follows the PyTorch tutorial's own code from the same weights."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import tinygrad_lstm as tl

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look modules up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_tagger_reaches_the_tutorials_prediction(capsys: pytest.CaptureFixture) -> None:
    result = _load("pos_tagger").main([])
    assert result["predicted"] == [0, 1, 2, 0, 1]  # DET NN V DET NN, as the tutorial prints
    assert result["correct"] == result["n_tags"] == 9
    assert result["losses"][-1] < 0.25 * result["losses"][0]
    assert "the tutorial's: [0, 1, 2, 0, 1]" in capsys.readouterr().out


@pytest.mark.slow
def test_tagger_follows_the_pytorch_tutorial_from_the_same_weights() -> None:
    torch = pytest.importorskip("torch")
    tagger = _load("pos_tagger")
    word_to_ix: dict[str, int] = {}
    for sent, _ in tagger.TRAINING_DATA:
        for word in sent:
            word_to_ix.setdefault(word, len(word_to_ix))

    class TorchTagger(torch.nn.Module):  # the tutorial's model, as it writes it
        def __init__(self) -> None:
            super().__init__()
            self.word_embeddings = torch.nn.Embedding(len(word_to_ix), 6)
            self.lstm = torch.nn.LSTM(6, 6)
            self.hidden2tag = torch.nn.Linear(6, 3)

        def forward(self, sentence):
            embeds = self.word_embeddings(sentence)
            lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
            tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
            return torch.log_softmax(tag_space, dim=1)

    torch.manual_seed(1)
    theirs = TorchTagger().double()
    ours = tagger.LSTMTagger(6, 6, len(word_to_ix), 3).to("float64")
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()},
                         layout="torch")
    opt, t_opt = tl.optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(),
                                                                         lr=0.1)
    loss_fn, t_loss_fn = tl.nn.NLLLoss(), torch.nn.NLLLoss()
    for _ in range(10):
        for sentence, tags in tagger.TRAINING_DATA:
            x = tagger.prepare_sequence(sentence, word_to_ix)
            y = tagger.prepare_sequence(tags, tagger.TAG_TO_IX)
            ours.zero_grad()
            loss = loss_fn(ours(x), y)
            loss.backward()
            opt.step()
            theirs.zero_grad()
            t_loss = t_loss_fn(theirs(torch.from_numpy(x)), torch.from_numpy(y))
            t_loss.backward()
            t_opt.step()
            assert loss.item() == pytest.approx(t_loss.item(), rel=1e-12)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(ours.state_dict(layout="torch")[name], p.detach().numpy(),
                                   rtol=1e-11, atol=1e-13)


def test_name_classifier_runs_and_learns_on_a_few_batches() -> None:
    result = _load("name_classifier").main(
        ["--epochs", "1", "--per-language", "60", "--batch-size", "16", "--max-batches", "12"])
    losses = result["batch_losses"]
    assert len(losses) == 12 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert 0.0 <= result["test_accuracy"] <= 1.0


def test_names_are_generated_reproducibly() -> None:
    module = _load("name_classifier")
    names, labels, languages = module.make_names(5, seed=3)
    again = module.make_names(5, seed=3)
    assert names == again[0] and len(names) == 5 * len(languages)
    letters, lengths = module.batch_letters(names[:4])
    assert letters.shape == (lengths.max(), 4) and (letters[lengths[0]:, 0] == 0).all()


@pytest.mark.slow
def test_packed_classifier_runs_and_learns_on_a_few_batches() -> None:
    module = _load("packed_classifier")
    result = module.main(["--epochs", "1", "--train", "256", "--test", "64", "--batch-size",
                          "32", "--max-batches", "8"])
    losses = result["batch_losses"]
    assert len(losses) == 8 and all(np.isfinite(losses))
    assert 0.0 <= result["test_accuracy"] <= 1.0
    reviews, labels = module.make_reviews(50, seed=4)
    assert {len(r) for r in reviews} != {len(reviews[0])}  # variable lengths
    assert set(labels.tolist()) == {0.0, 1.0}


@pytest.mark.slow
def test_the_from_pytorch_script_runs(capsys: pytest.CaptureFixture) -> None:
    """docs/from-pytorch.md's port of the PyTorch script, as printed there, for 8 epochs."""
    import re

    page = (EXAMPLES.parent / "docs" / "from-pytorch.md").read_text()
    script = re.findall(r"```python\n(.*?)```", page, re.S)[1]
    assert "EPOCHS = 50, 3, 30" in script
    namespace: dict = {"__name__": "from_pytorch"}
    exec(compile(script.replace("EPOCHS = 50, 3, 30", "EPOCHS = 50, 3, 8"),  # noqa: S102
                 "from-pytorch.md", "exec"), namespace)
    assert "epoch 7:" in capsys.readouterr().out
    assert namespace["accuracy"] > 0.45  # chance is 1/3; 8 epochs take it past 0.5
    assert namespace["val_loss"] < np.log(3)
