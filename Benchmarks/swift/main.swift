import Foundation
import SwiftBinder

let arguments = CommandLine.arguments
func usage() -> Never {
    print("usage: swiftbinder-bench server DEVICE [--register NAME] | client DEVICE ITERATIONS"
        + " | servicemanager DEVICE NAME ITERATIONS | profile-client DEVICE ITERATIONS [add|binder|fd] | stop DEVICE"
        + " | threads DEVICE ITERATIONS | stats CASE | report latency|scaling FILE...")
    exit(2)
}
guard arguments.count >= 2 else { usage() }

do {
    switch arguments[1] {
    case "server" where arguments.count >= 3:
        try runServer(device: arguments[2], register: arguments.count == 5 && arguments[3] == "--register" ? arguments[4] : nil)
    case "client" where arguments.count == 4:
        try runClient(device: arguments[2], iterations: Int(arguments[3]) ?? 1000)
    case "threads" where arguments.count == 4:
        try runThreads(device: arguments[2], iterations: Int(arguments[3]) ?? 1000)
    case "profile-client" where arguments.count == 4 || arguments.count == 5:
        guard let kind = ProfiledCase(rawValue: arguments.count == 5 ? arguments[4] : "add") else { usage() }
        try runProfileClient(device: arguments[2], iterations: Int(arguments[3]) ?? 1000, kind: kind)
    case "stop" where arguments.count == 3:
        try stopServer(device: arguments[2])
    case "servicemanager" where arguments.count == 5:
        try runServiceManagerClient(device: arguments[2], name: arguments[3], iterations: Int(arguments[4]) ?? 1000)
    case "stats" where arguments.count == 3:
        var samples: [UInt64] = []
        while let line = readLine() { if let value = UInt64(line) { samples.append(value) } }
        if let total = ProcessInfo.processInfo.environment["CALLS"] {
            // the C oneway and threads runs print one total for CALLS calls; reported per call
            let calls = UInt64(total) ?? 1
            report(arguments[2], samples.map { $0 / calls },
                extra: ["calls_per_second": String(Int(Double(calls) / (Double(samples.first ?? 1) / 1e9)))])
        } else {
            report(arguments[2], samples)
        }
    case "report" where arguments.count >= 4 && ["latency", "scaling"].contains(arguments[2]):
        print(try markdownReport(arguments[2], files: Array(arguments.dropFirst(3))))
    default:
        usage()
    }
} catch {
    print("swiftbinder-bench: \(error)")
    exit(1)
}

/// Median of each case over the runs, as a Markdown table with the ratio to the C baseline.
func markdownReport(_ table: String, files: [String]) throws -> String {
    var runs: [String: [[String: Any]]] = [:]
    for file in files {
        for line in try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let name = object["case"] as? String
            else { continue }
            runs[name, default: []].append(object)
        }
    }
    func median(_ name: String, _ key: String) -> Double? {
        let values = (runs[name] ?? []).compactMap { ($0[key] as? NSNumber)?.doubleValue }.sorted()
        return values.isEmpty ? nil : values[values.count / 2]
    }
    func microseconds(_ ns: Double?) -> String { ns.map { String(format: "%.1f µs", $0 / 1000) } ?? "–" }
    func ratio(_ value: Double?, _ base: Double?) -> String {
        guard let value, let base, base > 0 else { return "–" }
        return String(format: "%.2f×", value / base)
    }
    func scaling(_ prefix: String, _ threads: Int) -> Double? {
        guard let rate = median("\(prefix)threads-\(threads)", "calls_per_second"),
            let one = median("\(prefix)threads-1", "calls_per_second"), one > 0
        else { return nil }
        return rate / one
    }
    if table == "scaling" {
        var lines = [
            "| client threads | SwiftBinder | C baseline | SwiftBinder vs 1 thread | C vs 1 thread | growth, SwiftBinder / C |",
            "|---|---|---|---|---|---|",
        ]
        for threads in [1, 2, 4] {
            let swift = median("threads-\(threads)", "calls_per_second")
            let c = median("c-threads-\(threads)", "calls_per_second")
            let (own, cOwn) = (scaling("", threads), scaling("c-", threads))
            let growth = own.flatMap { own in cOwn.map { String(format: "%.2f", own / $0) } } ?? "–"
            lines.append(
                "| \(threads) | \(Int(swift ?? 0)) calls/s | \(Int(c ?? 0)) calls/s | "
                    + "\(own.map { String(format: "%.2f×", $0) } ?? "–") | \(cOwn.map { String(format: "%.2f×", $0) } ?? "–") | \(growth) |")
        }
        return lines.joined(separator: "\n")
    }
    var lines = [
        "| case | SwiftBinder median | p99 | C baseline median | ratio | notes |",
        "|---|---|---|---|---|---|",
    ]
    for size in [0, 64, 1024, 4096, 16384, 65536] {
        let swift = median("rtt-\(size)", "median_ns")
        let c = median("c-rtt-\(size)", "median_ns")
        lines.append("| sync round trip, \(size) B | \(microseconds(swift)) | \(microseconds(median("rtt-\(size)", "p99_ns"))) | \(microseconds(c)) | \(ratio(swift, c)) | |")
    }
    let c64 = median("c-rtt-64", "median_ns")
    var addNotes: [String] = []
    if let value = median("add", "client_allocations_per_call") { addNotes.append(String(format: "client %.2f allocations/call", value)) }
    if let value = median("add", "server_allocations_per_call") { addNotes.append(String(format: "server %.2f allocations/call", value)) }
    lines.append("| add(int, int), generated proxy | \(microseconds(median("add", "median_ns"))) | \(microseconds(median("add", "p99_ns"))) | \(microseconds(c64)) (64 B) | \(ratio(median("add", "median_ns"), c64)) | \(addNotes.joined(separator: "; ")) |")
    let own64 = median("rtt-64", "median_ns")
    // Passing an object, against the C baseline passing the same kind of object (the kernel's
    // reference exchange or descriptor installs are in both).
    for name in ["binder", "fd"] {
        let title = name == "binder" ? "passing a binder object" : "passing a file descriptor"
        let value = median(name, "median_ns")
        let c = median("c-\(name)", "median_ns")
        var notes = "\(ratio(value, own64)) of SwiftBinder's 64 B call; C: \(ratio(c, c64)) of its 64 B call"
        if name == "binder" {
            // The same call with the server taking and dropping a proxy's references on the handle.
            notes += ", \(ratio(median("c-binder-references", "median_ns"), c64)) holding references as a proxy does"
        }
        lines.append(
            "| \(title) | \(microseconds(value)) | \(microseconds(median(name, "p99_ns"))) | \(microseconds(c)) | \(ratio(value, c)) "
                + "| \(notes) |")
    }
    // RPC binder on a unix socket, against the kernel: the same object, the same calls.
    for (transport, prefix) in [("unix socket", "rpc"), ("loopback TCP", "rpc-tcp"), ("vsock loopback", "rpc-vsock")] where median("\(prefix)-rtt-64", "median_ns") != nil {
        let rpc64 = median("\(prefix)-rtt-64", "median_ns")
        lines.append(
            "| RPC binder round trip, 64 B, \(transport) | \(microseconds(rpc64)) | \(microseconds(median("\(prefix)-rtt-64", "p99_ns"))) "
                + "| \(microseconds(c64)) | \(ratio(rpc64, c64)) | \(ratio(rpc64, own64)) of SwiftBinder's kernel 64 B call |")
        let rpcAdd = median("\(prefix)-add", "median_ns")
        lines.append(
            "| RPC binder add(int, int), \(transport) | \(microseconds(rpcAdd)) | \(microseconds(median("\(prefix)-add", "p99_ns"))) "
                + "| \(microseconds(c64)) (64 B) | \(ratio(rpcAdd, c64)) | \(ratio(rpcAdd, median("add", "median_ns"))) of kernel add() |")
    }
    let check = median("servicemanager-check", "median_ns")
    lines.append("| servicemanager checkService | \(microseconds(check)) | \(microseconds(median("servicemanager-check", "p99_ns"))) | \(microseconds(c64)) (64 B) | \(ratio(check, c64)) | \(ratio(check, own64)) of SwiftBinder's 64 B call |")
    let oneway = median("oneway", "median_ns")
    let cOneway = median("c-oneway", "median_ns")
    lines.append("| oneway, per call until drained | \(microseconds(oneway)) | | \(microseconds(cOneway)) | \(ratio(oneway, cOneway)) | \(Int(median("oneway", "calls_per_second") ?? 0)) calls/s (C: \(Int(median("c-oneway", "calls_per_second") ?? 0))) |")
    return lines.joined(separator: "\n")
}
