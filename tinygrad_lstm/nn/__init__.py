"""Modules: Parameter, Module, the sequence runner and the PyTorch-shaped shortcuts."""

from tinygrad_lstm.module import Module, Parameter
from tinygrad_lstm.nn.embedding import Embedding, embedding
from tinygrad_lstm.nn.linear import Linear
from tinygrad_lstm.nn.losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss
from tinygrad_lstm.nn.recurrent import Recurrent, detach_state
from tinygrad_lstm.nn.torch_like import GRU, LSTM, RNN

__all__ = [
    "GRU", "Embedding", "LSTM", "Linear", "Module", "Parameter", "RNN", "Recurrent",
    "binary_cross_entropy_with_logits", "cross_entropy", "detach_state", "embedding", "mse_loss",
]
