"""Symbolic views of the code that runs: SymPy functions used by the primitives' rules.

The equation printer, Jacobians and diagrams are built on these (see the docs). Importing this
package does not import SymPy; ``tinygrad_lstm.symbolic.functions`` does.
"""
