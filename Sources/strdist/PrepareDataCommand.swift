// `strdist prepare-data`: JPEG trees in the ImageNet layout.
import ArgumentParser
import Foundation
import STRDist

struct PrepareDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare-data",
        abstract: "Write an ImageNet-layout JPEG tree: fashion-mnist (the real set) or synthetic (ImageNet-sized).",
        discussion: "Train on the result with: strdist --config FILE --set ImageNet --data DIR")

    @Argument(help: "fashion-mnist or synthetic.") var kind: String
    @Option(help: "Output folder (gets train/ and val/).") var out: String
    @Option(help: "Fashion-MNIST's IDX folder.") var data = "/usr/share/datasets/fashion-mnist"
    @Option(help: "JPEG quality.") var quality: Int?
    @Option(help: "Images per split for fashion-mnist (0: all).") var limit = 0
    @Option(help: "synthetic: classes.") var classes = 10
    @Option(name: .customLong("per-class"), help: "synthetic: train images per class (val gets a fifth).") var perClass = 20
    @Option(help: "synthetic: width.") var width = 500
    @Option(help: "synthetic: height.") var height = 375

    func run() throws {
        do {
            switch kind {
            case "fashion-mnist":
                let n = try PrepareData.fashionMNIST(from: data, to: out, quality: quality ?? 95, limit: limit,
                                                     progress: { print("=> \($0)") })
                print("=> wrote \(n) JPEG files under \(out)")
            case "synthetic":
                guard classes > 0 && perClass > 0 && width >= 8 && height >= 8 else {
                    throw DataError("--classes, --per-class must be positive and --width/--height at least 8")
                }
                let q = quality ?? 90
                let a = try PrepareData.synthetic(to: out, split: "train", classes: classes, perClass: perClass,
                                                  width: width, height: height, quality: q)
                let b = try PrepareData.synthetic(to: out, split: "val", classes: classes, perClass: max(1, perClass / 5),
                                                  width: width, height: height, quality: q)
                print("=> wrote \(a + b) synthetic \(width)×\(height) JPEG files (quality \(q)) under \(out)")
            default:
                throw DataError("unknown data kind '\(kind)' (use fashion-mnist or synthetic)")
            }
        } catch { fail(error) }
    }
}
