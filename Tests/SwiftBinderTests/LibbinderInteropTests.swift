import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The libbinder peer named by SWIFTBINDER_LIBBINDER_PEER, if it is there.
private let libbinderPeer: String? = getenv("SWIFTBINDER_LIBBINDER_PEER").map { String(cString: $0) }
    .flatMap { access($0, X_OK) == 0 ? $0 : nil }

/// RPC binder against AOSP's own libbinder, both ways: `rpc-peer` (Tests/LibbinderPeer) is
/// libbinder's RPC part, unmodified, at android-14.0.0_r15 (protocol version 1) or
/// android-16.0.0_r4 (version 2, binders listed in the object table), with a root object and a
/// client of ours. Its root object answers code 1 with the int32 sent plus one, echoes the String16 of
/// code 2, calls the binder of code 3 with code 1 and 41 and replies with its answer, and writes
/// "hello" to the descriptor of code 4, replying 5. scripts/build-libbinder-peer builds it (it
/// needs AOSP's sources, so CI, without network, skips these tests).
@Suite(.enabled(
    if: libbinderPeer != nil, "SWIFTBINDER_LIBBINDER_PEER does not name a built rpc-peer (scripts/build-libbinder-peer 14|16 builds one)"))
struct LibbinderInteropTests {
    /// Code 1's callee: the int32 sent plus one.
    final class Increment: BinderObject, @unchecked Sendable {
        override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
            guard code == 1 else { throw StatusCode.unknownTransaction }
            reply.writeInt32(try data.readInt32() + 1)
        }
    }

    /// The same root object as rpc-peer's, in Swift.
    final class Root: BinderObject, @unchecked Sendable {
        override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
            switch code {
            case 1:
                reply.writeInt32(try data.readInt32() + 1)
            case 2:
                reply.writeString16(try data.readString16())
            case 3:
                guard let callback = try data.readNullableStrongBinder() else { throw StatusCode.unexpectedNull }
                var request = callback.prepareTransaction()
                request.writeInt32(41)
                var answer = try callback.transact(code: 1, data: request, flags: [])
                reply.writeInt32(try answer.readInt32())
            case 4:
                let written = try data.readFileDescriptor().writeAll(Array("hello".utf8))
                reply.writeInt32(Int32(written))
            default:
                throw StatusCode.unknownTransaction
            }
        }
    }

    @Test func aSwiftClientCallsLibbindersServer() throws {
        let path = "/tmp/swiftbinder-libbinder-server-\(getpid()).sock"
        let server = try ChildProcess(libbinderPeer!, ["serve", "unix:\(path)"])
        defer {
            kill(server.pid, SIGTERM)
            _ = try? server.waitForExit()
        }
        // "ready N": N is the peer's RPC_WIRE_PROTOCOL_VERSION (libs/binder/include/binder/RpcSession.h).
        let ready = try #require(try server.readLine()?.split(separator: " "))
        let peerVersion = try #require(ready.count == 2 && ready[0] == "ready" ? UInt32(ready[1]) : nil)
        let session = try RpcSession.connect(to: "unix:\(path)", fileDescriptors: true)
        defer { session.shutdown() }
        // Offered ours, libbinder answers with the lower of the two.
        #expect(session.protocolVersion == min(peerVersion, RpcProtocolVersion.current))
        let root = try #require(try session.rootObject())

        var increment = root.prepareTransaction()
        increment.writeInt32(7)
        var reply = try root.transact(code: 1, data: increment, flags: [])
        #expect(try reply.readInt32() == 8)

        var echo = root.prepareTransaction()
        echo.writeString16("h\u{E9}llo \u{10437}")
        reply = try root.transact(code: 2, data: echo, flags: [])
        #expect(try reply.readString16() == "h\u{E9}llo \u{10437}")

        // libbinder calls our object back, nested in our call, on the same connection.
        var callback = root.prepareTransaction()
        callback.writeStrongBinder(Increment())
        reply = try root.transact(code: 3, data: callback, flags: [])
        #expect(try reply.readInt32() == 42)

        let pipe = try FileDescriptor.pipe()
        defer { try? pipe.readEnd.close() }
        var descriptor = root.prepareTransaction()
        descriptor.writeFileDescriptor(pipe.writeEnd, takeOwnership: true)
        reply = try root.transact(code: 4, data: descriptor, flags: [])
        _ = consume descriptor  // closes this process's write end
        #expect(try reply.readInt32() == 5)
        var bytes = [UInt8](repeating: 0, count: 5)
        #expect(try bytes.withUnsafeMutableBytes { try pipe.readEnd.read(into: $0) } == 5)
        #expect(bytes == Array("hello".utf8))
    }

    @Test func libbindersClientCallsASwiftServer() throws {
        let path = "/tmp/swiftbinder-libbinder-client-\(getpid()).sock"
        let server = try RpcServer(root: Root(), address: "unix:\(path)", maxThreads: 4)
        server.start()
        defer { server.shutdown() }
        let client = try ChildProcess(libbinderPeer!, ["call-all", "unix:\(path)"])
        let output = try client.readAll()
        #expect(try client.waitForExit() == 0)
        let lines = output.split(separator: "\n")
        #expect(lines.filter { !$0.hasPrefix("version: ") } == ["code1: 8", "code2: hi", "code3: 42", "code4: 5 pipe=\"hello\"", "ok"])
        // "version: N of M": negotiated N, libbinder's own M; ours answers the lower.
        let version = try #require(lines.first { $0.hasPrefix("version: ") }?.split(separator: " "))
        let (negotiated, own) = (UInt32(version[1]), UInt32(version[3]))
        #expect(negotiated != nil && own != nil && negotiated == min(own!, RpcProtocolVersion.current), "\(version)")
    }
}
