"""The BLAS library and kernel NumPy runs on, for the first line of each benchmark's output.

Machines that set ``OPENBLAS_CORETYPE`` make OpenBLAS use an older kernel;
benchmark with it unset (``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE``) and
check here which kernel is in use.  Needs ``threadpoolctl`` (the ``bench`` extra).
"""
import os

import numpy  # noqa: F401  (loads the BLAS library threadpoolctl reports)

try:
    from threadpoolctl import threadpool_info
except ImportError:          # optional: the benchmarks run without it
    threadpool_info = None


def describe():
    """``"BLAS: openblas 0.3.31 kernel Haswell, 1 thread(s)"``, or why it is unknown."""
    if threadpool_info is None:
        return "BLAS kernel unknown (pip install threadpoolctl)"
    libs = [f"{i['internal_api']} {i.get('version')} kernel {i.get('architecture')}, "
            f"{i['num_threads']} thread(s)" for i in threadpool_info() if i["user_api"] == "blas"]
    overrides = [k for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    note = f"; set: {', '.join(overrides)}" if overrides else ""
    return "BLAS: " + ("; ".join(libs) or "none found") + note
