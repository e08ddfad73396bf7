import AIDLCompiler
import Logging
import Synchronization
import ScriptedBinderDriver
import SwiftBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The fuzz targets: each takes one input and must never crash, trap or leave a parcel in an
/// inconsistent state, whatever the bytes.
enum FuzzTarget: String, CaseIterable {
    /// The Parcel reader over a received buffer: a script of reads chosen by the input.
    case parcel
    /// The whole transaction engine driven by a driver whose returns are the input.
    case engine
    /// The AIDL lexer and parser on arbitrary text.
    case aidl
    /// servicemanager's request handling: any code and parcel, from callers of several uids.
    case servicemanager
    /// An RPC binder server reading a connection whose bytes are the input.
    case rpc

    var summary: String {
        switch self {
        case .parcel: return "Parcel reads (every type, objects, status, interface token) on hostile data"
        case .engine: return "the transaction engine (BC/BR state machine) on arbitrary driver returns"
        case .aidl: return "the AIDL lexer and parser"
        case .servicemanager: return "servicemanager's dispatch (both code tables, policy on the caller's uid)"
        case .rpc: return "an RPC binder server's handshake and frame reader on a hostile connection"
        }
    }

    func run(_ input: UnsafeRawBufferPointer) {
        switch self {
        case .parcel: fuzzParcel(input)
        case .engine: fuzzEngine(input)
        case .aidl: fuzzAIDL(input)
        case .servicemanager: fuzzServiceManager(input)
        case .rpc: fuzzRPC(input)
        }
    }
}

/// Frees nothing: the fuzz input is not a kernel buffer.
final class DiscardingOwner: ReceivedBufferOwner, @unchecked Sendable {
    override func releaseReceivedBuffer(at address: UInt64) {}
}

private let owner = DiscardingOwner()

/// Input layout: 1 byte wire format, 1 byte object count N, N bytes of object slots (each ×4
/// is an offset), 16 bytes of read script, then the parcel data.
func fuzzParcel(_ input: UnsafeRawBufferPointer) {
    guard input.count >= 2 else { return }
    let format: WireFormat = [.android13, .android12, .android11, .android10][Int(input[0] & 3)]
    let objectCount = Int(input[1] % 8)
    guard input.count >= 2 + objectCount + 16 else { return }
    let slots = input[2..<(2 + objectCount)]
    let script = Array(input[(2 + objectCount)..<(18 + objectCount)])
    let data = UnsafeRawBufferPointer(rebasing: input[(18 + objectCount)...])

    // Offsets as the input chooses them, ascending or not, but never at a file-descriptor
    // object: a received parcel closes the descriptors it lists, and these are not ours.
    var offsets: [UInt64] = []
    for slot in slots {
        let offset = Int(slot) * 4
        if offset + 4 <= data.count,
            BinderObjectType(rawValue: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) == .fileDescriptor
        {
            continue
        }
        offsets.append(UInt64(offset))
    }

    offsets.withUnsafeBytes { offsetBytes in
        var parcel = Parcel(received: data, objectOffsets: offsetBytes, bufferAddress: 1, owner: owner, wireFormat: format)
        for step in script {
            let before = parcel.readerIndex
            do throws(ParcelError) {
                try readOne(step, from: &parcel)
            } catch {
                // A failed read must not move the reader.
                precondition(parcel.readerIndex == before, "reader moved on \(error)")
            }
            precondition(parcel.readerIndex >= 0 && parcel.readerIndex <= parcel.dataSize)
        }
        _ = try? parcel.requireFullyRead()
    }
}

private func readOne(_ step: UInt8, from parcel: inout Parcel) throws(ParcelError) {
    switch step % 26 {
    case 0: _ = try parcel.readInt32()
    case 1: _ = try parcel.readInt64()
    case 2: _ = try parcel.readBool()
    case 3: _ = try parcel.readDouble()
    case 4: _ = try parcel.readNullableString16()
    case 5: _ = try parcel.readNullableString8()
    case 6: _ = try parcel.readCString()
    case 7: _ = try parcel.readNullableByteArray()
    case 8: _ = try parcel.readNullableIntegerArray(of: Int32.self)
    case 9: _ = try parcel.readNullableIntegerArray(of: Int64.self)
    case 10: _ = try parcel.readNullableIntegerArray(of: UInt16.self)
    case 11: _ = try parcel.readNullableBoolArray()
    case 12: _ = try parcel.readNullableStringArray()
    case 13:
        _ = try parcel.readFixedSizeArray(count: 2) { (parcel: inout Parcel) throws(ParcelError) in
            try parcel.readNullableArray { (parcel: inout Parcel) throws(ParcelError) in try parcel.readNullableString16() }
        }
    case 14: _ = try parcel.readNullableParcelable(FuzzParcelable.self)
    case 15: _ = try parcel.readNullableBinder()
    case 16: _ = try parcel.readObject()
    case 17: _ = try parcel.readStatus()
    case 18: _ = try parcel.enforceInterface("android.os.IServiceManager")
    case 19: _ = try parcel.readUnionTag(memberCount: 3)
    case 20: _ = try parcel.readNullableFloatArray()
    case 21: _ = try parcel.readNullableDoubleArray()
    case 22: _ = try parcel.readFloat()
    case 23: _ = try parcel.readChar()
    case 24:
        _ = try parcel.readNullableArray { (parcel: inout Parcel) throws(ParcelError) in
            try parcel.readNullableParcelable(FuzzParcelable.self)
        }
    default: try parcel.moveReaderIndex(to: Int(step) * 4)
    }
}

/// A structured parcelable with nested values, as generated code reads one.
struct FuzzParcelable: Parcelable {
    var name: String?
    var values: [Int64]?
    var child: [FuzzParcelable]?

    func write(to parcel: inout Parcel) throws(ParcelError) {
        parcel.writeStructured { parcel in
            parcel.writeString16(name)
            parcel.writeIntegerArray(values)
        }
    }

    init(from parcel: inout Parcel) throws(ParcelError) {
        (name, values, child) = try parcel.readStructured { (parcel: inout Parcel, frame) throws(ParcelError) in
            var name: String?
            var values: [Int64]?
            var child: [FuzzParcelable]?
            if frame.hasMoreFields(parcel) { name = try parcel.readNullableString16() }
            if frame.hasMoreFields(parcel) { values = try parcel.readNullableIntegerArray(of: Int64.self) }
            if frame.hasMoreFields(parcel) {
                child = try parcel.readNullableArray { (parcel: inout Parcel) throws(ParcelError) in
                    try parcel.readParcelable(FuzzParcelable.self)
                }
            }
            return (name, values, child)
        }
    }
}

/// Input layout: batches of driver returns, each a 1-byte length (up to 255) and that many
/// bytes, read by the engine one per `BINDER_WRITE_READ`. One call is made to handle 1 (a
/// published local object may be the target of incoming transactions); it must return or throw,
/// whatever the driver says, and every buffer the driver delivered must be freed once. The
/// harness keeps the driver's addresses inside its receive arena (each address in a
/// `BR_TRANSACTION`/`BR_REPLY` is taken modulo the arena), sends transactions with an odd target
/// to the published object, and turns `BR_SPAWN_LOOPER` into `BR_NOOP`, so that every run stays
/// on one thread.
func fuzzEngine(_ input: UnsafeRawBufferPointer) {
    let driver = ScriptedDriver(arenaSize: 1 << 16)
    driver.blockedReadLimit = .zero  // a read with nothing scripted fails at once
    guard let process = try? BinderProcess(driver: driver, release: .init(release: .android16, source: "fuzz")) else {
        return
    }
    let object = FuzzObject(process: process)
    var publish = Parcel()
    publish.writeStrongBinder(object)

    var handedOut: [UInt64: Int] = [:]
    var position = 0
    while position < input.count {
        let length = Int(input[position])
        position += 1
        let end = min(position + length, input.count)
        var batch = Array(input[position..<end])
        position = end
        for address in confineToArena(&batch, driver: driver, object: NodeIdentity(pointer: object.nodeID, cookie: object.nodeCookie)) {
            handedOut[address, default: 0] += 1
        }
        driver.enqueue(Returns().raw(batch))
    }
    var request = Parcel(wireFormat: process.wireFormat)
    request.writeInt32(1)
    do {
        var reply = try process.transact(handle: 1, code: 1, data: request)
        _ = try? reply.readInt32()
    } catch {
        _ = error.description
    }
    _ = consume publish
    // Every buffer handed back is one the driver handed out, and no more often.
    var freed: [UInt64: Int] = [:]
    for command in driver.commands where command.command == .freeBuffer { freed[command.value, default: 0] += 1 }
    for (address, count) in freed {
        precondition(count <= handedOut[address, default: 0], "buffer 0x\(String(address, radix: 16)) freed \(count) times")
    }
}

/// Rewrites a batch's transaction addresses into the arena, and spawn requests into no-ops.
/// An odd target in a `BR_TRANSACTION` becomes the published object (its cookie is random).
/// Returns the data addresses of the transactions and replies in the batch.
private func confineToArena(_ batch: inout [UInt8], driver: ScriptedDriver, object: NodeIdentity) -> [UInt64] {
    let base = UInt64(UInt(bitPattern: driver.mapping.baseAddress))
    let size = UInt64(driver.mapping.count)
    var offset = 0
    var addresses: [UInt64] = []
    batch.withUnsafeMutableBytes { bytes in
        while offset + 4 <= bytes.count {
            let code = DriverReturnCode(rawValue: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let payload = Int((code.rawValue >> 16) & 0x3FFF)
            if code == .spawnLooper {
                bytes.storeBytes(of: DriverReturnCode.noop.rawValue, toByteOffset: offset, as: UInt32.self)
            }
            if code == .transaction || code == .reply || code == .transactionWithSecurityContext,
                offset + 4 + TransactionData.size <= bytes.count
            {
                if code != .reply, bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt64.self) & 1 == 1 {
                    bytes.storeBytes(of: object.pointer, toByteOffset: offset + 4, as: UInt64.self)
                    bytes.storeBytes(of: object.cookie, toByteOffset: offset + 12, as: UInt64.self)
                }
                for field in [48, 56] {
                    let at = offset + 4 + field
                    let address = base + bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self) % size
                    bytes.storeBytes(of: address, toByteOffset: at, as: UInt64.self)
                    if field == 48 { addresses.append(address) }
                }
            }
            offset += 4 + payload
        }
    }
    return addresses
}

/// The object incoming fuzz transactions reach: it reads what it is given and calls out once.
final class FuzzObject: BinderObject, @unchecked Sendable {
    let process: BinderProcess
    init(process: BinderProcess) { self.process = process }

    override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
        let value = try data.readInt32()
        _ = try? data.readStrongBinder()
        if value == 1 {
            // A nested call out, with whatever the driver says next.
            var request = Parcel(wireFormat: process.wireFormat)
            request.writeInt32(0)
            _ = try? process.transact(handle: 2, code: 1, data: request)
        }
        reply.writeInt32(value)
    }
}

/// Any text: the parser returns a document or an error with a place, never crashes.
func fuzzAIDL(_ input: UnsafeRawBufferPointer) {
    let text = String(decoding: input, as: UTF8.self)
    do {
        var parser = try Parser(text: text, file: "fuzz.aidl")
        _ = try parser.parseDocument()
    } catch {
        precondition(error.location.line >= 1 || text.isEmpty)
    }
}

// MARK: - servicemanager

/// The caller the registry sees for the input being run.
private let fuzzCaller = Mutex(CallerIdentity(pid: 1, euid: 0, securityContext: nil, flags: []))

/// One registry per release, kept across inputs (state builds up as in a real daemon), with
/// a policy that restricts some names to some uids.
private let registries: [ServiceManagerService] = {
    let policy = try! AccessPolicy(parsing: """
        add     vendor.*   1000
        find    secret.*   0
        replace *          0
        list               0,1000
        declare android.hardware.foo/default
        """)
    var limits = ServiceManagerService.Limits()
    limits.services = 64
    limits.watchedNames = 64
    limits.callbacksPerName = 4
    return AndroidRelease.allCases.map { release in
        ServiceManagerService(
            detachedWithCaller: { fuzzCaller.withLock { $0 } }, release: release, policy: policy, limits: limits,
            logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
    }
}()

/// Input layout: 1 byte release and caller (bits 0–2: the release, in `AndroidRelease.allCases`
/// order; bits 3–4: uid 0, 1000, 1234 or 65534), 1 byte code (below 0xF0: a method code 0–39; else the next 4 bytes are the code),
/// 1 byte object count N, N bytes of object slots (each ×4 is an offset), then the request.
func fuzzServiceManager(_ input: UnsafeRawBufferPointer) {
    guard input.count >= 3 else { return }
    let registry = registries[Int(input[0] & 7) % registries.count]
    let uid: uid_t = [0, 1000, 1234, 65534][Int(input[0] >> 3) & 3]
    var position = 1
    let code: UInt32
    if input[position] < 0xF0 {
        code = UInt32(input[position] % 40)
        position += 1
    } else {
        guard input.count >= position + 5 else { return }
        code = input.loadUnaligned(fromByteOffset: position + 1, as: UInt32.self)
        position += 5
    }
    guard input.count > position else { return }
    let objectCount = Int(input[position] % 4)
    position += 1
    guard input.count >= position + objectCount else { return }
    let slots = input[position..<(position + objectCount)]
    let data = UnsafeRawBufferPointer(rebasing: input[(position + objectCount)...])
    var offsets: [UInt64] = []
    for slot in slots {
        let offset = Int(slot) * 4
        if offset + 4 <= data.count,
            BinderObjectType(rawValue: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) == .fileDescriptor
        {
            continue
        }
        offsets.append(UInt64(offset))
    }
    fuzzCaller.withLock { $0 = CallerIdentity(pid: Int32(uid) + 1, euid: uid, securityContext: nil, flags: []) }
    offsets.withUnsafeBytes { offsetBytes in
        let format = registry.release.wireFormat
        var request = Parcel(received: data, objectOffsets: offsetBytes, bufferAddress: 1, owner: owner, wireFormat: format)
        var reply = Parcel(wireFormat: format)
        // Any outcome but a crash will do: a Status in the reply, or a thrown error.
        try? registry.binder.onTransact(code: code, data: &request, reply: &reply, flags: [])
    }
}

// MARK: - RPC binder

/// The root object of the fuzzed RPC server: reads what a call might carry (a binder address, a
/// string, a number) and answers with them.
final class FuzzRPCRoot: BinderObject, @unchecked Sendable {
    override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
        switch code % 3 {
        case 0: reply.writeStrongBinder(try data.readNullableStrongBinder())
        case 1: reply.writeString16(try data.readNullableString16())
        default: reply.writeInt32(try data.readInt32())
        }
    }
}

private let rpcServer: RpcServer = {
    // Never started: only its connection handling runs, on the fuzzing thread.
    let path = "/tmp/swiftbinder-fuzz-rpc-\(getpid()).sock"
    defer { unlink(path) }
    var quiet = Logger(label: "fuzz.rpc")
    quiet.logLevel = .critical  // every broken connection would be logged
    return try! RpcServer(root: FuzzRPCRoot(), address: "unix:\(path)", logger: quiet)
}()

/// One connection's bytes: written into one end of a socket pair, which is then closed, and
/// served from the other until the server closes it. Every outcome is a closed connection:
/// the server must not crash, hang or allocate without bound.
func fuzzRPC(_ input: UnsafeRawBufferPointer) {
    guard input.count <= 64 * 1024 else { return }
    var ends: [Int32] = [0, 0]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0 else { return }
    if input.count > 0 { _ = send(ends[0], input.baseAddress, input.count, Int32(MSG_NOSIGNAL)) }
    close(ends[0])
    rpcServer.serve(connected: FileDescriptor(rawValue: ends[1]))
}
