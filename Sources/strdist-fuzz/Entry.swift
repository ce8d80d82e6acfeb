// strdist-fuzz: built with `-sanitize=fuzzer -DFUZZING` (scripts/fuzz.sh) it is a libFuzzer binary
// for the target named by STRDIST_FUZZ_TARGET; built plainly it replays files through a target
// (`strdist-fuzz TARGET FILE…`), which is how a crash input is reproduced and how CI checks the
// seed corpus on any build; `strdist-fuzz seeds DIR` writes the seed corpus (fuzz/corpus/).

import Foundation
import CFuzzMain

#if FUZZING
private let target: (Data) -> Void = {
    let name = ProcessInfo.processInfo.environment["STRDIST_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTargets.all[name] else {
        FileHandle.standardError.write(Data("strdist-fuzz: set STRDIST_FUZZ_TARGET to one of \(FuzzTargets.all.keys.sorted().joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return t
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func strdistFuzzOne(_ bytes: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    target(bytes.map { Data(bytes: $0, count: size) } ?? Data())
    return 0
}
#else
@main
enum Replay {
    static func main() {
        let args = CommandLine.arguments.dropFirst()
        if args.first == "seeds", let dir = args.dropFirst().first {
            do { try Seeds.write(to: dir) } catch { print("strdist-fuzz: \(error)"); exit(1) }
            return
        }
        guard let name = args.first, let target = FuzzTargets.all[name], args.count > 1 else {
            print("usage: strdist-fuzz TARGET FILE… (targets: \(FuzzTargets.all.keys.sorted().joined(separator: ", ")))")
            exit(2)
        }
        var files: [String] = []
        for path in args.dropFirst() {
            var isDir: ObjCBool = false
            FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            if isDir.boolValue {
                files += ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
            } else { files.append(path) }
        }
        for f in files { target(FileManager.default.contents(atPath: f) ?? Data()) }
        print("strdist-fuzz: \(name): \(files.count) input(s) replayed, none crashed")
    }
}
#endif
