"""Emit the time loop of a compiled layer as Numba code: ``run_forward`` and ``run_backward``.

They do what ``layer``'s Python loop does, in one compiled call per layer and direction: per
step forward, one GEMM per value the gates read (``blas.gemm``: NumPy's own BLAS, called by
address) and the fused kernels; per step backward, the fused kernels and one GEMM per such value.
At the small size (T50 B16 H64) the Python loop cost about as much as the arithmetic: two kernel
dispatches of about ten arrays each (Numba checks each argument's type on every call) and the
``dot`` calls' own overhead, every step.

The loop is written out per cell (which products, in which phase) so that Numba sees fixed
arguments and calls the kernels directly; the kernels are the module's own ``forward``,
``forward_<p>``, ``backward`` and ``backward_<p>``.
"""

from __future__ import annotations

from tinygrad_lstm.compile.trace import Graph


def layout(g: Graph) -> list[tuple[str, int, int, int, int, int]]:
    """Per product: kind, index of its state or computed value, first and end gate, the phase
    after which it is made (-1: before the first, for a state) and its first reader's level."""
    names = [n for n, _, _ in g.computed]
    out = []
    for kind, name, lo, hi, readers in g.products():
        index = g.states.index(name) if kind == "s" else names.index(name)
        level = -1 if kind == "s" else g.u_levels[name]
        out.append((kind, index, lo, hi, level, min(g.levels[r] for r in readers)))
    return out


def _gemm_forward(i: int, a: str) -> str:
    # pr_i (B, n H) = a (B, H) @ WT_i (H, n H)
    return (f"_gemm(addr, False, B, WT{i}.shape[1], H, {a}, H, WT{i}, WT{i}.shape[1], pr{i}, "
            f"WT{i}.shape[1], _F(0.0))")


def _gemm_backward(i: int, lo: int, hi: int, out: str) -> str:
    # out (B, H) = dZ_t[:, lo H:hi H] (B, (hi - lo) H) @ W_i ((hi - lo) H, H)
    return (f"_gemm(addr, False, B, H, {hi - lo} * H, dz[t, :, {lo} * H:], GH, W{i}, H, {out}, "
            "H, _F(0.0))")


def source(g: Graph) -> list[str]:
    """Lines of ``run_forward`` and ``run_backward`` for ``g`` (appended to the kernel module,
    which defines ``_F``, ``_JIT`` and the kernels)."""
    prods = layout(g)
    pr = [f"pr{i}" for i in range(len(prods))]
    ws = [f"W{i}" for i in range(len(prods))]
    wts = [f"WT{i}" for i in range(len(prods))]
    x_fwd = (["a_x[t]"] if g.reads_x else []) + (["a_k[t]"] if g.context else [])
    x_arg = ("a_x, " if g.reads_x else "") + ("a_k, " if g.context else "")
    lines = ["", "", "from tinygrad_lstm.compile.blas import gemm as _gemm  # noqa: E402", "", "",
             *_HELPERS,
             "@numba.njit(**_JIT)",
             f"def run_forward(addr, proj, bz, {', '.join(pr + wts)}, valid, "
             f"{x_arg}hist, prm, us, sv, y, hm, Sm, masked, reverse):",
             "    # WT_i: the transpose of the product's stacked weights (H, n H), C-contiguous",
             "    # (BLAS runs A B faster than A B^T for a few rows of A); masked: recurrent",
             "    # dropout, every step reads h_{t-1} * hm (B, H), made in Sm; a_k: the context",
             "    # inputs (T, n, B, H), the layer below's states",
             "    T = proj.shape[0]", "    B = hist.shape[2]", "    H = hist.shape[3]",
             "    r = 1 if reverse else 0",
             "    for n in range(T):",
             "        t = T - 1 - n if reverse else n",
             "        S = hist[t + r]",
             "        if masked:",
             "            _mask_state(S, hm, valid[t], Sm)",
             "            S = Sm"]
    for i, (kind, k, _, _, _, _) in enumerate(prods):
        if kind == "s":
            lines.append("        " + _gemm_forward(i, f"S[{k}]"))
    args = f"proj[t], bz, {', '.join(pr)}, valid[t], {''.join(a + ', ' for a in x_fwd)}S, prm"
    for p in range(g.phases):
        lines.append(f"        forward_{p}({args}, us[t])")
        for i, (kind, k, _, _, level, _) in enumerate(prods):
            if kind == "u" and level == p:
                lines.append("        " + _gemm_forward(i, f"us[t, {k}]"))
    lines.append(f"        forward({args}, hist[t + 1 - r], sv[t], y[t])")
    x_bwd = (", a_x[t], a_dx[t]" if g.reads_x else "") + (", a_k[t], a_dk[t]" if g.context
                                                          else "")
    x_arg = ("a_x, a_dx, " if g.reads_x else "") + ("a_k, a_dk, " if g.context else "")
    lines += ["", "", "@numba.njit(**_JIT)",
              f"def run_backward(addr, valid, gy, DSP, DSG, GU, hist, prm, sv, dz, DP, DB, "
              f"{', '.join(ws)}, {x_arg}{'GS, has_gs, ' if g.context else ''}hm, Sm, masked, "
              "reverse):",
              "    # W_i: the product's stacked weights (n H, H), C-contiguous",
              *(["    # GS (T, n, B, H): the gradients of the states after each step from outside",
                 "    # (the layer above reads them as its context), added to their adjoints"]
                if g.context else []),
              "    T = sv.shape[0]", "    B = hist.shape[2]", "    H = hist.shape[3]",
              "    GH = dz.shape[2]", "    r = 1 if reverse else 0",
              "    row = np.empty(GH, dz.dtype)",
              "    for n in range(T - 1, -1, -1):",
              "        t = T - 1 - n if reverse else n",
              *(["        if has_gs:", "            _add_into(DSP, GS[t])"] if g.context else []),
              "        S = hist[t + r]",
              "        if masked:",
              "            _mask_state(S, hm, valid[t], Sm)",
              "            S = Sm"]
    for p in range(g.phases, -1, -1):
        name = "backward" if p == 0 else f"backward_{p}"
        lines.append(f"        {name}(valid[t], gy[t], DSP, DSG, GU, S, prm, sv[t], dz[t], "
                     f"DP{x_bwd})")
        for i, (kind, k, lo, hi, _, first) in enumerate(prods):
            if kind == "u" and first == p and p > 0:
                lines.append("        " + _gemm_backward(i, lo, hi, f"GU[{k}]"))
    for i, (kind, k, lo, hi, _, _) in enumerate(prods):
        if kind == "s":
            lines.append("        " + _gemm_backward(i, lo, hi, f"DSG[{k}]"))
    lines += ["        if masked:", "            _mask_adjoint(DSP, DSG, hm, valid[t])",
              "        _column_sum(dz[t], DB, row)  # the bias gradient, while dZ_t is in cache"]
    return lines


#: recurrent dropout (``tl.nn.Recurrent(recurrent_dropout=p)``): the step reads h_{t-1} * m for
#: a mask m (B, H) fixed over the sequence, as the tape path's ``state[0] * h_mask``. A padded
#: step (``valid`` false) carries the unmasked state on, so its rows are left as they are; the
#: adjoints the step hands back are with respect to h_{t-1} * m, so times m for h_{t-1}.
_HELPERS = [
    "@numba.njit(**_JIT)",
    "def _add_into(out, a):",
    "    # out += a, both (n, B, H) (explicit loops: an array expression costs seconds to compile)",
    "    for k in range(out.shape[0]):",
    "        for b in range(out.shape[1]):",
    "            for j in range(out.shape[2]):",
    "                out[k, b, j] += a[k, b, j]",
    "", "",
    "@numba.njit(**_JIT)",
    "def _column_sum(d, out, row):",
    "    # out += the sum of d's rows, summed in row first: the error grows with B + T, not B T",
    "    for j in range(d.shape[1]):",
    "        row[j] = d[0, j]",
    "    for b in range(1, d.shape[0]):",
    "        for j in range(d.shape[1]):",
    "            row[j] += d[b, j]",
    "    for j in range(d.shape[1]):",
    "        out[j] += row[j]",
    "", "",
    "@numba.njit(**_JIT)",
    "def _mask_state(S, hm, valid, Sm):",
    "    for k in range(S.shape[0]):",
    "        for b in range(S.shape[1]):",
    "            keep = k == 0 and valid[b]",
    "            for j in range(S.shape[2]):",
    "                Sm[k, b, j] = S[k, b, j] * hm[b, j] if keep else S[k, b, j]",
    "", "",
    "@numba.njit(**_JIT)",
    "def _mask_adjoint(DSP, DSG, hm, valid):",
    "    for b in range(DSP.shape[1]):",
    "        if valid[b]:",
    "            for j in range(DSP.shape[2]):",
    "                DSP[0, b, j] *= hm[b, j]",
    "                DSG[0, b, j] *= hm[b, j]",
    "", ""]
