import BinderTestSupport
import SwiftBinder
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A parcel holding every type, a binder object and a file descriptor, sent through the real
/// driver to another process that reads it with the Parcel API and writes it all back.
@Suite(.requiresBinder) struct ParcelExchangeTests {
    @Test func everyTypeCrossesTwoProcessesAndComesBack() throws {
        let device = try TestDevice("every")
        let peer = try ChildProcess(ChildProcess.builtProduct("binder-test-peer"), ["every-type", device.path.string])
        try #require(try peer.readLine() == "ready")

        // A file the peer reads through the descriptor it receives.
        var template = Array("/tmp/swiftbinder-parcel-XXXXXX".utf8CString)
        let fd = FileDescriptor(rawValue: mkstemp(&template))
        try #require(fd.rawValue >= 0)
        unlink(template)
        let content = Array("file contents travel as a descriptor".utf8)
        _ = try fd.writeAll(content)
        let file = ParcelFileDescriptor(fd)

        let client = try BinderProcess(path: device.path)
        let object = BinderObject()
        let node = NodeIdentity(pointer: object.nodeID, cookie: object.nodeCookie)
        var request = Parcel(wireFormat: client.wireFormat)
        request.writeInterfaceToken(everyTypeDescriptor)
        try EveryType().write(to: &request)
        request.writeStrongBinder(object)
        request.writeParcelFileDescriptor(file)

        var parcel = try client.transact(handle: 0, code: 1, data: request)
        let isReceived = parcel.isReceived
        #expect(isReceived)
        #expect(try parcel.readStatus() == .ok)
        #expect(try EveryType(from: &parcel) == EveryType())
        // Our own object came back: the kernel translated the peer's handle to our ptr/cookie.
        let binder = try parcel.readBinder()
        #expect(binder.reference == .local(node))
        #expect(binder.stability == .system)
        // The descriptor came back as a new descriptor for the same file.
        let returned = try parcel.readParcelFileDescriptor()
        #expect(returned.fileDescriptor != fd)
        var head = [UInt8](repeating: 0, count: content.count)
        _ = try head.withUnsafeMutableBytes { try returned.fileDescriptor.read(fromAbsoluteOffset: 0, into: $0) }
        #expect(head == content)
        // And what the peer read through it.
        #expect(try parcel.readByteArray() == content)
        try parcel.requireFullyRead()
        withExtendedLifetime(object) {}
        #expect(try peer.waitForExit() == 0)
    }

    @Test func aRequestThePeerCannotReadGetsAStatusCode() throws {
        let device = try TestDevice("badparcel")
        let peer = try ChildProcess(ChildProcess.builtProduct("binder-test-peer"), ["every-type", device.path.string])
        try #require(try peer.readLine() == "ready")
        let client = try BinderProcess(path: device.path)
        var request = Parcel(wireFormat: client.wireFormat)
        request.writeInterfaceToken("org.swiftbinder.test.ISomethingElse")
        // The peer answers with a bare status (TF_STATUS_CODE).
        let error = #expect(throws: BinderError.self) { try client.transact(handle: 0, code: 1, data: request) }
        #expect(error == .remoteStatus(.badType))
        #expect(try peer.readLine()?.hasPrefix("peer: cannot read the request: interface descriptor mismatch") == true)
        #expect(try peer.waitForExit() == 0)
    }
}
