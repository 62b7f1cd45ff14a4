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
  documented fields ``functions``, ``data`` and ``types`` of numpy's public
  C struct ``PyUFuncObject``, declared once below as a ``ctypes.Structure``
  (as a C extension compiled against numpy's headers reads them; no byte
  offsets, nothing of numpy's private layout).

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


class _UFuncObject(ctypes.Structure):
    """The head of numpy's public ``PyUFuncObject`` (``numpy/ufuncobject.h``,
    documented in numpy's C-API reference), up to the fields read here. C
    extensions read ``functions``, ``data`` and ``types`` the same way; the
    fields after ``types`` are never touched."""

    _fields_ = [
        ("ob_refcnt", ctypes.c_ssize_t),  # PyObject_HEAD
        ("ob_type", ctypes.c_void_p),
        ("nin", ctypes.c_int),
        ("nout", ctypes.c_int),
        ("nargs", ctypes.c_int),
        ("identity", ctypes.c_int),
        ("functions", ctypes.POINTER(ctypes.c_void_p)),  # one inner loop per type signature
        ("data", ctypes.POINTER(ctypes.c_void_p)),  # the extra argument of each loop
        ("ntypes", ctypes.c_int),
        ("reserved1", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("types", ctypes.POINTER(ctypes.c_char)),  # ntypes x nargs type numbers
    ]


def _ufunc_loop(ufunc: np.ufunc) -> tuple[int, int]:
    """(loop, data) addresses of the all-float64 loop of ``ufunc``."""
    # In CPython an object's id is its address, where the struct above begins.
    head = _UFuncObject.from_address(id(ufunc))
    if (head.nin, head.nout, head.nargs, head.ntypes, head.name) != (
            ufunc.nin, ufunc.nout, ufunc.nargs, ufunc.ntypes, ufunc.__name__.encode()):
        raise RuntimeError(f"numpy's {ufunc.__name__} is not laid out as numpy's C API declares")
    if not head.functions or not head.types:
        raise RuntimeError(f"numpy's {ufunc.__name__} has no loop table")
    nargs = head.nargs
    table = ctypes.string_at(head.types, head.ntypes * nargs)
    for i in range(head.ntypes):
        if all(c == _DOUBLE for c in table[i * nargs:(i + 1) * nargs]):
            loop = head.functions[i]
            extra = head.data[i] if head.data else None
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
