// What the tests that run the `strdist` program itself share (MultiRankTests,
// MultiHostTests, SlurmTests): where the release binary is, a small synthetic
// ImageNet-layout JPEG tree, the tiny run config they start from, and the
// mpirun words CI needs.
import Foundation
@testable import STRDist

enum TinyRun {
    /// The repository root.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    /// The release program (scripts/test.sh builds it).
    static let binary = root + "/.build/release/strdist"

    /// A synthetic tree of 3 classes under `path`: `perClass` training and `valPerClass` validation images each.
    static func makeData(at path: String, perClass: Int, valPerClass: Int) {
        try? FileManager.default.removeItem(atPath: path)
        _ = try? PrepareData.synthetic(to: path, split: "train", classes: 3, perClass: perClass, width: 40, height: 40)
        _ = try? PrepareData.synthetic(to: path, split: "val", classes: 3, perClass: valPerClass, width: 40, height: 40)
    }

    /// The shared run: ResNet18 at width 0.25 with a stride-2 CIFAR stem on 16×16 crops of the synthetic
    /// tree, STR from s = −6, a constant learning rate, a line per step. `keys` add to it or replace its values.
    static func config(_ keys: [String: String]) -> String {
        let base = [
            "arch": "ResNet18", "cifar_stem": "true", "stem_stride": "2", "width_mult": "0.25", "set": "ImageNet",
            "image_size": "16", "lr_policy": "constant_lr", "conv_type": "STRConv", "sInit_value": "-6", "print_freq": "1",
        ]
        return base.merging(keys) { _, new in new }.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            .joined(separator: "\n") + "\n"
    }

    /// `mpirun -np ranks` as CI runs it (as root, more ranks than cores), forwarding `env` to the ranks.
    static func mpirun(_ ranks: Int, env: [String: String] = [:]) -> [String] {
        var words = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)"]
        for (k, v) in env.sorted(by: { $0.key < $1.key }) { words += ["-x", "\(k)=\(v)"] }
        return words
    }
}
