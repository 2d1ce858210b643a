"""Modules: Parameter, Module, the sequence runner and the PyTorch-shaped modules."""

from tinygrad_lstm.module import Module, Parameter
from tinygrad_lstm.nn import init
from tinygrad_lstm.nn.activation import (
    Dropout,
    Identity,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from tinygrad_lstm.nn.containers import ModuleList, Sequential
from tinygrad_lstm.nn.embedding import Embedding, embedding
from tinygrad_lstm.nn.linear import Linear
from tinygrad_lstm.nn.loss_modules import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    MSELoss,
    NLLLoss,
    nll_loss,
)
from tinygrad_lstm.nn.losses import binary_cross_entropy_with_logits, cross_entropy, mse_loss
from tinygrad_lstm.nn.recurrent import Recurrent, detach_state
from tinygrad_lstm.nn.rnn_cells import GRUCell, LSTMCell, RNNCell
from tinygrad_lstm.nn.sequences import pad_sequence
from tinygrad_lstm.nn.torch_like import GRU, LSTM, RNN

__all__ = [
    "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "Embedding", "GRU", "GRUCell",
    "Identity", "LSTM", "LSTMCell", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "Module",
    "ModuleList", "NLLLoss", "Parameter", "RNN", "RNNCell", "ReLU", "Recurrent", "Sequential",
    "Sigmoid", "Softmax", "Tanh", "binary_cross_entropy_with_logits", "cross_entropy",
    "detach_state", "embedding", "init", "mse_loss", "nll_loss", "pad_sequence",
]
