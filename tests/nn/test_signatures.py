"""Arguments bind as in PyTorch: a positional call written for PyTorch never lands on an
argument that tapegrad adds (``dtype``, ``generator``, ``forget_bias``, ``causal``) or
keeps at another position.  Such arguments are keyword-only."""
import inspect

import pytest

import tapegrad.nn as nn
import tapegrad.nn.functional as F

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

#: PyTorch's positional order where ``inspect`` cannot read it (``*args`` or a builtin).
TORCH_ORDER = {
    "RNN": "input_size hidden_size num_layers nonlinearity bias batch_first dropout "
           "bidirectional device dtype",
    "LSTM": "input_size hidden_size num_layers bias batch_first dropout bidirectional "
            "proj_size device dtype",
    "GRU": "input_size hidden_size num_layers bias batch_first dropout bidirectional "
           "device dtype",
    "F.linear": "input weight bias",
    "F.conv1d": "input weight bias stride padding dilation groups",
    "F.one_hot": "tensor num_classes",
}
CLASSES = ["Linear", "Embedding", "Dropout", "LayerNorm", "Conv1d", "LeakyReLU", "ELU",
           "Softplus", "Softmax", "LogSoftmax", "MSELoss", "CrossEntropyLoss", "NLLLoss",
           "BCEWithLogitsLoss", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
           "ModuleList"]
FUNCTIONS = ["linear", "dropout", "layer_norm", "conv1d", "one_hot", "mse_loss",
             "cross_entropy", "nll_loss", "binary_cross_entropy_with_logits"]
INITS = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_",
         "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
         "orthogonal_"]
OPTIMIZERS = ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop"]
MODULE_METHODS = ["parameters", "named_parameters", "named_modules", "modules", "children",
                  "train", "zero_grad", "load_state_dict", "apply", "requires_grad_",
                  "register_parameter", "add_module"]


def _positional(fn):
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind in POSITIONAL and p.name not in ("self", "cls")]


def _pairs(torch):
    tnn, tF = torch.nn, torch.nn.functional
    for name in CLASSES:
        yield name, getattr(nn, name).__init__, getattr(tnn, name).__init__
    for name in FUNCTIONS:
        yield "F." + name, getattr(F, name), getattr(tF, name)
    for name in INITS:
        yield "init." + name, getattr(nn.init, name), getattr(tnn.init, name)
    for name in OPTIMIZERS:
        yield "optim." + name, getattr(nn.optim, name).__init__, getattr(torch.optim,
                                                                           name).__init__
    for name in ("clip_grad_norm_", "clip_grad_value_"):
        yield "utils." + name, getattr(nn.utils, name), getattr(tnn.utils, name)
    for name in MODULE_METHODS:
        yield "Module." + name, getattr(nn.Module, name), getattr(tnn.Module, name)


def test_positional_arguments_are_pytorchs_in_pytorchs_order():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; nothing to compare")
    slips = []
    for name, ours, theirs in _pairs(torch):
        mine = _positional(ours)
        order = TORCH_ORDER.get(name)
        torch_names = order.split() if order else _positional(theirs)
        n = min(len(mine), len(torch_names))
        if mine[:n] != torch_names[:n]:
            slips.append(f"{name}: ours {mine}, PyTorch's {torch_names}")
    assert not slips, "\n".join(slips)


@pytest.mark.parametrize("call", [
    lambda: nn.Conv1d(3, 4, 2, 2),                            # PyTorch: stride=2
    lambda: nn.LSTM(3, 4, 1, True, False, 0.0, False, 0),     # PyTorch: proj_size=0
    lambda: nn.LSTMCell(3, 4, True, "cpu"),                   # PyTorch: device
    lambda: nn.Linear(3, 4, True, "cpu"),
    lambda: nn.Dropout(0.5, True),                            # PyTorch: inplace
    lambda: nn.MSELoss("sum"),                                # PyTorch: size_average
    lambda: nn.CrossEntropyLoss(None, None, 3),               # PyTorch: size_average, ...
    lambda: F.conv1d(nn.Parameter([[[1.0]]]), nn.Parameter([[[1.0]]]), None, 1, 0),
], ids=["Conv1d", "LSTM", "LSTMCell", "Linear", "Dropout", "MSELoss", "CrossEntropyLoss",
        "conv1d"])
def test_a_pytorch_positional_call_is_refused_not_misread(call):
    with pytest.raises(TypeError):
        call()
