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
        // One Swift file per input, and one declaring the namespaces of their packages (its name
        // is AIDLCompilerDriver.namespacesFileName; the plugin cannot link the compiler).
        let outputs = inputs.map { output.appending(path: $0.deletingPathExtension().lastPathComponent + ".swift") }
            + [output.appending(path: "AIDLPackages.swift")]
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
}
