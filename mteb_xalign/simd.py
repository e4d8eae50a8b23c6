"""Sixteen float32 lanes as one value in numba kernels: explicit vector code where LLVM's loop
vectoriser falls short.

numba's LLVM vectorises a loop on its own, but on AVX-512 CPUs it prefers 256-bit vectors, and it
keeps no accumulator in a register across an outer loop: a small matrix product written as loops
ran at 9-70 GFLOP/s here, against 220 for sgemm. A value of type `f32x16` is an LLVM <16 x float>:
a kernel that holds its accumulators in such values keeps them in registers (zmm on AVX-512, two
ymm on AVX2, four q registers on NEON: LLVM splits the vectors to what the CPU has).

The operations are numba intrinsics, each a few LLVM instructions. Indices are element offsets
into a C-contiguous float32 array (its flat position), used as they are: no bounds check and no
wraparound of negative values, so the kernel's own loop bounds are what keeps them in range.
`vload_first` reads only the lanes it keeps, so a row's tail is read without reading past it.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

LANES = 16
_F32 = ir.FloatType()
_I32 = ir.IntType(32)
_VEC = ir.VectorType(_F32, LANES)
_IVEC = ir.VectorType(_I32, LANES)
_MASK = ir.VectorType(ir.IntType(1), LANES)


class F32x16(types.Type):
    def __init__(self):
        super().__init__(name="f32x16")


f32x16 = F32x16()


@register_model(F32x16)
class _F32x16Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VEC)


def _llvm(builder, name: str, result, *args):
    """Call the LLVM intrinsic `name` (its type from the result and the arguments)."""
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(result, [a.type for a in args]), name)
    return builder.call(fn, list(args))


def _constant(value: float):
    return ir.Constant(_VEC, [float(np.float32(value))] * LANES)


def _broadcast(builder, scalar, vector_type=_VEC):
    one = builder.insert_element(ir.Constant(vector_type, None), scalar, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, ir.Constant(vector_type, None), ir.Constant(_IVEC, [0] * LANES))


def _address(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.gep(data, [index])


def _first_lanes(builder, count):
    """The mask of lanes 0 .. count-1 (count an integer; <= 0: none, >= 16: all)."""
    if count.type.width > 32:
        count = builder.trunc(count, _I32)
    elif count.type.width < 32:
        count = builder.sext(count, _I32)
    return builder.icmp_signed("<", ir.Constant(_IVEC, list(range(LANES))), _broadcast(builder, count, _IVEC))


@intrinsic
def vzero(typingctx):
    def codegen(context, builder, sig, args):
        return _constant(0.0)
    return f32x16(), codegen


@intrinsic
def vsplat(typingctx, x):
    """x in every lane (x a float32)."""
    def codegen(context, builder, sig, args):
        return _broadcast(builder, args[0])
    return f32x16(types.float32), codegen


@intrinsic
def vsplat_load(typingctx, array, index):
    """array[index] in every lane (one broadcast load)."""
    def codegen(context, builder, sig, args):
        return _broadcast(builder, builder.load(_address(context, builder, sig.args[0], args[0], args[1]), align=4))
    return f32x16(array, index), codegen


@intrinsic
def vload(typingctx, array, index):
    """array[index : index + 16]."""
    def codegen(context, builder, sig, args):
        pointer = builder.bitcast(_address(context, builder, sig.args[0], args[0], args[1]), _VEC.as_pointer())
        return builder.load(pointer, align=4)
    return f32x16(array, index), codegen


@intrinsic
def vload_first(typingctx, array, index, count):
    """array[index : index + count] in the first `count` lanes, 0 in the others; nothing else is read."""
    def codegen(context, builder, sig, args):
        pointer = builder.bitcast(_address(context, builder, sig.args[0], args[0], args[1]), _VEC.as_pointer())
        return _llvm(builder, "llvm.masked.load.v16f32.p0v16f32", _VEC, pointer, ir.Constant(_I32, 4),
                     _first_lanes(builder, args[2]), _constant(0.0))
    return f32x16(array, index, count), codegen


@intrinsic
def vstore(typingctx, array, index, value):
    """array[index : index + 16] = value."""
    def codegen(context, builder, sig, args):
        pointer = builder.bitcast(_address(context, builder, sig.args[0], args[0], args[1]), _VEC.as_pointer())
        builder.store(args[2], pointer, align=4)
        return context.get_dummy_value()
    return types.none(array, index, value), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """a * b + c, rounded once."""
    def codegen(context, builder, sig, args):
        return _llvm(builder, "llvm.fma.v16f32", _VEC, *args)
    return f32x16(a, b, c), codegen


def _elementwise(operation: str):
    @intrinsic
    def op(typingctx, a, b):
        def codegen(context, builder, sig, args):
            return getattr(builder, operation)(*args)
        return f32x16(a, b), codegen
    return op


vadd = _elementwise("fadd")
vsub = _elementwise("fsub")
vmul = _elementwise("fmul")


@intrinsic
def vmax(typingctx, a, b):
    """Lane-wise maximum (of a NaN and a number: the number)."""
    def codegen(context, builder, sig, args):
        return _llvm(builder, "llvm.maxnum.v16f32", _VEC, *args)
    return f32x16(a, b), codegen


@intrinsic
def vkeep_first(typingctx, value, count, fill):
    """The first `count` lanes of value, `fill` (a float32) in the others."""
    def codegen(context, builder, sig, args):
        return builder.select(_first_lanes(builder, args[1]), args[0], _broadcast(builder, args[2]))
    return f32x16(value, count, types.float32), codegen


@intrinsic
def hmax(typingctx, value):
    """The largest lane."""
    def codegen(context, builder, sig, args):
        return _llvm(builder, "llvm.vector.reduce.fmax.v16f32", _F32, args[0])
    return types.float32(value), codegen


@intrinsic
def hsum(typingctx, value):
    """The sum of the lanes (in the order the CPU adds them fastest: a tree, not left to right)."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_F32, [_F32, _VEC]),
                                            "llvm.vector.reduce.fadd.v16f32")
        return builder.call(fn, [ir.Constant(_F32, 0.0), args[0]], fastmath=("reassoc",))
    return types.float32(value), codegen


#: 2**r on |r| <= 1/2: the Taylor polynomial of exp(r ln 2) to degree 6, highest power first. Its
#: error is about the next term, (ln 2)**7 / 7! / 2**7: at most 1.7e-7 relative (at r = -1/2), about
#: two units of float32's last place.
EXP2_TAYLOR = tuple((np.log(2.0) ** k) / float(np.prod(np.arange(1, k + 1))) for k in range(6, -1, -1))


@intrinsic
def vexp2_nonpositive(typingctx, x):
    """2**x for x <= 0 (a softmax's shifted scores): x = n + r with n whole and |r| <= 1/2; 2**r by
    EXP2_TAYLOR, 2**n written into the exponent bits. Below -127 (and -inf) it gives 0 exactly, where
    the exponent bits are 0. A NaN lane gives an undefined value: callers check their inputs."""
    def codegen(context, builder, sig, args):
        x = _llvm(builder, "llvm.maxnum.v16f32", _VEC, args[0], _constant(-127.0))
        n = _llvm(builder, "llvm.rint.v16f32", _VEC, x)
        r = builder.fsub(x, n)
        p = _constant(EXP2_TAYLOR[0])
        for coefficient in EXP2_TAYLOR[1:]:
            p = _llvm(builder, "llvm.fma.v16f32", _VEC, p, r, _constant(coefficient))
        exponent = builder.add(builder.fptosi(n, _IVEC), ir.Constant(_IVEC, [127] * LANES))
        two_to_n = builder.bitcast(builder.shl(exponent, ir.Constant(_IVEC, [23] * LANES)), _VEC)
        return builder.fmul(p, two_to_n)
    return f32x16(x), codegen
