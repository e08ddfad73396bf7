import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Two real processes: `binder raw serve` becomes the context manager, this test process calls it.
@Suite(.requiresBinder) struct RawTransactionTests {
    /// Starts `binder raw serve` on `device` and waits until it holds handle 0.
    func startServer(on device: TestDevice, count: Int) throws -> ChildProcess {
        let server = try ChildProcess(
            ChildProcess.builtProduct("binder"),
            ["raw", "serve", "--device", device.path.string, "--count", String(count)])
        let ready = try server.readLine()
        try #require(ready?.hasPrefix("ready") == true, "server said: \(ready ?? "nothing")")
        return server
    }

    @Test func payloadRoundTripsIntactBetweenTwoProcesses() throws {
        let device = try TestDevice("echo")
        let server = try startServer(on: device, count: 2)
        let client = try BinderDevice(path: device.path)

        var generator = SystemRandomNumberGenerator()
        let payload = (0..<4093).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(try client.transactRaw(handle: 0, code: 1, data: payload) == .data(payload))
        #expect(try client.transactRaw(handle: 0, code: 7, data: []) == .data([]))
        #expect(try server.waitForExit() == 0)
    }

    @Test func theKernelStampsTheCallersIdentity() throws {
        let device = try TestDevice("whoami")
        let server = try startServer(on: device, count: 1)
        let client = try BinderDevice(path: device.path)

        let reply = try client.transactRaw(handle: 0, code: 2, data: Array("hi".utf8))
        guard case .data(let bytes) = reply, bytes.count == 10 else {
            Issue.record("unexpected reply \(String(describing: reply))")
            return
        }
        let pid = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: Int32.self) }
        let euid = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }
        #expect(pid == getpid())
        #expect(euid == geteuid())
        #expect(Array(bytes[8...]) == Array("hi".utf8))
        #expect(try server.waitForExit() == 0)
    }

    @Test func onewayTransactionsAreDeliveredWithoutAReply() throws {
        let device = try TestDevice("oneway")
        let server = try startServer(on: device, count: 2)
        let client = try BinderDevice(path: device.path)

        #expect(try client.transactRaw(handle: 0, code: 1, data: [1], flags: [.oneWay]) == nil)
        // The server counts the oneway, then answers this one and exits: both were delivered.
        #expect(try client.transactRaw(handle: 0, code: 1, data: [2]) == .data([2]))
        #expect(try server.waitForExit() == 0)
    }

    @Test func aDeadServerIsReportedAsADeadTarget() throws {
        let device = try TestDevice("dead")
        let server = try startServer(on: device, count: 1)
        kill(server.pid, SIGKILL)
        #expect(try server.waitForExit() == 128 + SIGKILL)
        let client = try BinderDevice(path: device.path)
        let error = #expect(throws: BinderError.self) { try client.transactRaw(handle: 0, code: 1, data: [0]) }
        #expect(error == .transactionFailed(.deadTarget))
    }
}
