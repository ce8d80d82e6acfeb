// The products over padded planes stored straight into the cropped output (sp_spmm_cropped,
// sp_spmm_bf16_cropped) and those of 1×1 stride-2 convs with their operand gathered from the input
// (sp_spmm_subsampled, sp_spmm_bf16_subsampled, sp_subsampled_backward), each against the path it
// replaces — the product into padded rows cropped afterwards, or over the gathered columns — bit for bit,
// on every instruction set and bf16 body.
import XCTest
import CSparse
import CBFloat16
@testable import STRDistKernels
import STRDistTestSupport

extension SparseKernelTests {
    /// a and b hold the same bits; else the first element that differs, in the message.
    func assertSameBits(_ a: [Float], _ b: [Float], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let mismatch = a.indices.first { a[$0].bitPattern != b[$0].bitPattern }
        XCTAssertNil(mismatch, label + (mismatch.map { ": element \($0), \(a[$0]) vs \(b[$0])" } ?? ""), file: file, line: line)
    }

    /// Planes of `images` images, hp × wp positions each, cropped to oh × ow (sp_crop's geometry), with the
    /// places output elements have among them.
    struct CropPlanes {
        let images, hp, wp, oh, ow: Int
        var planes: Int { images * hp * wp }
        var out: Int { images * oh * ow }
        var crop: sp_crop { sp_crop(hp: Int64(hp), wp: Int64(wp), oh: Int64(oh), ow: Int64(ow)) }
        /// The output element of padded position q, nil for junk.
        func place(_ q: Int) -> Int? {
            let image = q / (hp * wp), r = q % (hp * wp), h = r / wp, x = r % wp
            return h < oh && x < ow ? (image * oh + h) * ow + x : nil
        }
        /// `rows` rows of output elements spread to their padded places (zeros at junk).
        func spread(_ a: [Float], rows: Int) -> [Float] {
            var p = [Float](repeating: 0, count: rows * planes)
            for i in 0..<rows { for q in 0..<planes { if let at = place(q) { p[i * planes + q] = a[i * out + at] } } }
            return p
        }
    }

    /// Shared-zero 3×3 planes (a junk column and row), a wide 5×5 one, 7×7 in 8×8 (phase-plane-like).
    static let cropPlanes = [CropPlanes(images: 2, hp: 15, wp: 15, oh: 14, ow: 14), CropPlanes(images: 3, hp: 9, wp: 21, oh: 5, ow: 17),
                             CropPlanes(images: 4, hp: 8, wp: 8, oh: 7, ow: 7)]

    /// A 1×1 stride-2 conv's input, n × h × wd per channel (odd sizes, output rows shorter and longer than a tile).
    static let subsampledInputs = [(2, 8, 10), (3, 7, 9), (2, 28, 30), (1, 4, 160)]

    /// The subsampled columns of `cols` channels of x (each `chan` floats apart): column (n·oh + i)·ow + j of
    /// channel k is x[k·chan + (n·h + 2i)·wd + 2j].
    func gathered(_ x: [Float], cols: Int, chan: Int, n: Int, h: Int, wd: Int) -> [Float] {
        let oh = (h + 1) / 2, ow = (wd + 1) / 2, columns = n * oh * ow
        var g = [Float](repeating: 0, count: cols * columns)
        for k in 0..<cols { for q in 0..<columns {
            let image = q / (oh * ow), i = q % (oh * ow) / ow, j = q % ow
            g[k * columns + q] = x[k * chan + (image * h + 2 * i) * wd + 2 * j]
        } }
        return g
    }

    /// The product over padded positions stored straight into the cropped output (sp_spmm_cropped) gives the bits of
    /// the product into padded rows cropped afterwards — with the epilogue, accumulating, over several column blocks,
    /// on ranges that start mid-row and end in a partial tile, on planes with junk columns and rows — on every ISA.
    func testCroppedSpMMEqualsTheProductThenTheCropOnEveryISA() {
        for isa in isas {
            XCTAssertEqual(sp_force_isa(isa), isa)
            // And planes without junk.
            for p in Self.cropPlanes + [CropPlanes(images: 2, hp: 6, wp: 20, oh: 6, ow: 20)] {
                let planes = p.planes, out = p.out, wp = p.wp
                for (rows, cols, blockCols, density) in [(5, 30, 128, 0.3), (9, 300, 64, 0.1), (3, 7, 128, -1.0)] {
                    let w = weight(rows, cols, density: density, seed: UInt64(31 + rows))
                    let b = build(w, rows: rows, cols: cols, blockCols: blockCols)
                    let bmat = randomArray(cols + planes + 64, seed: 32)   // entry k reads bmat[k + q]: flat offsets
                    let bias = randomArray(rows, seed: 33), residual = randomArray(rows * out, seed: 34)
                    let start = randomArray(rows * out, seed: 35)
                    let paddedStart = p.spread(start, rows: rows), paddedResidual = p.spread(residual, rows: rows)
                    var crop = p.crop
                    for (q0, q1) in [(0, planes), (wp + 3, planes - 5), (planes / 2 + 1, planes)] {
                        for (flags, epilogue) in [(0, false), (SP_RELU, true), (SP_ACCUMULATE, false), (SP_ACCUMULATE | SP_RELU, true)] {
                            let label = "isa \(isa) \(p), \(rows)×\(cols) in blocks of \(blockCols), q \(q0)..<\(q1), flags \(flags)"
                            var padded = paddedStart, expected = start, c = start
                            withMatrix(b) { m in
                                sp_spmm(m, bmat, 1, 0, nil, Int64(q0), Int64(q1), &padded, Int64(planes), flags,
                                        epilogue ? bias : nil, epilogue ? paddedResidual : nil)
                                sp_spmm_cropped(m, bmat, Int64(q0), Int64(q1), &crop, &c, Int64(out), flags,
                                                epilogue ? bias : nil, epilogue ? residual : nil)
                            }
                            for i in 0..<rows { for q in q0..<q1 { if let at = p.place(q) { expected[i * out + at] = padded[i * planes + q] } } }
                            assertSameBits(c, expected, label)
                            XCTAssertNotEqual(c, start, "the product wrote nothing: " + label)
                        }
                    }
                }
            }
        }
    }

    /// A 1×1 stride-2 conv's product with its operand gathered from the input tile by tile (sp_spmm_subsampled) gives
    /// the bits of sp_spmm over the subsampled columns — odd input sizes, output rows shorter and longer than a tile,
    /// the epilogue, accumulation, several blocks and mid-row ranges — on every ISA.
    func testSubsampledSpMMEqualsTheProductOverGatheredColumnsOnEveryISA() {
        for isa in isas {
            XCTAssertEqual(sp_force_isa(isa), isa)
            for (n, h, wd) in Self.subsampledInputs {
                let oh = (h + 1) / 2, ow = (wd + 1) / 2, columns = n * oh * ow, chan = n * h * wd + 3
                for (rows, cols, blockCols, density) in [(5, 12, 128, 0.3), (7, 300, 64, 0.1), (3, 2, 128, -1.0)] {
                    let w = weight(rows, cols, density: density, seed: UInt64(51 + rows))
                    let b = build(w, rows: rows, cols: cols, blockCols: blockCols)
                    let x = randomArray(cols * chan, seed: 52)
                    let gathered = gathered(x, cols: cols, chan: chan, n: n, h: h, wd: wd)
                    let bias = randomArray(rows, seed: 53), residual = randomArray(rows * columns, seed: 54)
                    let start = randomArray(rows * columns, seed: 55)
                    var sub = sp_subsample(h: Int64(h), wd: Int64(wd), oh: Int64(oh), ow: Int64(ow))
                    var pack = [Float](repeating: .nan, count: 64 * cols)
                    for (q0, q1) in [(0, columns), (ow + 1, columns - 3), (columns / 2, columns)] {
                        for (flags, epilogue) in [(0, false), (SP_RELU, true), (SP_ACCUMULATE, false), (SP_ACCUMULATE | SP_RELU, true)] {
                            let label = "isa \(isa) \(n)×\(h)×\(wd) → \(oh)×\(ow), \(rows)×\(cols) in blocks of \(blockCols), "
                                + "q \(q0)..<\(q1), flags \(flags)"
                            var expected = start, c = start
                            withMatrix(b) { m in
                                pack.withUnsafeMutableBufferPointer { p in
                                    sp_spmm(m, gathered, Int64(columns), Int32(cols), p.baseAddress, Int64(q0), Int64(q1), &expected,
                                            Int64(columns), flags, epilogue ? bias : nil, epilogue ? residual : nil)
                                    sp_spmm_subsampled(m, x, Int64(chan), Int32(cols), &sub, p.baseAddress, Int64(q0), Int64(q1), &c,
                                                       Int64(columns), flags, epilogue ? bias : nil, epilogue ? residual : nil)
                                }
                            }
                            assertSameBits(c, expected, label)
                            XCTAssertNotEqual(c, start, "the product wrote nothing: " + label)
                        }
                    }
                }
            }
        }
    }

    /// A 1×1 stride-2 conv's backward with its operand gathered from the input (sp_subsampled_backward) gives the bits
    /// of sp_pointwise_backward over the gathered columns, its ∂X then added into dx where the columns read x (the odd
    /// positions untouched) — the weight gradient's sums, ∂X, each alone, mid-row ranges, several blocks — on every ISA.
    func testSubsampledBackwardEqualsThePointwiseBackwardOverGatheredColumnsOnEveryISA() {
        for isa in isas {
            XCTAssertEqual(sp_force_isa(isa), isa)
            for (n, h, wd) in Self.subsampledInputs {
                let oh = (h + 1) / 2, ow = (wd + 1) / 2, columns = n * oh * ow, chan = n * h * wd
                for (rows, cols, blockCols, density) in [(5, 12, 128, 0.3), (7, 300, 64, 0.1), (3, 2, 128, -1.0)] {
                    let w = weight(rows, cols, density: density, seed: UInt64(81 + rows))
                    let b = build(w, rows: rows, cols: cols, blockCols: blockCols)
                    let t = transposed(b, rows: rows, cols: cols, blockCols: blockCols), nnz = Int(b.start.last!)
                    let x = randomArray(cols * chan, seed: 82), d = randomArray(rows * columns, seed: 83)
                    let gathered = gathered(x, cols: cols, chan: chan, n: n, h: h, wd: wd)
                    let start = randomArray(cols * chan, seed: 84), sums = randomArray(max(1, nnz), seed: 85)
                    var sub = sp_subsample(h: Int64(h), wd: Int64(wd), oh: Int64(oh), ow: Int64(ow))
                    var pack = [Float](repeating: .nan, count: 64 * (rows + 2 * cols))
                    for (q0, q1) in [(0, columns), (ow + 1, columns - 3), (columns / 2, columns)] {
                        for (wantsDX, wantsDW) in [(true, true), (true, false), (false, true)] {
                            let label = "isa \(isa) \(n)×\(h)×\(wd), \(rows)×\(cols) in blocks of \(blockCols), q \(q0)..<\(q1), "
                                + "∂X \(wantsDX) ∂W \(wantsDW)"
                            var expected = start, expectedSums = sums, dx = start, out = sums
                            var dcol = [Float](repeating: 0, count: cols * columns)
                            withMatrix(b) { m in
                                withMatrix(t) { mt in
                                    pack.withUnsafeMutableBufferPointer { p in
                                        // The old way: the columns' product (∂X's columns into zeros), then added into dx.
                                        sp_pointwise_backward(m, wantsDX ? mt : nil, d, Int64(columns), Int32(rows), gathered,
                                                              Int64(columns), Int32(cols), p.baseAddress, Int64(q0), Int64(q1),
                                                              &dcol, Int64(columns), 0, &expectedSums)
                                        let tile = p.baseAddress! + 64 * (rows + cols)
                                        out.withUnsafeMutableBufferPointer { o in
                                            sp_subsampled_backward(m, wantsDX ? mt : nil, d, Int64(columns), Int32(rows), x,
                                                                   Int64(chan), Int32(cols), &sub, p.baseAddress, tile, Int64(q0),
                                                                   Int64(q1), &dx, wantsDW ? o.baseAddress : nil)
                                        }
                                    }
                                }
                            }
                            if !wantsDW { expectedSums = sums }
                            if wantsDX {
                                for k in 0..<cols { for q in q0..<q1 {
                                    let image = q / (oh * ow), i = q % (oh * ow) / ow, j = q % ow
                                    expected[k * chan + (image * h + 2 * i) * wd + 2 * j] += dcol[k * columns + q]
                                } }
                            }
                            assertSameBits(dx, expected, "∂X, " + label)
                            XCTAssertEqual(out.map(\.bitPattern), expectedSums.map(\.bitPattern), "∂W's sums, " + label)
                            if wantsDX && density != 0 { XCTAssertNotEqual(dx, start, "∂X unchanged: " + label) }
                        }
                    }
                }
            }
        }
    }

    /// The bf16 product over padded positions stored straight into the cropped output (sp_spmm_bf16_cropped) gives the
    /// bits of sp_spmm_bf16_planes into padded rows cropped afterwards — and, with a bf16 output, those rounded — with the
    /// epilogue, accumulating, over several blocks, on ranges that start mid-row and end in a partial tile, on planes
    /// with junk columns and rows, on each bf16 body.
    func testBF16CroppedSpMMEqualsTheProductThenTheCrop() {
        for body in bf16Bodies {
            XCTAssertEqual(BFloat16.force(isa: body), body)
            defer { _ = BFloat16.force(isa: nil) }
            for p in Self.cropPlanes {
                let planes = p.planes, out = p.out, wp = p.wp
                for (rows, cols, blockCols, density) in [(5, 30, 128, 0.3), (9, 300, 64, 0.1), (3, 7, 128, -1.0)] {
                    let w = weight(rows, cols, density: density, seed: UInt64(71 + rows))
                    let b = build(w, rows: rows, cols: cols, blockCols: blockCols)
                    let bh = randomArray(cols + planes + 64, seed: 72).map { bf16_from_float($0) }   // flat offsets
                    let bias = randomArray(rows, seed: 73), residual = randomArray(rows * out, seed: 74)
                    let start = randomArray(rows * out, seed: 75)
                    let paddedStart = p.spread(start, rows: rows), paddedResidual = p.spread(residual, rows: rows)
                    var crop = p.crop
                    var tile = [Float](repeating: .nan, count: 64 * rows)
                    for (q0, q1) in [(0, planes), (wp + 3, planes - 5), (planes / 2 + 1, planes)] {
                        for (flags, epilogue) in [(0, false), (SP_RELU, true), (SP_ACCUMULATE, false), (SP_ACCUMULATE | SP_RELU, true)] {
                            let label = "body \(body) \(p), \(rows)×\(cols) in blocks of \(blockCols), q \(q0)..<\(q1), flags \(flags)"
                            var padded = paddedStart, expected = start, c = start
                            let flags16 = flags & SP_RELU
                            var padded16 = [Float](repeating: 0, count: rows * planes)
                            let start16 = start.map { bf16_from_float($0) }
                            var expected16 = start16, c16 = start16
                            withMatrix(b) { m in
                                sp_spmm_bf16_planes(m, bh, Int64(q0), Int64(q1), &padded, Int64(planes), flags,
                                                    epilogue ? bias : nil, epilogue ? paddedResidual : nil)
                                sp_spmm_bf16_cropped(m, bh, Int64(q0), Int64(q1), &crop, &tile, &c, nil, Int64(out), flags,
                                                     epilogue ? bias : nil, epilogue ? residual : nil)
                                sp_spmm_bf16_planes(m, bh, Int64(q0), Int64(q1), &padded16, Int64(planes), flags16,
                                                    epilogue ? bias : nil, nil)
                                sp_spmm_bf16_cropped(m, bh, Int64(q0), Int64(q1), &crop, &tile, nil, &c16, Int64(out), flags16,
                                                     epilogue ? bias : nil, nil)
                            }
                            for i in 0..<rows { for q in q0..<q1 { if let at = p.place(q) {
                                expected[i * out + at] = padded[i * planes + q]
                                expected16[i * out + at] = bf16_from_float(padded16[i * planes + q])
                            } } }
                            assertSameBits(c, expected, label)
                            XCTAssertEqual(c16, expected16, "bf16 output, " + label)
                            XCTAssertNotEqual(c, start, "the product wrote nothing: " + label)
                        }
                    }
                }
            }
        }
    }

    /// A 1×1 stride-2 conv's bf16 product with its operand gathered from the input tile by tile
    /// (sp_spmm_bf16_subsampled) gives the bits of sp_spmm_bf16 over the gathered columns, and with a bf16 output those
    /// of sp_spmm_bf16_to_bf16 — odd sizes, output rows shorter and longer than a tile, the epilogue, accumulation, several
    /// blocks and mid-row ranges — on each bf16 body.
    func testBF16SubsampledSpMMEqualsTheProductOverGatheredColumns() {
        for body in bf16Bodies {
            XCTAssertEqual(BFloat16.force(isa: body), body)
            defer { _ = BFloat16.force(isa: nil) }
            for (n, h, wd) in Self.subsampledInputs {
                let oh = (h + 1) / 2, ow = (wd + 1) / 2, columns = n * oh * ow, chan = n * h * wd + 3
                for (rows, cols, blockCols, density) in [(5, 12, 128, 0.3), (7, 300, 64, 0.1), (3, 2, 128, -1.0)] {
                    let w = weight(rows, cols, density: density, seed: UInt64(61 + rows))
                    let b = build(w, rows: rows, cols: cols, blockCols: blockCols)
                    let x = randomArray(cols * chan, seed: 62)
                    let gathered = gathered(x, cols: cols, chan: chan, n: n, h: h, wd: wd)
                    let bias = randomArray(rows, seed: 63), residual = randomArray(rows * columns, seed: 64)
                    let start = randomArray(rows * columns, seed: 65)
                    var sub = sp_subsample(h: Int64(h), wd: Int64(wd), oh: Int64(oh), ow: Int64(ow))
                    var pack = [UInt16](repeating: 0xFFFF, count: 64 * cols), tile = [Float](repeating: .nan, count: 64 * rows)
                    for (q0, q1) in [(0, columns), (ow + 1, columns - 3), (columns / 2, columns)] {
                        for (flags, epilogue) in [(0, false), (SP_RELU, true), (SP_ACCUMULATE, false), (SP_ACCUMULATE | SP_RELU, true)] {
                            let label = "body \(body) \(n)×\(h)×\(wd) → \(oh)×\(ow), \(rows)×\(cols) in blocks of \(blockCols), "
                                + "q \(q0)..<\(q1), flags \(flags)"
                            var expected = start, c = start
                            let start16 = start.map { bf16_from_float($0) }
                            var expected16 = start16, c16 = start16
                            withMatrix(b) { m in
                                sp_spmm_bf16(m, gathered, Int64(columns), Int32(cols), &pack, Int64(q0), Int64(q1), &expected,
                                             Int64(columns), flags, epilogue ? bias : nil, epilogue ? residual : nil)
                                sp_spmm_bf16_subsampled(m, x, Int64(chan), Int32(cols), &sub, &pack, &tile, Int64(q0), Int64(q1),
                                                        &c, nil, Int64(columns), flags, epilogue ? bias : nil,
                                                        epilogue ? residual : nil)
                                // The bf16 output (no accumulation, no residual).
                                let flags16 = flags & SP_RELU
                                sp_spmm_bf16_to_bf16(m, gathered, Int64(columns), Int32(cols), &pack, &tile, Int64(q0), Int64(q1),
                                                     &expected16, Int64(columns), flags16, epilogue ? bias : nil)
                                sp_spmm_bf16_subsampled(m, x, Int64(chan), Int32(cols), &sub, &pack, &tile, Int64(q0), Int64(q1),
                                                        nil, &c16, Int64(columns), flags16, epilogue ? bias : nil, nil)
                            }
                            assertSameBits(c, expected, label)
                            XCTAssertEqual(c16, expected16, "bf16 output, " + label)
                            XCTAssertNotEqual(c, start, "the product wrote nothing: " + label)
                            XCTAssertNotEqual(c16, start16, "the bf16 product wrote nothing: " + label)
                        }
                    }
                }
            }
        }
    }
}
