"""tapegrad.nn: layers, losses and recurrent networks built only from tapegrad operations."""
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
