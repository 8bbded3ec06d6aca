"""Recurrent networks: cells (one step) and layers (whole sequences)."""
from .cells import GRUCell, JordanCell, LSTMCell, RNNCell
from .layers import GRU, LSTM, RNN
