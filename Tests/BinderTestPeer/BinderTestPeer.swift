import BinderTestSupport
import SwiftBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A second process for the in-VM tests: `binder-test-peer SCENARIO DEVICE`.
///
/// - `every-type DEVICE`: becomes the context manager (accepting fds), reads one request
///   holding an interface token, an `EveryType`, a binder and a `ParcelFileDescriptor`, and
///   replies with Status OK, the same `EveryType` written back, the same binder, the same file
///   descriptor, and the first bytes it read from that file. A request it cannot read gets a
///   `TF_STATUS_CODE` reply naming the error.
@main
struct BinderTestPeer {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count == 3, arguments[1] == "every-type" else {
            fail("usage: binder-test-peer every-type DEVICE")
        }
        do throws(BinderError) {
            let device = try BinderDevice(path: FilePath(arguments[2]))
            try device.becomeContextManager(nodeFlags: BinderObjectFlags.acceptsFileDescriptors)
            print("ready")
            fflush(nil)
            try device.serveRawParcels(limit: 1) { request, reply, _ in
                do throws(ParcelError) {
                    try request.enforceInterface(everyTypeDescriptor)
                    let value = try EveryType(from: &request)
                    let binder = try request.readBinder()
                    let file = try request.readParcelFileDescriptor()
                    try request.requireFullyRead()

                    var head = [UInt8](repeating: 0, count: 64)
                    let count = head.withUnsafeMutableBytes { buffer in
                        (try? file.fileDescriptor.read(fromAbsoluteOffset: 0, into: buffer)) ?? 0
                    }
                    reply.writeStatus(.ok)
                    try value.write(to: &reply)
                    reply.writeBinder(binder.reference, stability: binder.stability)
                    reply.writeParcelFileDescriptor(transferring: file)  // kept open until the reply is sent
                    reply.writeByteArray(Array(head[..<count]))
                    return []
                } catch {
                    print("peer: cannot read the request: \(error)")
                    reply.writeInt32(StatusCode(error).rawValue)
                    return [.statusCode]
                }
            }
        } catch {
            fail("binder-test-peer: \(error)")
        }
    }

    static func fail(_ message: String) -> Never {
        print(message)
        exit(2)
    }
}
