"""Derive: forward assignments and the reverse-mode backward of a traced step, in SymPy.

Every node's expression comes from its primitive's one symbolic rule,
``PRIMITIVES[name].symbolic`` (the rule ``tl.symbolic`` prints with). The backward is reverse
mode over that scalar program: SymPy differentiates each node's expression by each input, the
derivative is rewritten in terms of the node's own output where it reads it (σ' = v(1 - v),
tanh' = 1 - v², exp' = v), node adjoints are substituted away, and ``sympy.cse`` shares what
the leaf adjoints have in common. A forward value is saved for the backward iff the backward
expressions read it (for the LSTM, f, i, C̃, o and tanh(C_t)), unless it is a cheap rule of
values the backward reads anyway: TorchGRU's 1 - z is recomputed from z, not saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy

from tinygrad_lstm.compile.trace import Graph, NotCompilable, Ref
from tinygrad_lstm.primitives import PRIMITIVES


class max_grad(sympy.Function):  # noqa: N801 - printed as a kernel helper of that name
    """d max(a, b)/da as maximum's tape VJP selects it: 0 where a < b, 1/2 at a tie (infinities
    included, where a - b would be nan), 1 where a > b or either is nan (the gradient passes
    on), as PyTorch's maximum does."""

    nargs = 2


def leaf_symbol(kind: str, name: Any) -> sympy.Symbol:
    """The symbol of a leaf in generated code: z_<gate>, s_<state>, p_<param>, v<node>,
    x_x (x_t read directly), k_<name> (a context input)."""
    prefix = {"z": "z_", "s": "s_", "p": "p_", "v": "v", "x": "x_", "k": "k_"}[kind]
    return sympy.Symbol(f"{prefix}{name}", real=True)


def grad_symbol(state: str) -> sympy.Symbol:
    """The incoming adjoint of new state ``state`` (output and recurrent parts summed)."""
    return sympy.Symbol(f"g_{state}", real=True)


@dataclass
class Derivation:
    """What the emitters print.

    ``forward``: (symbol, expression) per node, in order; ``outputs``: the new state's
    expressions; ``computed``: the expressions of the values gates read (u<k>); ``adjoints``:
    one expression per gate z, previous state and parameter, in terms of the incoming adjoints
    g_<state> and g_u<k>; ``saved``: the forward symbols (node values v_k and gate leaves z_g)
    the backward reads, in a fixed order. ``temps`` and ``adjoints`` are also given after one
    ``cse`` over all of them (``reduced``); ``backward_kernel`` does it for a subset.
    """

    graph: Graph
    forward: list[tuple[sympy.Symbol, sympy.Expr]]
    outputs: list[sympy.Expr]
    temps: list[tuple[sympy.Symbol, sympy.Expr]]
    adjoints: dict[tuple[str, str], sympy.Expr]  # ("z"|"s"|"p", name) -> expression (cse'd)
    saved: list[sympy.Symbol]
    raw: dict[tuple[str, str], sympy.Expr]  # the same before cse
    computed: dict[str, sympy.Expr]

    def backward_kernel(self, leaves: list[tuple[str, str]]
                        ) -> tuple[list[tuple[sympy.Symbol, sympy.Expr]], list[sympy.Expr]]:
        """``cse`` over the adjoints of ``leaves`` alone: (temporaries, expressions)."""
        return sympy.cse([self.raw[leaf] for leaf in leaves],
                         symbols=sympy.numbered_symbols("t", real=True), optimizations="basic")

    def phase(self, p: int) -> tuple[list[str], list[sympy.Expr],
                                     list[tuple[sympy.Symbol, sympy.Expr]]]:
        """Forward phase ``p`` of a step in phases: the computed values it makes (names), their
        expressions, and the forward assignments those need."""
        g = self.graph
        names = [n for n, _, _ in g.computed if g.u_levels[n] == p]
        outs = [self.computed[n] for n in names]
        return names, outs, self.forward_cone(outs)

    def backward_leaves(self, level: int) -> list[tuple[str, str]]:
        """The leaves whose adjoints the backward kernel of ``level`` writes: dZ of that
        level's gates; level 0 also the state carries and the gradients of the parameters, of x_t
        and of the context inputs."""
        g = self.graph
        leaves = [("z", x) for x in g.gates if g.levels[x] == level]
        if level == 0:
            leaves += [("s", s) for s in g.states] + [("p", q) for q in g.params]
            leaves += [("x", "x")] if g.reads_x else []
            leaves += [("k", k) for k in g.context]
        return leaves

    def leaf_target(self, kind: str, name: str) -> tuple[str, int, str]:
        """Where a backward kernel writes the adjoint of leaf (``kind``, ``name``): the array,
        the index of the leaf's block there, and the array's layout, which each emitter turns
        into its own addressing: "block" (B, n·H) (dZ), "plane" (n, B, H) (the state carries,
        the context's gradient), "row" (B, H) (x_t's gradient), "column" (n, H) (the
        parameters' gradients, summed over b)."""
        g = self.graph
        if kind == "z":
            return "dz", g.gates.index(name), "block"
        if kind == "s":
            return "DSP", g.states.index(name), "plane"
        if kind == "x":
            return "a_dx", 0, "row"
        if kind == "k":
            return "a_dk", g.context.index(name), "plane"
        return "DP", g.params.index(name), "column"

    def backward_writes(self, leaves: list[tuple[str, str]], exprs: list[str],
                        syntax: dict[str, str]) -> tuple[list[str], list[str]]:
        """A backward kernel's writes of the adjoints of ``leaves`` (``exprs``, printed), and a
        padded row's (dZ and the inputs' gradients 0, the state carry on, parameters
        untouched), in one target's ``syntax``: format strings per layout of
        ``leaf_target`` (the address, from ``{a}`` and ``{k}``) and for "store", "add" (the
        parameters' sum over b), "carry" and "zero" (from ``{at}``, ``{e}``, ``{k}``)."""
        body, padded = [], []
        for leaf, e in zip(leaves, exprs, strict=True):
            array, k, layout = self.leaf_target(*leaf)
            at = syntax[layout].format(a=array, k=k)
            if layout == "column":
                body.append(syntax["add"].format(at=at, e=e))
                continue
            body.append(syntax["store"].format(at=at, e=e))
            padded.append(syntax["carry" if array == "DSP" else "zero"].format(at=at, k=k))
        return body, padded

    def forward_cone(self, refs: list[Any]) -> list[tuple[sympy.Symbol, sympy.Expr]]:
        """The forward assignments the expressions ``refs`` need, in order."""
        need: set[sympy.Symbol] = set()
        todo = [e.free_symbols if isinstance(e, sympy.Basic) else set() for e in refs]
        pending = set().union(*todo) if todo else set()
        by_symbol = dict(self.forward)
        while pending:
            sym = pending.pop()
            if sym in by_symbol and sym not in need:
                need.add(sym)
                pending |= by_symbol[sym].free_symbols
        return [(v, e) for v, e in self.forward if v in need]


def free_names(exprs: list[Any]) -> set[str]:
    """The names of the symbols ``exprs`` read (what a kernel must load)."""
    out: set[str] = set()
    for e in exprs:
        out |= {s.name for s in getattr(e, "free_symbols", ())}
    return out


def _value(ref: Ref) -> Any:
    kind, name = ref
    if kind == "c":
        value = float(name)
        return sympy.Integer(int(value)) if value.is_integer() else sympy.Float(value)
    return leaf_symbol(kind, name)


def derive(graph: Graph) -> Derivation:
    """Forward and backward of ``graph``; raises ``NotCompilable`` for a rule SymPy cannot
    differentiate."""
    forward: list[tuple[sympy.Symbol, sympy.Expr]] = []
    inputs: list[list[Any]] = []
    for k, (name, refs, params) in enumerate(graph.nodes):
        args = [_value(r) for r in refs]
        expr = PRIMITIVES[name].symbolic(*args, **dict(params))
        if not isinstance(expr, sympy.Basic):
            raise NotCompilable(f"the symbolic rule of {name!r} did not give one expression")
        forward.append((leaf_symbol("v", k), sympy.sympify(expr)))
        inputs.append(args)
    outputs = [_value(r) for r in graph.outputs]

    adjoint: dict[sympy.Symbol, sympy.Expr] = {}
    seeds = [(state, out) for state, out in zip(graph.states, outputs, strict=True)]
    computed = {name: _value(ref) for name, ref, _ in graph.computed}
    seeds += list(computed.items())  # a value a gate reads: its adjoint comes from the GEMM
    for name, out in seeds:
        if isinstance(out, sympy.Symbol):
            adjoint[out] = adjoint.get(out, sympy.Integer(0)) + grad_symbol(name)
    name_of = [name for name, _, _ in graph.nodes]
    for k in range(len(forward) - 1, -1, -1):
        v, expr = forward[k]
        a = adjoint.pop(v, None)
        if a is None:
            continue
        for u in dict.fromkeys(x for x in inputs[k] if isinstance(x, sympy.Symbol)):
            if name_of[k] == "maximum":  # its own select, not SymPy's Heaviside(a - b)
                a_in, b_in = inputs[k]
                d = sympy.Integer(1) if a_in == b_in else \
                    max_grad(u, b_in) if u == a_in else max_grad(u, a_in)
                adjoint[u] = adjoint.get(u, sympy.Integer(0)) + a * d
                continue
            d = sympy.diff(expr, u)
            if name_of[k] == "relu":  # relu'(0) = 0 (PyTorch); SymPy's Max gives a tie 1/2,
                d = d.replace(lambda e: isinstance(e, sympy.Heaviside),  # as maximum's VJP
                              lambda e: sympy.Heaviside(e.args[0], 0))
            if expr.func is not sympy.Symbol and not expr.is_Add and not expr.is_Mul:
                d = d.subs(expr, v)  # read the node's own output: σ' = v(1 - v), tanh' = 1 - v²
            if d != 0:
                adjoint[u] = adjoint.get(u, sympy.Integer(0)) + a * d
    leaves = ([("z", g) for g in graph.gates] + [("s", s) for s in graph.states]
              + [("p", p) for p in graph.params] + ([("x", "x")] if graph.reads_x else [])
              + [("k", k) for k in graph.context])
    exprs = [adjoint.get(leaf_symbol(kind, name), sympy.Integer(0)) for kind, name in leaves]
    at_hand = {leaf_symbol(kind, name) for kind, name in leaves if kind != "z"}
    exprs, temps, reduced, read = _recompute_cheap(forward, exprs, at_hand)
    raw = dict(zip(leaves, exprs, strict=True))
    adjoints = dict(zip(leaves, reduced, strict=True))
    node_syms = [v for v, _ in forward]
    saved = [v for v in node_syms if v in read]
    saved += [leaf_symbol("z", g) for g in graph.gates if leaf_symbol("z", g) in read]
    for fn in _functions(temps, reduced):
        if fn not in KNOWN_FUNCTIONS:
            raise NotCompilable(f"its backward needs {fn}, which the kernel printer lacks")
    return Derivation(graph, forward, outputs, temps, adjoints, saved, raw, computed)


#: a saved value whose rule has at most this many operations and no function (TorchGRU's
#: 1 - z) is recomputed by the backward from values it reads anyway rather than saved
RECOMPUTE_MAX_OPS = 2


def _recompute_cheap(forward: list[tuple[sympy.Symbol, sympy.Expr]], exprs: list[sympy.Expr],
                     at_hand: set[sympy.Symbol]) -> tuple[list[sympy.Expr], Any, Any,
                                                          set[sympy.Symbol]]:
    """``cse`` of the backward ``exprs``, after replacing each saved value that is a cheap
    rule (``RECOMPUTE_MAX_OPS``) of other values the backward reads anyway (saved values,
    previous states, parameters) by that rule: one fewer (T, B, H) array written by the forward
    and read by the backward, which at the medium size is memory-bound. Returns the new
    expressions, the temporaries, the reduced expressions and the symbols they read."""
    rules = dict(forward)
    while True:
        temps, reduced = sympy.cse(exprs, symbols=sympy.numbered_symbols("t", real=True),
                                   optimizations="basic")
        read: set[sympy.Symbol] = set()
        for e in [e for _, e in temps] + list(reduced):
            read |= e.free_symbols
        cheap = next((v for v, _ in reversed(forward) if v in read
                      and not rules[v].atoms(sympy.Function)
                      and sympy.count_ops(rules[v]) <= RECOMPUTE_MAX_OPS
                      and rules[v].free_symbols
                      and rules[v].free_symbols <= (read | at_hand) - {v}), None)
        if cheap is None:
            return exprs, temps, reduced, read
        exprs = [e.xreplace({cheap: rules[cheap]}) for e in exprs]


#: SymPy function names the emitters print
KNOWN_FUNCTIONS = frozenset({"tanh", "exp", "log", "sigmoid", "Heaviside", "max_grad", "Max",
                             "Abs", "sign"})


def _functions(temps: list[tuple[Any, Any]], reduced: list[Any]) -> set[str]:
    names: set[str] = set()
    for e in [e for _, e in temps] + list(reduced):
        names |= {type(f).__name__ for f in e.atoms(sympy.Function)}
    return names
