"""The seam between tapegrad and its array library: ``xp`` and the array type ``ndarray``.

Through ``xp`` go the array operations that do the engine's numeric work:
the forwards and vjps of the built-in primitives, backward's seeding,
accumulation and casting of cotangents, the norms ``contributions`` reports,
the saved-value placeholders, the anomaly checks, in-place assignment and
the non-random constructors (``zeros``, ``ones``, ``full``, ``arange``,
``linspace``, ``eye``, ``tensor``).  A GPU library with NumPy's API could be
plugged in here for those without touching the primitives.

These parts of the engine name NumPy directly instead, and would need work
of their own for another backend:

- dtypes: ``tapegrad.float32`` and the others are NumPy's types, and dtype and
  integer checks use ``numpy.dtype`` and ``numpy.integer``;
- random numbers: ``rand``, ``randn``, ``randint`` and ``manual_seed`` draw
  from a ``numpy.random.Generator``;
- ``Tensor.__repr__`` formats with ``numpy.array2string``, and
  ``Tensor.__array_ufunc__`` (which NumPy ufuncs run a tensor's operator and
  which are refused) is NumPy's protocol; ``from_numpy`` takes only
  ``numpy.ndarray``;
- ``ops/shape.py`` computes split offsets and inverse permutations with
  ``numpy.cumsum`` and ``numpy.argsort`` on static parameters (Python ints,
  not arrays);
- ``gradcheck`` and ``gradgradcheck`` compute finite differences in NumPy
  float64;
- the ``reference=`` functions and samplers of the built-in primitives, used
  only by ``tapegrad.testing``, are written in NumPy.
"""
import numpy

xp = numpy
ndarray = numpy.ndarray
