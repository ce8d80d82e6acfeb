// An in-memory set of small grayscale images with labels — Fashion-MNIST,
// from the IDX files Debian's `dataset-fashion-mnist` installs.

import Foundation

public struct ImageDataset {
    /// N·H·W bytes.
    public let pixels: [UInt8]
    public let labels: [Int32]
    public let height: Int, width: Int
    public let classNames: [String]

    public var count: Int { labels.count }

    public static let fashionMNISTClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// Loads the `train` or `test` split from `directory`.
    public static func fashionMNIST(directory: String, train: Bool) throws -> ImageDataset {
        let prefix = train ? "train" : "t10k"
        func path(_ kind: String) throws -> String {
            for name in ["\(prefix)-\(kind)-ubyte.gz", "\(prefix)-\(kind)-ubyte"] {
                let p = (directory as NSString).appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: p) { return p }
            }
            throw DataError("Fashion-MNIST file \(prefix)-\(kind)-ubyte.gz not found in '\(directory)' (install it with: apt-get install dataset-fashion-mnist, or point --data at the folder holding it)")
        }
        let imagesPath = try path("images-idx3")
        let images = try IDXFile(path: imagesPath, expectedDimensions: 3)
        let labels = try IDXFile(path: path("labels-idx1"), expectedDimensions: 1)
        // An IDX header may say anything: zero images, or images of no pixels, would train on nothing.
        guard images.dimensions.allSatisfy({ $0 > 0 }) else {
            let d = images.dimensions
            throw DataError("'\(imagesPath)' holds \(d[0]) images of \(d[1])×\(d[2]) pixels: nothing to train on (a damaged file? Fashion-MNIST's are 28×28)")
        }
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DataError("Fashion-MNIST \(prefix): \(images.dimensions[0]) images but \(labels.dimensions[0]) labels")
        }
        guard labels.bytes.allSatisfy({ $0 < 10 }) else {
            throw DataError("Fashion-MNIST \(prefix) labels: a label is outside 0…9")
        }
        return ImageDataset(pixels: images.bytes, labels: labels.bytes.map(Int32.init),
                            height: images.dimensions[1], width: images.dimensions[2], classNames: fashionMNISTClasses)
    }

    /// The first `n` samples (all when n is 0 or too large).
    public func prefix(_ n: Int) -> ImageDataset {
        guard n > 0 && n < count else { return self }
        return ImageDataset(pixels: Array(pixels[0..<(n * height * width)]), labels: Array(labels[0..<n]),
                            height: height, width: width, classNames: classNames)
    }

    public init(pixels: [UInt8], labels: [Int32], height: Int, width: Int, classNames: [String]) {
        precondition(pixels.count == labels.count * height * width, "pixel count does not match \(labels.count) images")
        self.pixels = pixels; self.labels = labels; self.height = height; self.width = width
        self.classNames = classNames
    }
}
