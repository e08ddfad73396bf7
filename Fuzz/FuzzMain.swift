// Two builds of one program:
// - with -DFUZZING and -sanitize=fuzzer (scripts/fuzz), main hands over to libFuzzer, which
//   calls LLVMFuzzerTestOneInput with inputs it generates; SWIFTBINDER_FUZZ_TARGET picks the target;
// - in an ordinary build, `swiftbinder-fuzz TARGET FILE...` replays inputs (a corpus, a crash)
//   and `swiftbinder-fuzz --list` prints the targets.

#if canImport(Glibc)
import Glibc
#endif

#if FUZZING
private let selectedTarget: FuzzTarget = {
    let name = getenv("SWIFTBINDER_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        print("set SWIFTBINDER_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    selectedTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's `main` to `<module>_main`; hand control to libFuzzer there.
@_cdecl("swiftbinder_fuzz_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}
#else
@main
enum FuzzReplay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "--list" {
            for target in FuzzTarget.allCases { print("\(target.rawValue)\t\(target.summary)") }
            exit(0)
        }
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: swiftbinder-fuzz --list | TARGET FILE...")
            exit(2)
        }
        var replayed = 0
        for path in arguments.dropFirst() {
            guard let file = fopen(path, "rb") else {
                print("swiftbinder-fuzz: cannot open \(path)")
                exit(1)
            }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = fread(&chunk, 1, chunk.count, file)
                if count == 0 { break }
                bytes += chunk[..<count]
            }
            fclose(file)
            bytes.withUnsafeBytes { target.run($0) }
            replayed += 1
        }
        print("replayed \(replayed) inputs through \(target.rawValue)")
    }
}
#endif
