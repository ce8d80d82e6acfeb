// The readers of files someone else wrote, one fuzz target each. A target must return for every
// input — a thrown error is the right answer to garbage; a crash, a hang or a huge allocation is a
// bug libFuzzer reports. Readers of paths get the input through a scratch file (in /dev/shm).

import Foundation
import STRDist

enum FuzzTargets {
    static let all: [String: (Data) -> Void] = [
        "safetensors": { _ = try? SafeTensors.decode($0, what: "fuzz.safetensors") },
        "state": state,
        "config": { data in
            let path = scratch("fuzz.yaml", data)
            _ = try? ConfigLoader.load(path: path, overrides: [])
        },
        "idx": { data in
            let path = scratch("fuzz-idx3-ubyte", data)
            _ = try? IDXFile(path: path, expectedDimensions: 3)
        },
        "jpeg": { data in
            let decoder = JPEGDecoder()
            decoder.load(bytes: [UInt8](data))
            guard (try? decoder.header()) != nil else { return }
            _ = try? decoder.decode(scale: 1)
            _ = try? decoder.decode(scale: 2, columns: 3..<9, rows: 1..<5)
        },
        "tfrecord": { data in
            let path = scratch("fuzz.tfevents", data)
            _ = try? EventReader.scalars(path)
        },
    ]

    static let folder: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let dir = base + "/strdist-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    static func scratch(_ name: String, _ data: Data) -> String {
        let path = folder + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: data)
        return path
    }

    /// A training state (`.state`) beside a fixed, valid model file of a tiny ResNet18.
    static let stateModel: (Model, SGD, String) = {
        var o = ModelOptions()
        o.arch = "ResNet18"; o.numClasses = 10; o.widthMultiplier = 1.0 / 16; o.smallInputStem = true; o.convKind = .str
        let model = try! Model(o, threads: 1)
        let sgd = SGD(SGDSettings(), table: model.network.store.parameters)
        let base = folder + "/ck"
        try! Checkpoint.save(base, store: model.network.store, optimizer: sgd, state: TrainingState())
        return (model, sgd, base)
    }()

    static func state(_ data: Data) {
        let (model, sgd, base) = stateModel
        _ = FileManager.default.createFile(atPath: base + ".state", contents: data)
        _ = try? Checkpoint.resume(base, store: model.network.store, optimizer: sgd)
    }
}
