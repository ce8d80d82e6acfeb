// swift-tools-version: 6.0
// strdist: data-parallel training of sparse CNNs (STR, DNW, GMP) over MPI.
import PackageDescription

// Release builds target Haswell-level x86-64 (AVX2 + FMA: every x86 server of the last decade);
// without it SIMD multiply-adds become calls to libm's fmaf.
// Only the numeric kernels drop Swift's run-time checks (-Ounchecked: ~4% of a ResNet50 step,
// measured); everything that parses or does I/O keeps them (-O), so a failed precondition there
// stops the program instead of being undefined behaviour.
let fast: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-wmo", "-cross-module-optimization", "-target-cpu", "haswell"], .when(configuration: .release)),
]
let checked: [SwiftSetting] = [
    .unsafeFlags(["-O", "-wmo", "-target-cpu", "haswell"], .when(configuration: .release)),
]

let package = Package(
    name: "strdist",
    products: [
        .executable(name: "strdist", targets: ["strdist"]),
        .library(name: "STRDist", targets: ["STRDist"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
    ],
    targets: [
        // System libraries, found through pkg-config; each header is a tiny shim.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLibJPEG", pkgConfig: "libjpeg",
                       providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // libjpeg reports errors by longjmp: this C target catches them.
        .target(name: "CJPEG", dependencies: ["CLibJPEG"]),
        // Signal handlers that only record a stop request (preemption).
        .target(name: "CSystem"),
        // Sparse × dense kernels (AVX-512 and AVX2 bodies, chosen at run time; bf16 products on CBFloat16's
        // dispatch) and their operand's build.
        .target(name: "CSparse", dependencies: ["CBFloat16"], exclude: ["sparse_body.inc"], cSettings: [.unsafeFlags(["-O3"])]),
        // bfloat16 rounding, operand packing and the bf16 product (portable and AVX512_BF16 bodies, chosen
        // at run time) for mixed precision.
        .target(name: "CBFloat16", cSettings: [.unsafeFlags(["-O3"])]),
        // Inline vector operations Swift's SIMD types lack: stores past the caches (non-temporal), lane masks as bits.
        .target(name: "CVector"),
        // Numeric kernels (GEMM, im2col, Winograd, BatchNorm, pooling, depthwise; STR's soft threshold and
        // the magnitude mask) and the thread pool they run on: pointer loops over planned memory, built
        // without run-time checks.
        .target(name: "STRDistKernels", dependencies: ["CBLAS", "CSparse", "CBFloat16", "CVector"], swiftSettings: fast + [.swiftLanguageMode(.v5)]),
        .target(
            name: "STRDist",
            dependencies: ["STRDistKernels", "CMPI", "CBLAS", "CJPEG", "CSparse", "CSystem", "CZlib", .product(name: "Yams", package: "Yams")],
            swiftSettings: checked + [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "strdist",
            dependencies: [
                "STRDist",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Fuzz targets for the readers of outside files (scripts/fuzz.sh builds them with libFuzzer).
        .target(name: "CFuzzMain"),
        .executableTarget(name: "strdist-fuzz", dependencies: ["STRDist", "CFuzzMain"], swiftSettings: [.swiftLanguageMode(.v5)]),
        // Counts heap allocations by interposing malloc; proves a step allocates nothing.
        .target(name: "CAllocCounter", path: "Tests/CAllocCounter"),
        // What the test targets share: the naive reference kernels and the assertions.
        .target(name: "STRDistTestSupport", dependencies: ["STRDistKernels"], path: "Tests/STRDistTestSupport",
                swiftSettings: [.swiftLanguageMode(.v5)]),
        // The kernels alone, against the naive references, on every ISA the CPU has.
        .testTarget(
            name: "STRDistKernelsTests",
            dependencies: ["STRDistKernels", "CSparse", "CBFloat16", "CAllocCounter", "STRDistTestSupport"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "STRDistTests",
            dependencies: ["STRDist", "STRDistKernels", "CAllocCounter", "STRDistTestSupport"],
            exclude: ["Fixtures"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
    ]
)
