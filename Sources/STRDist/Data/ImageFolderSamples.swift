// An ImageFolder split as a sample source: JPEG decode (DCT-domain scaled and
// cropped to what the transform reads) → torchvision's RandomResizedCrop +
// horizontal flip for training, Resize + CenterCrop for validation →
// normalised planes. A file that fails to decode is reported once, counted,
// and replaced by the next good sample (or stops the run when `strict`).

import Foundation

public final class ImageFolderSamples: SampleSource {
    public let folder: ImageFolder
    public let size: Int
    /// RGB.
    public let channels = 3
    /// Validation's shorter-side resize (256 for 224).
    public let resize: Int
    public let seed: Int
    public let strict: Bool
    /// Largest DCT-domain downscale allowed (1 disables it).
    public let maxScale: Int
    public let mean = SIMD4<Float>(0.485, 0.456, 0.406, 0), std = SIMD4<Float>(0.229, 0.224, 0.225, 1)
    public let badImages: BadImageLog

    public init(_ folder: ImageFolder, size: Int, resize: Int? = nil, seed: Int, strict: Bool = false, maxScale: Int = 8,
                warn: @escaping @Sendable (String) -> Void = { _ in }) {
        self.folder = folder; self.size = size; self.seed = seed; self.strict = strict; self.maxScale = maxScale
        self.resize = resize ?? Int((Double(size) * 256 / 224).rounded())
        badImages = BadImageLog(warn: warn)
    }

    public var count: Int { folder.count }
    public func makeWorker() -> any SampleWorker { Worker(self) }

    final class Worker: SampleWorker {
        let source: ImageFolderSamples
        let decoder = JPEGDecoder(), resampler = Resampler()
        init(_ source: ImageFolderSamples) { self.source = source }

        func write(_ index: Int, train: Bool, epoch: Int, out: UnsafeMutablePointer<Float>, planeStride: Int) throws -> Int32 {
            let s = source
            var rng = sampleRNG(seed: s.seed, epoch: epoch, index: index)
            var i = index
            for _ in 0..<min(s.count, 64) {
                do {
                    try render(i, train: train, rng: &rng, out: out, planeStride: planeStride)
                    return s.folder.labels[i]
                } catch let e as JPEGError {
                    let path = s.folder.path(i)
                    if s.strict { throw DataError("bad image '\(path)': \(e.description) (set strict_images: false to skip bad images)") }
                    s.badImages.record(path, e.description)
                    i = (i + 1) % s.count
                }
            }
            throw DataError("64 bad images in a row from '\(s.folder.path(index))' on in '\(s.folder.root)': is this a JPEG tree?")
        }

        private func render(_ i: Int, train: Bool, rng: inout RNG, out: UnsafeMutablePointer<Float>, planeStride: Int) throws {
            let s = source
            try decoder.load(s.folder.path(i))
            let (w, h) = try decoder.header()
            var draws = rng
            let plan = train
                ? CropGeometry.trainPlan(width: w, height: h, size: s.size, uniform: { draws.uniform() })
                : CropGeometry.validationPlan(width: w, height: h, resize: s.resize, size: s.size)
            let flip = train && draws.uniform() < 0.5
            let scale = plan.bestScale(limit: s.maxScale)
            let scaled = plan.scaled(by: scale)
            let sw = (w + scale - 1) / scale, sh = (h + scale - 1) / scale
            let area = Resampler.footprint(scaled, scaledWidth: sw, scaledHeight: sh)
            let image = try decoder.decode(scale: scale, columns: area.columns, rows: area.rows)
            resampler.run(image, scaled, mean: s.mean, std: s.std, flip: flip, out: out, planeStride: planeStride)
        }
    }
}

/// Bad files met while loading: each named once in a warning, all counted.
// unchecked: every mutable field is read and written under `lock`.
public final class BadImageLog: @unchecked Sendable {
    private let lock = NSLock()
    private var seen = Set<String>()
    private var occurrences = 0
    private let warn: @Sendable (String) -> Void

    public init(warn: @escaping @Sendable (String) -> Void) { self.warn = warn }

    public var distinct: Int { lock.lock(); defer { lock.unlock() }; return seen.count }
    public var total: Int { lock.lock(); defer { lock.unlock() }; return occurrences }
    public var files: [String] { lock.lock(); defer { lock.unlock() }; return seen.sorted() }

    func record(_ path: String, _ reason: String) {
        lock.lock()
        occurrences += 1
        let first = seen.insert(path).inserted
        let n = seen.count
        lock.unlock()
        if first { warn("skipping bad image '\(path)': \(reason) (\(n) bad file(s) so far; the next good sample takes its place)") }
    }
}
