import AIDLCompiler
import ArgumentParser
import SystemPackage

/// `swift-aidl [-I DIR]... [-o OUTDIR] FILE.aidl...`: AIDL to Swift.
struct SwiftAIDL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swift-aidl",
        abstract: "Generate Swift proxies, stubs and types from AIDL files (for SwiftBinder).",
        discussion: "Imports are found under the -I roots as package/path/Name.aidl, as AOSP's aidl finds them.")

    @Option(name: .customShort("I"), help: "A root to look for imported .aidl files in (repeatable).")
    var include: [String] = []

    @Option(name: .shortAndLong, help: "Where to write the .swift files.")
    var output: String = "."

    @Option(help: "The interface version (adds getInterfaceVersion).")
    var version: Int32?

    @Option(help: "The interface hash (adds getInterfaceHash).")
    var hash: String?

    @Option(help: "The Swift module the output is compiled into (qualifies names generated code would shadow).")
    var moduleName: String?

    @Flag(help: "Only check the files; write nothing.")
    var check = false

    @ArgumentParser.Argument(help: "The .aidl files to compile.")
    var files: [String]

    func run() throws {
        let outputs: [AIDLCompilerDriver.Output]
        do {
            outputs = try AIDLCompilerDriver.compile(
                inputs: files, includeRoots: include, version: version, hash: hash, moduleName: moduleName)
        } catch {
            _ = try? FileDescriptor.standardError.writeAll((error.description + "\n").utf8)
            throw ExitCode.failure
        }
        guard !check else { return }
        for output in outputs {
            let path = FilePath(self.output).appending(output.fileName)
            let fd = try FileDescriptor.open(
                path, .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite, .groupRead, .otherRead])
            defer { try? fd.close() }
            _ = try fd.writeAll(output.swift.utf8)
        }
    }
}

SwiftAIDL.main()
