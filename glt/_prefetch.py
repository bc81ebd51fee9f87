"""Software prefetch for glt's Numba kernels: loads that chase random
addresses (neighbour rows, sampled nodes) start a few iterations early, so
their cache misses overlap instead of queueing behind each other."""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

AHEAD = 32  # how many entries ahead the kernels prefetch


@intrinsic
def prefetch(typingctx, arr, idx):
    """Hint the CPU to start loading ``arr[idx]`` into cache (no effect on results)."""
    if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = builder.module.declare_intrinsic(  # named llvm.prefetch.p0 (or .p0i8: older LLVM)
            "llvm.prefetch", [i8p], ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]))
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])  # read, keep, data
        return context.get_dummy_value()
    return types.void(arr, idx), codegen


@njit(inline="always")
def prefetch_row(flat: np.ndarray, row: np.int64, width: np.int64) -> None:
    """Prefetch row ``row`` of a C-contiguous ``[M, width]`` array given as ``flat``
    (its ``reshape(-1)``): every cache line of it, the last one included (a row
    need not start on a line boundary)."""
    if width > 0:
        start = row * width
        step = max(1, 64 // flat.itemsize)
        for f in range(0, width, step):
            prefetch(flat, start + f)
        prefetch(flat, start + width - 1)
