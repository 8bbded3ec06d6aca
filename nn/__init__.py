"""tapegrad.nn: layers, losses and recurrent networks built only from tapegrad operations.

This folder sits at the top of the repository and is installed (and, in a
checkout, linked) as the subpackage ``tapegrad.nn``: ``import tapegrad.nn as nn``.
"""
if __name__ != "tapegrad.nn":
    raise ImportError(f"the layers are imported as `import tapegrad.nn as nn`, not as "
                      f"`import {__name__}` (a generic top-level name that could clash with "
                      f"other packages; it would also give a second copy of every class)")
from . import functional, init
from .layers import (ELU, Conv1d, Dropout, Embedding, LayerNorm, LeakyReLU, Linear, LogSoftmax,
                     ReLU, Sigmoid, Softmax, Softplus, Tanh)
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, ModuleList, Sequential, StateDictError
from .parameter import Parameter
from .recurrent import GRU, LSTM, RNN, GRUCell, JordanCell, LSTMCell, RNNCell
from . import optim
from .regularization import l1_penalty, l2_penalty
from .serialization import CheckpointError, load, save
from . import utils
from .reservoir import EchoStateNetwork

__all__ = ["Module", "Sequential", "ModuleList", "Parameter", "StateDictError", "Linear", "Embedding",
           "Conv1d", "Dropout", "LayerNorm", "ReLU", "LeakyReLU", "ELU", "Tanh", "Sigmoid", "Softplus",
           "Softmax", "LogSoftmax", "RNNCell", "JordanCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU",
           "EchoStateNetwork", "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss",
           "l1_penalty", "l2_penalty", "save", "load", "CheckpointError", "functional", "init", "optim",
           "utils"]
