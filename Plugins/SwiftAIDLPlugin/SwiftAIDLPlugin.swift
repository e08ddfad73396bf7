import Foundation
import PackagePlugin

/// Turns a target's `.aidl` files into Swift at build time with `swift-aidl`. Imports are
/// resolved from the target's directory and each file's package root.
@main
struct SwiftAIDLPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let inputs = target.sourceFiles(withSuffix: "aidl").map(\.url)
        guard !inputs.isEmpty else { return [] }
        let output = context.pluginWorkDirectoryURL
        // One Swift file per input, named by its package and name as swift-aidl names it, and
        // one declaring the namespaces of their packages (AIDLCompilerDriver.namespacesFileName;
        // the plugin cannot link the compiler).
        let outputs = inputs.map { input in
            let name = input.deletingPathExtension().lastPathComponent
            return output.appending(path: (Self.package(of: input).map { $0 + "." } ?? "") + name + ".swift")
        } + [output.appending(path: "AIDLPackages.swift")]
        return [
            .buildCommand(
                displayName: "swift-aidl: \(inputs.count) file(s) of \(target.name)",
                executable: try context.tool(named: "swift-aidl").url,
                arguments: ["-I", target.directoryURL.path(), "-o", output.path(), "--module-name", target.moduleName]
                    + inputs.map { $0.path() },
                inputFiles: inputs,
                outputFiles: outputs)
        ]
    }

    /// The package an AIDL file declares (`package a.b.c;`, after any comments), or nil.
    static func package(of file: URL) -> String? {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
        var rest = Substring(text)
        while !rest.isEmpty {
            rest = rest.drop { $0.isWhitespace }
            if rest.hasPrefix("//") {
                rest = rest.drop { $0 != "\n" }
            } else if rest.hasPrefix("/*") {
                guard let end = rest.range(of: "*/") else { return nil }
                rest = rest[end.upperBound...]
            } else if rest.hasPrefix("package") {
                let name = rest.dropFirst("package".count).prefix { $0 != ";" }
                return name.trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                return nil
            }
        }
        return nil
    }
}
