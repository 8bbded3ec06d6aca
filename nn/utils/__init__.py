"""Training utilities: gradient clipping, truncated BPTT and gradient checkpointing."""
from .clip import NonFiniteNormError, clip_grad_norm_, clip_grad_value_
from .checkpoint import checkpoint, checkpoint_sequence
from .tbptt import TBPTTResult, TBPTTUpdate, TruncatedBPTT, Window, detach_state, tbptt_windows

__all__ = ["clip_grad_norm_", "clip_grad_value_", "NonFiniteNormError", "TruncatedBPTT",
           "TBPTTResult", "TBPTTUpdate", "Window", "tbptt_windows", "detach_state", "checkpoint",
           "checkpoint_sequence"]
