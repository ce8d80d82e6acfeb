// Mixed precision's switch and what the CPU can do. `precision: bf16` follows PyTorch's CPU autocast:
// convolution (and classifier) operands rounded to bfloat16, products summed in fp32 (vdpbf16ps: CBFloat16's
// dense kernel, CSparse's sparse ones); everything else — master weights, BatchNorm, the loss, thresholds, the optimizer,
// the all-reduce, checkpoints and the activations between layers — stays fp32, except where a sparse conv
// and the BatchNorm that alone reads its output exchange bf16 (BF16Handoff): the conv's output, as autocast
// keeps it, and the gradient handed back, which the conv would round anyway; and a norm's own output handed
// to the sparse conv after it, which would round it anyway too.

import CBFloat16

/// The arithmetic of convolution operands (`precision`).
public enum Precision: String, CaseIterable, Sendable, CustomStringConvertible {
    case fp32, bf16
    public var description: String { rawValue }
}

public enum BFloat16 {
    /// Whether the CPU has bf16 arithmetic (AVX512_BF16) the kernels use.
    public static var cpuHasArithmetic: Bool { bf16_cpu_has_avx512bf16() != 0 }
    /// Whether the CPU has Intel's AMX-BF16 tiles (reported; the kernels use AVX512_BF16 on them too).
    public static var cpuHasAMX: Bool { bf16_cpu_has_amx_bf16() != 0 }

    /// The body the bf16 kernels run: "avx512_bf16" or "portable".
    public static var isa: String { bf16_isa() == 1 ? "avx512_bf16" : "portable" }

    /// Picks the body (tests): 0 portable, 1 AVX512_BF16, capped at what the CPU has; nil: the best.
    @discardableResult
    public static func force(isa: Int?) -> Int { Int(bf16_force_isa(Int32(isa ?? -1))) }

    /// Why this machine cannot train in `precision`, or nil when it can.
    public static func unsupported(_ precision: Precision, cpuHasArithmetic: Bool = cpuHasArithmetic) -> String? {
        guard precision == .bf16, !cpuHasArithmetic else { return nil }
        return "precision bf16: this CPU lacks bf16 arithmetic (AVX512_BF16: AMD Zen 4 and later, Intel Cooper Lake "
            + "and later); use precision: fp32 here"
    }

    /// fp32 → bf16 → fp32: the value a bf16 operand carries (round to nearest even, denormals to zero).
    @inline(__always) public static func rounded(_ x: Float) -> Float { bf16_to_float(bf16_from_float(x)) }
}
