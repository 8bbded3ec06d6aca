"""The one seam between tapegrad and its array library.

Every primitive calls array functions through ``xp``; nothing else in the
engine names NumPy's functions directly.  A GPU library with NumPy's API could
be plugged in here without touching the primitives.
"""
import numpy

xp = numpy
ndarray = numpy.ndarray
