"""``import tapegrad.nn as nn``: the top-level ``nn`` package under tapegrad's name.

This module replaces itself by ``nn`` (and registers ``nn``'s submodules as
``tapegrad.nn.*``), so both spellings name the very same classes.
"""
import sys

import nn as _nn

for _name, _module in list(sys.modules.items()):
    if _name == "nn" or _name.startswith("nn."):
        sys.modules["tapegrad." + _name] = _module
