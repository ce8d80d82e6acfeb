// The data a config names, as sample sources: Fashion-MNIST from its IDX
// files, or an ImageNet-layout JPEG tree (`<data>/imagenet/{train,val}` as
// the reference reads it, or `<data>/{train,val}`).

import Foundation

public struct TrainingData {
    public let train: any SampleSource
    public let validation: any SampleSource
    public let classes: Int
    /// Channels per image (the model's input channels).
    public var channels: Int { train.channels }
    public let notes: [String]
    /// Bad-image logs of the JPEG sets (empty for in-memory sets).
    public let badImages: [BadImageLog]

    public init(_ config: Config, warn: @escaping @Sendable (String) -> Void) throws {
        let seed = config.seed ?? 0, size = config.inputSize
        switch config.set {
        case .imageNet:
            let root = Self.imageFolderRoot(config.data)
            var notes: [String] = []
            func split(_ name: String) throws -> ImageFolder {
                let f = try ImageFolder.load(root + "/" + name)
                if !f.skipped.isEmpty {
                    let what = f.skipped.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                    notes.append("\(name): skipped \(f.skipped.values.reduce(0, +)) non-JPEG file(s) (\(what))")
                }
                if !f.emptyClasses.isEmpty {
                    notes.append("\(name): \(f.emptyClasses.count) class folder(s) hold no JPEG: \(f.emptyClasses.prefix(5).joined(separator: ", "))")
                }
                notes.append("\(name): \(f.count) images in \(f.classes.count) classes\(f.fromCache ? " (cached index)" : "")")
                return f
            }
            let t = try split("train"), v = try split("val")
            guard t.classes == v.classes else {
                throw DataError("train/ and val/ under '\(root)' have different class folders (\(t.classes.count) vs \(v.classes.count))")
            }
            let trainSubset = t.evenlySpaced(config.trainSubset)
            let resize = config.valResize > 0 ? config.valResize : nil
            let a = ImageFolderSamples(trainSubset, size: size, resize: resize, seed: seed, strict: config.strictImages, warn: warn)
            let b = ImageFolderSamples(v, size: size, resize: resize, seed: seed, strict: config.strictImages, warn: warn)
            train = a; validation = b; classes = t.classes.count; badImages = [a.badImages, b.badImages]
            self.notes = notes
        case .fashionMNIST:
            let trainSet = try ImageDataset.fashionMNIST(directory: config.data, train: true).prefix(config.trainSubset)
            let valSet = try ImageDataset.fashionMNIST(directory: config.data, train: false)
            guard size >= max(trainSet.height, trainSet.width) else {
                throw ConfigError("config key 'image_size' must be at least \(max(trainSet.height, trainSet.width)) for \(config.set)'s \(trainSet.height)×\(trainSet.width) images, got \(size)")
            }
            let sequences = Architecture.named(config.arch)?.readsSequences == true
            train = SmallImageSamples(SmallImageBatcher(dataset: trainSet, size: size, sequences: sequences), seed: seed)
            validation = SmallImageSamples(SmallImageBatcher(dataset: valSet, size: size, sequences: sequences), seed: seed)
            classes = 10; notes = []; badImages = []
        }
    }

    static func imageFolderRoot(_ data: String) -> String {
        var isDir: ObjCBool = false
        let nested = data + "/imagenet"
        if FileManager.default.fileExists(atPath: nested + "/train", isDirectory: &isDir), isDir.boolValue { return nested }
        return data
    }
}
