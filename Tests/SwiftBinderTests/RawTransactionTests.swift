import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Two real processes: `binder raw serve` becomes the context manager, this test process calls it
/// through the runtime's handle-level ``BinderProcess/transact(handle:code:data:flags:)``.
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

    /// Sends `bytes` as a parcel's data to handle 0 and returns the reply's data.
    func call(_ client: BinderProcess, code: UInt32, _ bytes: [UInt8], flags: TransactionFlags = []) throws -> [UInt8] {
        var request = Parcel(wireFormat: client.wireFormat)
        request.writeBytes(bytes)
        let reply = try client.transact(handle: 0, code: code, data: request, flags: flags)
        return reply.withUnsafeDataBytes { Array($0) }
    }

    @Test func payloadRoundTripsIntactBetweenTwoProcesses() throws {
        let device = try TestDevice("echo")
        let server = try startServer(on: device, count: 2)
        let client = try BinderProcess(path: device.path)

        var generator = SystemRandomNumberGenerator()
        let payload = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(try call(client, code: 1, payload) == payload)
        #expect(try call(client, code: 7, []) == [])
        #expect(try server.waitForExit() == 0)
    }

    @Test func theKernelStampsTheCallersIdentity() throws {
        let device = try TestDevice("whoami")
        let server = try startServer(on: device, count: 1)
        let client = try BinderProcess(path: device.path)

        let bytes = try call(client, code: 2, Array("hi".utf8))
        try #require(bytes.count == 12, "unexpected reply \(bytes)")
        let pid = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: Int32.self) }
        let euid = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }
        #expect(pid == getpid())
        #expect(euid == geteuid())
        #expect(Array(bytes[8...]) == Array("hi".utf8) + [0, 0])  // parcels pad to 4
        #expect(try server.waitForExit() == 0)
    }

    @Test func onewayTransactionsAreDeliveredWithoutAReply() throws {
        let device = try TestDevice("oneway")
        let server = try startServer(on: device, count: 2)
        let client = try BinderProcess(path: device.path)

        #expect(try call(client, code: 1, [1, 0, 0, 0], flags: [.oneWay]) == [])
        // The server counts the oneway, then answers this one and exits: both were delivered.
        #expect(try call(client, code: 1, [2, 0, 0, 0]) == [2, 0, 0, 0])
        #expect(try server.waitForExit() == 0)
    }

    @Test func aDeadServerIsReportedAsADeadTarget() throws {
        let device = try TestDevice("dead")
        let server = try startServer(on: device, count: 1)
        kill(server.pid, SIGKILL)
        #expect(try server.waitForExit() == 128 + SIGKILL)
        let client = try BinderProcess(path: device.path)
        let error = #expect(throws: BinderError.self) { try call(client, code: 1, [0]) }
        #expect(error?.transactionFailure == .deadTarget)
    }
}
