"""Naming cells: the zoo's names, ``"module:Class"`` and ``Cell`` subclasses, resolved alike.

``resolve(spec)`` is what every entry point that takes a cell by name calls (the trainer, the
command line, the docs generator, studies), so a custom cell goes wherever a built-in one goes.
It returns a ``CellSpec``: the ``Cell`` subclass, the options the name presets (``rnn-relu`` is
``RNN`` with ``nonlinearity="relu"``), the options its constructor takes, with their types and
defaults, and ``build(input_size, hidden_size, **options)``.

>>> import tinygrad_lstm as tl
>>> spec = tl.cells.resolve("rnn-relu")
>>> spec.cls.__name__, spec.preset
('RNN', {'nonlinearity': 'relu'})
>>> spec.build(3, 8).nonlinearity
'relu'
>>> tl.cells.resolve("tinygrad_lstm.cells:GRU").name
'tinygrad_lstm.cells:GRU'
>>> spec.parse_option("forget_bias", "1.5")
('forget_bias', 1.5)
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import json
import os
import sys
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tinygrad_lstm.cells.base import Cell
from tinygrad_lstm.cells.gru import GRU, MGU, MUT1, MUT2, MUT3, TorchGRU
from tinygrad_lstm.cells.lstm import (
    CIFG,
    GREFF_VARIANTS,
    LSTM,
    DepthGatedLSTM,
    LayerNormLSTM,
    PeepholeLSTM,
)
from tinygrad_lstm.cells.rnn import RNN, ClockworkRNN
from tinygrad_lstm.registry import Registry


class CellSpecError(ValueError):
    """A cell name, class or option that cannot be used: the message says why, in one line."""


@dataclass(frozen=True)
class CellSpec:
    """A resolved cell: its class, the options its name presets, and how to build it.

    ``name`` is what a run's ``config.json`` records: the zoo name, or ``"module:Class"`` for
    any other class (``resolve(name)`` gives this spec back when that module is importable).
    Calling the spec is ``build``.
    """

    name: str
    cls: type[Cell]
    preset: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def build(self, input_size: int, hidden_size: int, **options: Any) -> Cell:
        """The cell, with the preset options overridden by ``options``.

        Raises ``CellSpecError`` naming an option the constructor does not take; the cell's own
        checks raise their own errors (``ValueError``/``TypeError``) for bad values.
        """
        known = self.options()
        unknown = [k for k in options if k not in known]
        if unknown:
            raise CellSpecError(
                f"cell {self.name!r} has no option {unknown[0]!r}; its options: "
                f"{', '.join(known) or '(none)'}")
        return self.cls(input_size, hidden_size, **{**self.preset, **options})

    __call__ = build

    def options(self) -> dict[str, inspect.Parameter]:
        """The constructor's keyword options beyond ``input_size`` and ``hidden_size``, each
        with its default (the preset's where the name sets one) and annotation, following
        ``**options`` up to ``Cell.__init__``."""
        found: dict[str, inspect.Parameter] = {}
        for param in _constructor_parameters(self.cls):
            if param.name in self.preset:
                param = param.replace(default=self.preset[param.name])
            found.setdefault(param.name, param)
        return found

    def parse_option(self, key: str, text: str) -> tuple[str, Any]:
        """``KEY=VALUE`` text (from ``--cell-option``) typed by the constructor's signature.

        bool takes true/false/yes/no/1/0, ``X | None`` takes ``none``, sequences take
        comma-separated items, dicts take JSON or ``key:value,...``; an untyped option is read
        as a Python literal, else kept as text. Raises ``CellSpecError``.
        """
        key = key.strip().replace("-", "_")
        known = self.options()
        if key not in known:
            raise CellSpecError(f"cell {self.name!r} has no option {key!r}; its options: "
                                f"{', '.join(known) or '(none)'}")
        hint = _type_hints(self.cls).get(key, known[key].annotation)
        default = known[key].default
        try:
            return key, _convert(text.strip(), hint, default)
        except (ValueError, TypeError, SyntaxError):
            raise CellSpecError(f"cell option {key}={text!r}: expected "
                                f"{_describe(hint, default)}") from None


# the zoo: every built-in name, its class and the options the name presets
_ZOO: Registry[CellSpec] = Registry("cell", CellSpecError,
                                    " (or 'module:Class' for a custom cell)")


def register(name: str, cls: type[Cell], preset: Mapping[str, Any] | None = None,
             description: str | None = None) -> None:
    """Add a cell to the zoo under ``name``: ``cls`` built with the ``preset`` options (the
    zoo's ``rnn-relu`` is ``RNN`` with ``nonlinearity="relu"``). Every entry point that takes a
    cell by name (``train``, the command line, ``docs``, studies) then knows it.

    Raises ``CellSpecError`` for a ``cls`` that is not a ``tl.Cell`` subclass, ValueError for a
    name that is not one word.
    """
    if not (isinstance(cls, type) and issubclass(cls, Cell)) or cls is Cell:
        raise CellSpecError(f"register: cell {name!r} must be a tl.Cell subclass, got {cls!r}")
    if description is None:
        description = cls.description or (cls.__doc__ or "").strip().split("\n")[0]
    _ZOO.register(name, CellSpec(name, cls, dict(preset or {}), description), description)


def unregister(name: str) -> None:
    """Remove ``name`` from the zoo (``CellSpecError`` if it is not there)."""
    _ZOO.unregister(name)


for _name, _cls, _preset, _description in (
        ("rnn", RNN, {}, None),
        ("rnn-relu", RNN, {"nonlinearity": "relu"},
         "vanilla RNN with relu: h_t = relu(W·[h_{t-1}, x_t] + b)"),
        ("lstm", LSTM, {}, None),
        ("peephole", PeepholeLSTM, {}, None),
        ("peephole-full", PeepholeLSTM, {"full_peepholes": True},
         "peephole LSTM with full matrices over [C, h, x], as the essay draws them"),
        ("cifg", CIFG, {}, None),
        ("gru", GRU, {}, None),
        ("torch-gru", TorchGRU, {}, None),
        ("mgu", MGU, {}, None),
        ("mut1", MUT1, {}, None),
        ("mut2", MUT2, {}, None),
        ("mut3", MUT3, {}, None),
        ("layernorm-lstm", LayerNormLSTM, {}, None),
        ("clockwork", ClockworkRNN, {}, None),
        ("depth-gated-lstm", DepthGatedLSTM, {}, None)):
    register(_name, _cls, _preset, _description)
_GREFF_DESCRIPTIONS = {
    "NIG": "no input gate (i = 1)", "NFG": "no forget gate (f = 1)",
    "NOG": "no output gate (o = 1)", "NIAF": "no input activation (no tanh on C̃)",
    "NOAF": "no output activation (h = o ⊙ C)", "NP": "no peepholes",
    "CIFG": "coupled input and forget gate (f = 1 - i)",
    "FGR": "full gate recurrence (gates read i, f, o of the previous step)",
}
for _name, _preset in GREFF_VARIANTS.items():
    register(f"greff-{_name.lower()}", PeepholeLSTM, _preset,
             f"Greff 2015 {_name}: peephole LSTM with {_GREFF_DESCRIPTIONS[_name]}")


def _constructor_parameters(cls: type) -> Iterator[inspect.Parameter]:
    """Keyword parameters of ``cls.__init__`` and, while it passes ``**options`` on, of the
    bases' ``__init__`` up to ``Cell``."""
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        try:
            params = list(inspect.signature(vars(klass)["__init__"]).parameters.values())
        except (TypeError, ValueError):
            return
        passes_on = False
        for param in params[1:]:  # self
            if param.kind is param.VAR_KEYWORD:
                passes_on = True
            elif param.kind is not param.VAR_POSITIONAL and param.name not in (
                    "input_size", "hidden_size"):
                yield param
        if klass is Cell or not passes_on:
            return


def _type_hints(cls: type) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            hints.update(typing.get_type_hints(init))
        except Exception:  # noqa: BLE001 - a hint that does not evaluate: fall back to defaults
            pass
    return hints


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else Any), True
    return hint, False


_TRUE, _FALSE = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


def _convert(text: str, hint: Any, default: Any) -> Any:
    hint, optional = _strip_optional(hint)
    if optional and text.lower() == "none":
        return None
    if hint in (inspect.Parameter.empty, Any, None) or isinstance(hint, str):
        if default is not inspect.Parameter.empty and default is not None:
            hint = type(default)
        else:
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return text
    origin = typing.get_origin(hint) or hint
    if origin is bool:
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ValueError(text)
    if origin in (int, float, str):
        return origin(text)
    if isinstance(origin, type) and issubclass(origin, Mapping):
        if text.startswith("{"):
            value = json.loads(text)
        else:
            pairs = [item.split(":", 1) for item in text.split(",") if item.strip()]
            if any(len(p) != 2 for p in pairs):
                raise ValueError(text)
            value = {k.strip(): ast.literal_eval(v.strip()) for k, v in pairs}
        if not isinstance(value, dict):
            raise ValueError(text)
        return value
    if origin in (list, tuple, Sequence):
        item = (typing.get_args(hint) or (str,))[0]
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return tuple(_convert(p, item, inspect.Parameter.empty) for p in parts)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _describe(hint: Any, default: Any) -> str:
    hint, optional = _strip_optional(hint)
    if hint in (inspect.Parameter.empty, Any) and default not in (inspect.Parameter.empty, None):
        hint = type(default)
    name = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
    if name == "bool":
        name = "true or false"
    return name + (" or none" if optional else "")


@contextlib.contextmanager
def _cwd_importable() -> Iterator[None]:
    """Put the current folder first on ``sys.path`` for one import, as ``python -m`` does."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def _import_class(spec: str) -> type:
    module_name, _, attr = spec.partition(":")
    module_name, attr = module_name.strip(), attr.strip()
    if not module_name or not attr:
        raise CellSpecError(f"cell {spec!r}: write a zoo name or 'module:Class'")
    try:
        with _cwd_importable():
            module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise CellSpecError(
                f"cell {spec!r}: no module named {module_name!r} (run from the folder that "
                f"holds {module_name.replace('.', '/')}.py, or install it)") from None
        raise CellSpecError(f"cell {spec!r}: importing {module_name} failed: {err}") from None
    except Exception as err:  # noqa: BLE001 - the user's module may raise anything on import
        where = ""
        if isinstance(err, SyntaxError):
            where = f" ({err.filename}, line {err.lineno})"
        raise CellSpecError(f"cell {spec!r}: importing {module_name} failed: "
                            f"{type(err).__name__}: {err}{where}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise CellSpecError(f"cell {spec!r}: module {module_name} has no {attr!r}")
        obj = getattr(obj, part)
    return obj


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def resolve(spec: str | type[Cell] | CellSpec) -> CellSpec:
    """A cell named by its zoo name (``available()``), ``"module:Class"`` (imported with the
    current folder on ``sys.path``) or given as a ``Cell`` subclass.

    Raises ``CellSpecError`` (a ``ValueError``) in one line for an unknown name, a module that
    does not import, a missing attribute, or anything that is not a ``Cell`` subclass.
    """
    if isinstance(spec, CellSpec):
        return spec
    if isinstance(spec, type):
        cls = spec
        name = _class_name(cls)
    elif isinstance(spec, str):
        if spec in _ZOO or ":" not in spec:
            found = _ZOO.get(spec)  # CellSpecError listing the zoo when unknown
            return CellSpec(found.name, found.cls, dict(found.preset), found.description)
        cls = _import_class(spec)
        name = spec.strip()
    else:
        raise CellSpecError(f"cell must be a zoo name, 'module:Class' or a Cell subclass, got "
                            f"{type(spec).__name__}")
    if not (isinstance(cls, type) and issubclass(cls, Cell)):
        what = cls.__name__ if isinstance(cls, type) else type(cls).__name__
        raise CellSpecError(f"cell {name!r} is not a tl.Cell subclass (it is {what})")
    if cls is Cell:
        raise CellSpecError("cell: tl.Cell itself has no step; give a subclass")
    return CellSpec(name, cls, {}, cls.description or (cls.__doc__ or "").strip().split("\n")[0])


def available() -> dict[str, str]:
    """Every cell in the zoo by name, with a one-line description."""
    return _ZOO.available()


def names() -> list[str]:
    """Every name in the zoo, in the order ``tinygrad-lstm cells`` lists them."""
    return _ZOO.names()


def get(name: str) -> type[Cell]:
    """The class registered as ``name`` (``resolve`` gives its preset options too)."""
    return _ZOO.get(name).cls
