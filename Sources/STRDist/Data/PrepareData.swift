// Real JPEG trees in the ImageNet layout (`train/<class>/*.JPEG`,
// `val/<class>/*.JPEG`) for running the whole JPEG path anywhere:
// Fashion-MNIST written out image by image, and synthetic ImageNet-sized
// photographs-alike (smooth colour fields, shapes and grain) for benchmarks.

import Foundation

public enum PrepareData {
    /// Class folder names that sort in label order (ImageFolder sorts by name).
    public static func folderNames(_ classes: [String]) -> [String] {
        let digits = String(classes.count - 1).count
        return classes.enumerated().map { i, name in
            let safe = name.map { "/\\\n\t".contains($0) ? "-" : String($0) }.joined()
            return String(repeating: "0", count: max(0, digits - String(i).count)) + "\(i)_" + safe
        }
    }

    /// Writes Fashion-MNIST's train and test sets (`test` becomes `val/`) as grayscale JPEGs under `out`.
    /// Returns the number of files written.
    @discardableResult
    public static func fashionMNIST(from directory: String, to out: String, quality: Int = 95,
                                    limit: Int = 0, progress: (String) -> Void = { _ in }) throws -> Int {
        var written = 0
        for (split, train) in [("train", true), ("val", false)] {
            let set = try ImageDataset.fashionMNIST(directory: directory, train: train).prefix(limit)
            let names = folderNames(set.classNames)
            for n in names { try makeDirectory(out + "/" + split + "/" + n) }
            let plane = set.height * set.width
            for i in 0..<set.count {
                let pixels = Array(set.pixels[(i * plane)..<((i + 1) * plane)])
                let bytes = try encodeJPEG(pixels, width: set.width, height: set.height, channels: 1, quality: quality)
                let path = out + "/" + split + "/" + names[Int(set.labels[i])] + "/" + String(format: "%@_%05d.JPEG", split, i)
                try write(bytes, to: path)
                written += 1
            }
            progress("\(split): \(set.count) images in \(names.count) classes")
        }
        return written
    }

    /// Writes `perClass` synthetic RGB JPEGs of `width × height` for each of `classes` classes
    /// into `split` under `out`, deterministically from `seed`.
    @discardableResult
    public static func synthetic(to out: String, split: String = "train", classes: Int, perClass: Int,
                                 width: Int = 500, height: Int = 375, quality: Int = 90, seed: UInt64 = 1) throws -> Int {
        try checkSynthetic(out, classes: classes, perClass: perClass, width: width, height: height)
        let names = folderNames((0..<classes).map { "class\($0)" })
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        var written = 0
        for c in 0..<classes {
            try makeDirectory(out + "/" + split + "/" + names[c])
            for k in 0..<perClass {
                var rng = RNG(seed: seed, stream: UInt64(c * perClass + k) | (split == "train" ? 0 : 1 << 40))
                paint(&pixels, width: width, height: height, rng: &rng)
                let bytes = try encodeJPEG(pixels, width: width, height: height, channels: 3, quality: quality)
                try write(bytes, to: out + "/" + split + "/" + names[c] + "/" + String(format: "img_%06d.JPEG", k))
                written += 1
            }
        }
        return written
    }

    /// Refuses, before writing anything, a size that does not fit: the image in memory, the tree on disk
    /// (JPEGs of these fields take about a fifth of their raw RGB bytes at quality 90).
    static func checkSynthetic(_ out: String, classes: Int, perClass: Int, width: Int, height: Int) throws {
        guard classes > 0, perClass >= 0, (1...65_500).contains(width), (1...65_500).contains(height) else {
            throw DataError("prepare-data synthetic needs classes ≥ 1, per-class ≥ 0 and width and height in 1…65500 (JPEG's limit), got \(classes), \(perClass), \(width)×\(height)")
        }
        let raw = width * height * 3
        guard raw * 4 <= MachineMemory.bytes else {
            throw DataError("prepare-data synthetic at \(width)×\(height) needs about \(MachineMemory.text(raw * 4)) of memory per image but this machine has \(MachineMemory.text(MachineMemory.bytes)): lower --width/--height")
        }
        guard let files = SafeTensors.elementCount([classes, perClass]), let disk = SafeTensors.elementCount([files, raw / 5 + 1024]) else {
            throw DataError("prepare-data synthetic: \(classes) classes × \(perClass) images is too many to count")
        }
        let free = freeBytes(near: out)
        guard disk <= free else {
            throw DataError("prepare-data synthetic would write about \(MachineMemory.text(disk)) (\(files) JPEGs of \(width)×\(height)) under '\(out)' but its disk has \(MachineMemory.text(free)) free: lower --classes, --per-class or the size")
        }
    }

    /// Free bytes on the file system that holds `path` (or the nearest folder above it that exists).
    static func freeBytes(near path: String) -> Int {
        var dir = URL(fileURLWithPath: path).standardizedFileURL.path
        while !FileManager.default.fileExists(atPath: dir) && dir != "/" { dir = (dir as NSString).deletingLastPathComponent }
        var st = statvfs()
        guard statvfs(dir, &st) == 0 else { return Int.max }
        let (bytes, overflow) = Int(st.f_bavail).multipliedReportingOverflow(by: Int(st.f_frsize))
        return overflow ? Int.max : bytes
    }

    /// A smooth two-colour field, a few discs and boxes, and grain: JPEG sizes and decode
    /// costs like a photograph's (≈ 100 KB at 500×375, quality 90).
    static func paint(_ p: inout [UInt8], width: Int, height: Int, rng: inout RNG) {
        func colour() -> SIMD3<Double> { SIMD3(rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)) }
        let a = colour(), b = colour()
        let fx = rng.uniform(0.5, 3) / Double(width), fy = rng.uniform(0.5, 3) / Double(height)
        var shapes: [(x: Double, y: Double, r: Double, disc: Bool, c: SIMD3<Double>)] = []
        for _ in 0..<(3 + rng.below(5)) {
            shapes.append((rng.uniform(0, Double(width)), rng.uniform(0, Double(height)),
                           rng.uniform(15, Double(min(width, height)) / 3), rng.below(2) == 0, colour()))
        }
        for y in 0..<height {
            for x in 0..<width {
                let t = 0.5 + 0.5 * sin(2 * .pi * (fx * Double(x) + fy * Double(y)))
                var v = a * t + b * (1 - t)
                for s in shapes {
                    let dx = Double(x) - s.x, dy = Double(y) - s.y
                    let inside = s.disc ? dx * dx + dy * dy < s.r * s.r : abs(dx) < s.r && abs(dy) < s.r * 0.6
                    if inside { v = s.c + (v - s.c) * 0.15 }
                }
                let grain = Double(rng.below(25)) - 12
                let o = (y * width + x) * 3
                for ch in 0..<3 { p[o + ch] = UInt8(max(0, min(255, v[ch] + grain))) }
            }
        }
    }

    static func makeDirectory(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        catch { throw DataError("cannot create folder '\(path)': \(error.localizedDescription)") }
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw DataError("cannot write '\(path)' (is the folder writable?)")
        }
    }
}
