// The seed corpus: one small valid file per target (and a damaged copy), written by the library's
// own writers, so the fuzzer starts from inputs that reach deep into each reader.

import Foundation
import STRDist

enum Seeds {
    static func write(to dir: String) throws {
        func put(_ target: String, _ name: String, _ data: Data) throws {
            let folder = dir + "/" + target
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try data.write(to: URL(fileURLWithPath: folder + "/" + name))
            try data.prefix(data.count * 2 / 3).write(to: URL(fileURLWithPath: folder + "/" + name + ".cut"))
        }
        var v: [Float] = [1, -2, 3.5, 0, 7, 8]
        var n: [Int64] = [42]
        try put("safetensors", "two.safetensors", SafeTensors.encode([
            SafeTensor(name: "a.weight", dtype: "F32", shape: [2, 3], bytes: Data(bytes: &v, count: 24)),
            SafeTensor(name: "bn.num_batches_tracked", dtype: "I64", shape: [], bytes: Data(bytes: &n, count: 8)),
        ], metadata: ["format": "pt"]))
        let (_, _, base) = FuzzTargets.stateModel
        try put("state", "ck.state", try Data(contentsOf: URL(fileURLWithPath: base + ".state")))
        try put("config", "str.yaml", Data("""
            # ResNet50 STR, as the reference writes it
            arch: ResNet50
            conv_type: STRConv
            bn_type: LearnedBatchNorm
            lr: 0.256
            lr_policy: cosine_lr
            warmup_length: 5
            epochs: 100
            batch_size: 256
            weight_decay: 0.00003051757813
            sInit_value: -3200
            label_smoothing: 0.1
            defaults: &base
              momentum: 0.875
            more:
              <<: *base
            """.utf8))
        var idx: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3]
        idx += (0..<18).map { UInt8($0 * 13 & 255) }
        try put("idx", "two-idx3-ubyte", Data(idx))
        var pixels = [UInt8](repeating: 0, count: 16 * 12 * 3)
        for i in 0..<pixels.count { pixels[i] = UInt8(i * 7 & 255) }
        try put("jpeg", "small.jpg", Data(try encodeJPEG(pixels, width: 16, height: 12, channels: 3, quality: 80)))
        let events = FuzzTargets.folder + "/seed-events"
        try? FileManager.default.removeItem(atPath: events)
        let w = try EventWriter(directory: events)
        w.scalars([("test/acc1", 12.5), ("lr", 0.1)], step: 3)
        w.flush()
        try put("tfrecord", "events.tfevents", try Data(contentsOf: URL(fileURLWithPath: w.path)))
        print("strdist-fuzz: seeds written under \(dir)")
    }
}
