"""Addresses of the numpy code whose rounding the fast path must reproduce.

The numpy reference path rounds where numpy's BLAS (matrix products) and
numpy's SIMD inner loops (``tanh``, ``exp``, ``log``, ``power``) round; both
differ from a plain C loop in the last bit. The compiled kernel
(``app.nn.fast_kernels``) therefore calls that very code, through the
addresses found here:

- BLAS: ``cblas_dgemm``, ``cblas_dgemv``, ``cblas_ddot`` with 64-bit integers,
  looked up in the library numpy's ``_multiarray_umath`` links against
  (numpy's wheels ship ``scipy-openblas64``, names ``scipy_cblas_*64_``);
- ufunc loops: the float64 entry of each ufunc's loop table, read from the
  ``PyUFuncObject`` struct (``functions``, ``data``, ``types``: a stable part
  of numpy's C API).

Both are checked against numpy itself before use (``app.nn.fast`` runs a
self-test), so a numpy that lays things out differently only disables the
fast path, with the reason.
"""

from __future__ import annotations

import ctypes
import importlib

import numpy as np
from numpy.typing import NDArray

# (prefix, suffix) of CBLAS symbols with 64-bit integers, as numpy builds name them.
_ILP64_NAMES = (("scipy_", "64_"), ("", "64_"), ("", "_64"))
_DOUBLE = np.dtype(np.float64).num


def _blas() -> tuple[int, int, int]:
    multiarray = importlib.import_module("numpy._core._multiarray_umath")
    lib = ctypes.CDLL(multiarray.__file__)
    for prefix, suffix in _ILP64_NAMES:
        try:
            return tuple(  # type: ignore[return-value]
                ctypes.cast(getattr(lib, f"{prefix}cblas_{name}{suffix}"), ctypes.c_void_p).value
                for name in ("dgemm", "dgemv", "ddot"))
        except AttributeError:
            continue
    raise RuntimeError("numpy's BLAS has no 64-bit-integer cblas_dgemm/dgemv/ddot "
                       "(numpy built without scipy-openblas64?)")


def _ufunc_loop(ufunc: np.ufunc) -> tuple[int, int]:
    """(loop, data) addresses of the all-float64 loop of ``ufunc``."""
    # PyUFuncObject: PyObject_HEAD (16 bytes); int nin, nout, nargs, identity;
    # functions (32); data (40); int ntypes (48), reserved1; name (56); types (64).
    base = id(ufunc)
    nargs = ctypes.c_int.from_address(base + 24).value
    ntypes = ctypes.c_int.from_address(base + 48).value
    if nargs != ufunc.nargs or ntypes != ufunc.ntypes:
        raise RuntimeError(
            f"numpy's PyUFuncObject layout is not the expected one ({ufunc.__name__})")
    functions = ctypes.c_void_p.from_address(base + 32).value
    data = ctypes.c_void_p.from_address(base + 40).value
    types = ctypes.c_void_p.from_address(base + 64).value
    if not functions or not types:
        raise RuntimeError(f"numpy's {ufunc.__name__} has no loop table")
    table = ctypes.string_at(types, ntypes * nargs)
    for i in range(ntypes):
        if all(c == _DOUBLE for c in table[i * nargs:(i + 1) * nargs]):
            loop = ctypes.c_void_p.from_address(functions + 8 * i).value
            extra = ctypes.c_void_p.from_address(data + 8 * i).value if data else None
            if loop:
                return loop, extra or 0
    raise RuntimeError(f"numpy's {ufunc.__name__} has no float64 loop")


def entry_points() -> NDArray[np.int64]:
    """The ``fast_kernels.FP_*`` vector: gemm, gemv, dot, then (loop, data) of
    tanh, exp, log and power. Raises ``RuntimeError`` saying what is missing."""
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        raise RuntimeError("the fast path needs a 64-bit Python")
    addresses = list(_blas())
    for ufunc in (np.tanh, np.exp, np.log, np.power):
        addresses.extend(_ufunc_loop(ufunc))
    return np.array(addresses, dtype=np.int64)
