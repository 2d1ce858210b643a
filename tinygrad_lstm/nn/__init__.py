"""Modules: Parameter, Module, the sequence runner and the PyTorch-shaped shortcuts."""

from tinygrad_lstm.module import Module, Parameter
from tinygrad_lstm.nn.recurrent import Recurrent, detach_state
from tinygrad_lstm.nn.torch_like import GRU, LSTM, RNN

__all__ = ["GRU", "LSTM", "RNN", "Module", "Parameter", "Recurrent", "detach_state"]
