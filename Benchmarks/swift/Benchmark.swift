import Synchronization
import SwiftBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

// swiftbinder-bench: the SwiftBinder side of scripts/bench (run inside the VM).
//
//   swiftbinder-bench server DEVICE [--register NAME]   serve org.swiftbinder.bench.IBenchmark (and raw code 100) as
//                                                       context manager, or registered with
//                                                       servicemanager under NAME
//   swiftbinder-bench client DEVICE ITERATIONS          every client case; one JSON line each
//   swiftbinder-bench servicemanager DEVICE NAME ITERATIONS   checkService latency
//   swiftbinder-bench profile-client DEVICE ITERATIONS [add|binder|fd]
//                                                       the calls of one case in profiledCalls
//                                                       (for callgrind)
//   swiftbinder-bench stop DEVICE                       tell the server to exit (so a profiler
//                                                       writes its data)
//   swiftbinder-bench stats CASE                        nanoseconds on stdin → one JSON line
//   swiftbinder-bench report FILE...                    JSON lines → Markdown table

let rawCode: UInt32 = 100
let stopCode: UInt32 = 101
let profileStartCode: UInt32 = 102

/// Called when the profiled client starts its measured calls: `scripts/bench --profile` zeroes
/// the server's counts on entering it.
@inline(never)
func profileStart() {
    print("profile start")
}

/// Called when the client asks the server to stop: `scripts/bench --profile` writes the server's
/// counts on entering it (so they cover the measured calls, not the exit).
@inline(never)
func profileStop() -> Never {
    print("profile stop")
    exit(0)
}

/// The benchmark service: org.swiftbinder.bench.IBenchmark, plus raw code 100 (payload in, 4-byte reply) to measure
/// the runtime without generated code, as the C baseline does.
final class BenchmarkService: org.swiftbinder.bench.IBenchmark.Service, @unchecked Sendable {
    let pushedCount = Atomic<Int32>(0)
    func add(a: Int32, b: Int32) throws -> Int32 { a &+ b }
    func push(value: Int32) throws { pushedCount.add(1, ordering: .relaxed) }
    func pushed() throws -> Int32 { pushedCount.load(ordering: .relaxed) }
    func echoBinder(binder: any IBinder) throws -> any IBinder { binder }
    func echoFd(fd: SharedFileDescriptor) throws -> SharedFileDescriptor { fd }
    func allocations() throws -> Int64 { Int64(allocationCount() ?? 0) }
}

final class BenchmarkObject: BinderObject, @unchecked Sendable {
    let stub: org.swiftbinder.bench.IBenchmark.Stub
    init(_ service: BenchmarkService) { stub = org.swiftbinder.bench.IBenchmark.Stub(service) }
    override var interfaceDescriptor: String { org.swiftbinder.bench.IBenchmark.descriptor }
    override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
        if code == rawCode {
            reply.writeInt32(0)
            return
        }
        if code == stopCode { profileStop() }
        if code == profileStartCode {
            profileStart()
            reply.writeInt32(0)
            return
        }
        try stub.onTransact(code: code, data: &data, reply: &reply, flags: flags)
    }
}

/// The allocation counter of malloc_count.so, when it is preloaded.
func allocationCount() -> UInt64? {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "swiftbinder_allocation_count") else { return nil }
    typealias Counter = @convention(c) () -> UInt64
    return unsafeBitCast(symbol, to: Counter.self)()
}

func nanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Median, p99, min and max of a sample, as a JSON line.
func report(_ name: String, _ samples: [UInt64], extra: [String: String] = [:]) {
    let sorted = samples.sorted()
    guard !sorted.isEmpty else { return }
    let median = sorted[sorted.count / 2]
    let p99 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
    var fields = [
        "\"case\": \"\(name)\"", "\"n\": \(sorted.count)", "\"median_ns\": \(median)", "\"p99_ns\": \(p99)",
        "\"min_ns\": \(sorted.first!)", "\"max_ns\": \(sorted.last!)",
    ]
    for (key, value) in extra.sorted(by: { $0.key < $1.key }) { fields.append("\"\(key)\": \(value)") }
    print("{" + fields.joined(separator: ", ") + "}")
    fflush(nil)
}

/// Times `body` `iterations` times after `iterations / 10` warm-up calls.
func measure(_ iterations: Int, _ body: () throws -> Void) rethrows -> [UInt64] {
    for _ in 0..<max(iterations / 10, 10) { try body() }
    var samples: [UInt64] = []
    samples.reserveCapacity(iterations)
    for _ in 0..<iterations {
        let start = nanoseconds()
        try body()
        samples.append(nanoseconds() - start)
    }
    return samples
}

func runClient(device: String, iterations: Int) throws {
    let process = try BinderProcess(path: FilePath(device))
    let binder = try process.contextObject
    let service = org.swiftbinder.bench.IBenchmark.Proxy(binder)

    // Sync round trips with a payload, through the runtime. The request is built once and sent
    // each time, as the C client sends one buffer: what is timed is the runtime's work and the
    // kernel's one copy, not the benchmark filling a payload.
    for size in [0, 64, 1024, 4096, 16384, 65536] {
        let payload = [UInt8](repeating: 0xA5, count: size)
        var request = binder.prepareTransaction()
        payload.withUnsafeBytes { request.writeBytes($0) }
        let samples = try measure(iterations) {
            _ = try binder.transact(code: rawCode, data: request, flags: [])
        }
        report("rtt-\(size)", samples)
    }

    // add(int, int) through the generated proxy, with allocations per call on both sides. The
    // first generated call, before the window, makes the interface's descriptor once.
    _ = try service.add(a: 0, b: 0)
    let clientBefore = allocationCount()
    let serverBefore = try service.allocations()
    let addSamples = try measure(iterations) { _ = try service.add(a: 2, b: 3) }
    let clientAfter = allocationCount()
    let serverAfter = try service.allocations()
    let calls = Double(iterations + max(iterations / 10, 10))
    var extra: [String: String] = [:]
    if let clientBefore, let clientAfter {
        extra["client_allocations_per_call"] = String(Double(clientAfter - clientBefore) / calls)
    }
    if serverAfter > 0 {
        // minus the one allocations() call in the window
        extra["server_allocations_per_call"] = String(Double(serverAfter - serverBefore) / calls)
    }
    report("add", addSamples, extra: extra)

    // Oneway throughput: until the server has handled them all.
    let onewayCount = iterations * 4
    let base = try service.pushed()
    let onewayStart = nanoseconds()
    for value in 0..<onewayCount { try service.push(value: Int32(value)) }
    while try service.pushed() - base < Int32(onewayCount) {}
    let onewayElapsed = nanoseconds() - onewayStart
    report("oneway", [onewayElapsed / UInt64(onewayCount)],
        extra: ["calls_per_second": String(Int(Double(onewayCount) / (Double(onewayElapsed) / 1e9)))])

    // Passing a binder object and a file descriptor.
    let token = BinderObject()
    report("binder", try measure(iterations / 2) { _ = try service.echoBinder(binder: token) })
    let pipe = try FileDescriptor.pipe()
    let shared = SharedFileDescriptor(pipe.readEnd)
    report("fd", try measure(iterations / 2) { _ = try service.echoFd(fd: shared) })
    try pipe.writeEnd.close()
    try runRPCClient(device: device, iterations: iterations)
    process.shutdown()
}

/// add() throughput with 1, 2 and 4 client threads against the pooled server.
func runThreads(device: String, iterations: Int) throws {
    let process = try BinderProcess(path: FilePath(device))
    let service = org.swiftbinder.bench.IBenchmark.Proxy(try process.contextObject)
    for _ in 0..<100 { _ = try service.add(a: 1, b: 1) }
    for threads in [1, 2, 4] {
        let perThread = iterations
        let start = nanoseconds()
        let failures = Atomic<Int>(0)
        onThreads(threads) { _ in
            for _ in 0..<perThread {
                do { _ = try service.add(a: 1, b: 1) } catch { failures.add(1, ordering: .relaxed) }
            }
        }
        let elapsed = nanoseconds() - start
        let callsPerSecond = Double(threads * perThread) / (Double(elapsed) / 1e9)
        report("threads-\(threads)", [elapsed / UInt64(threads * perThread)],
            extra: ["calls_per_second": String(Int(callsPerSecond)), "failures": String(failures.load(ordering: .relaxed))])
    }
    process.shutdown()
}

/// The local object the binder case passes (the same one every call, as a client passing its
/// callback would).
let profiledToken = BinderObject()

/// What a profiled client calls: `add(2, 3)`, or `echoBinder` / `echoFd` with one of its own
/// objects (a binder node or a pipe's end).
enum ProfiledCase: String {
    case add, binder, fd
}

/// The profiled calls and nothing else: `scripts/bench --profile` collects instructions only
/// inside it.
@inline(never)
func profiledCalls(_ service: org.swiftbinder.bench.IBenchmark.Proxy, _ iterations: Int, _ kind: ProfiledCase, _ fd: SharedFileDescriptor) throws {
    try calls(service, iterations, kind, fd)
}

/// `iterations` calls of `kind`.
func calls(_ service: org.swiftbinder.bench.IBenchmark.Proxy, _ iterations: Int, _ kind: ProfiledCase, _ fd: SharedFileDescriptor) throws {
    switch kind {
    case .add:
        for _ in 0..<iterations { _ = try service.add(a: 2, b: 3) }
    case .binder:
        for _ in 0..<iterations { _ = try service.echoBinder(binder: profiledToken) }
    case .fd:
        for _ in 0..<iterations { _ = try service.echoFd(fd: fd) }
    }
}

func runProfileClient(device: String, iterations: Int, kind: ProfiledCase) throws {
    let process = try BinderProcess(path: FilePath(device))
    let binder = try process.contextObject
    let service = org.swiftbinder.bench.IBenchmark.Proxy(binder)
    let pipe = try FileDescriptor.pipe()
    let fd = SharedFileDescriptor(pipe.readEnd)
    // Warm-up, outside the profiled function: the same calls (the first echo registers the
    // object, the caches fill, the one-time initializers run).
    try calls(service, 10, kind, fd)
    _ = try binder.transact(code: profileStartCode, data: Parcel(), flags: [])
    try profiledCalls(service, iterations, kind, fd)
    try pipe.writeEnd.close()
    process.shutdown()
}

func stopServer(device: String) throws {
    let process = try BinderProcess(path: FilePath(device))
    _ = try process.contextObject.transact(code: stopCode, data: Parcel(), flags: .oneWay)
    process.shutdown()
}

func runServiceManagerClient(device: String, name: String, iterations: Int) throws {
    let process = try BinderProcess(path: FilePath(device))
    let manager = try ServiceManager(process: process)
    guard try manager.waitForService(name, timeout: .seconds(10)) != nil else { throw BinderError.unsupported("no \(name)") }
    report("servicemanager-check", try measure(iterations) { _ = try manager.checkService(name) })
    process.shutdown()
}

func runServer(device: String, register name: String?) throws {
    let process = try BinderProcess(path: FilePath(device), maxThreads: 4)
    let object = BenchmarkObject(BenchmarkService())
    if let name {
        try ServiceManager(process: process).addService(name, object)
    } else {
        try process.becomeContextManager(object)
    }
    process.startThreadPool()
    // The same object over RPC binder, on a unix socket beside the device (the client compares).
    let rpc = try RpcServer(root: object, address: "unix:\(rpcSocketPath(device))", maxThreads: 4)
    rpc.start()
    // And over loopback TCP where the kernel has IPv4 (a port the system picks), and vsock's
    // loopback transport where the kernel has it (CID 1); the addresses go in a file.
    var others: [(server: RpcServer, address: String)] = []
    if let tcp = try? RpcServer(root: object, address: "inet:127.0.0.1:0", maxThreads: 4), let port = tcp.port {
        others.append((tcp, "inet:127.0.0.1:\(port)"))
    }
    let vsockAddress = "vsock:1:\(0x10000 + UInt32(getpid()))"
    if let vsock = try? RpcServer(root: object, address: vsockAddress, maxThreads: 4) {
        others.append((vsock, vsockAddress))
    }
    for other in others { other.server.start() }
    let file = try FileDescriptor.open(
        FilePath(rpcAddressesPath(device)), .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
    _ = try file.closeAfter { try file.writeAll(Array(others.map { "\($0.address)\n" }.joined().utf8)) }
    print("ready")
    fflush(nil)
    process.joinThreadPool()
    rpc.shutdown()
    for other in others { other.server.shutdown() }
}

/// Where the benchmark server serves over RPC binder: a unix socket, and the file that lists
/// its other addresses (loopback TCP, vsock).
func rpcSocketPath(_ device: String) -> String {
    "/tmp/swiftbinder-bench-rpc-\(device.split(separator: "/").last ?? "device").sock"
}

func rpcAddressesPath(_ device: String) -> String {
    "/tmp/swiftbinder-bench-rpc-\(device.split(separator: "/").last ?? "device").addresses"
}

/// The 64-byte round trip and add() over RPC binder (a unix socket), in the same boot as the
/// kernel cases: RPC's cost beside the driver's one copy.
func runRPCClient(device: String, iterations: Int) throws {
    try runRPCClient(address: "unix:\(rpcSocketPath(device))", names: ("rpc-rtt-64", "rpc-add"), iterations: iterations)
    for address in readAddresses(rpcAddressesPath(device)) {
        let prefix = address.hasPrefix("inet:") ? "rpc-tcp" : "rpc-vsock"
        try runRPCClient(address: address, names: ("\(prefix)-rtt-64", "\(prefix)-add"), iterations: iterations)
    }
}

func runRPCClient(address: String, names: (roundTrip: String, add: String), iterations: Int) throws {
    let session = try RpcSession.connect(to: address)
    defer { session.shutdown() }
    guard let root = try session.rootObject() else { throw BinderError.unsupported("no RPC root object") }
    let service = org.swiftbinder.bench.IBenchmark.Proxy(root)
    let payload = [UInt8](repeating: 0xA5, count: 64)
    for _ in 0..<100 { _ = try service.add(a: 1, b: 2) }
    report(names.roundTrip, try measure(iterations) {
        var request = root.prepareTransaction()
        request.writeBytes(payload)
        _ = try root.transact(code: rawCode, data: request, flags: [])
    })
    report(names.add, try measure(iterations) { _ = try service.add(a: 2, b: 3) })
}

/// The other RPC addresses the server wrote, one per line.
func readAddresses(_ path: String) -> [String] {
    guard let fd = try? FileDescriptor.open(FilePath(path), .readOnly) else { return [] }
    defer { try? fd.close() }
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = (try? buffer.withUnsafeMutableBytes { try fd.read(into: $0) }) ?? 0
    return String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n").map(String.init)
}

func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Start {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
    var threads: [pthread_t] = []
    for index in 0..<count {
        var thread = pthread_t()
        let start = Unmanaged.passRetained(Start { body(index) })
        pthread_create(&thread, nil, { Unmanaged<Start>.fromOpaque($0!).takeRetainedValue().run(); return nil }, start.toOpaque())
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}
