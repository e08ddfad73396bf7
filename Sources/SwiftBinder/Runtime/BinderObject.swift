import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A binder object this process implements: the service side (libbinder's `BBinder`).
///
/// Subclass it and override ``onTransact(code:data:reply:flags:)``; the runtime answers the
/// reserved codes (PING, INTERFACE, DUMP, DEBUG_PID, EXTENSION) before calling it. Incoming
/// transactions arrive on the process's looper threads, possibly several at once: a subclass
/// must be thread-safe.
///
/// The kernel knows the object by an opaque 64-bit id and a random cookie, never by its
/// address. Once sent, the object stays alive as long as the kernel holds references to it,
/// even if this process drops its own.
open class BinderObject: IBinder, @unchecked Sendable {
    /// The id the kernel knows this object by (`binder_uintptr_t ptr`), unique in this process.
    public let nodeID: UInt64
    /// A random value the kernel hands back with every transaction, checked on lookup.
    public let nodeCookie: UInt64

    /// An object that may carry another (AIDL extensions), returned for EXTENSION_TRANSACTION.
    public var extensionObject: (any IBinder)? {
        get { extensionStorage.withLock { $0 } }
        set { extensionStorage.withLock { $0 = newValue } }
    }
    private let extensionStorage = Mutex<(any IBinder)?>(nil)

    /// Whether ``LocalObjectRegistry`` has this object (from its first time in a parcel until its
    /// deinit): registering it again on every send was a lock and a dictionary insert per call.
    let isRegistered = Atomic<Bool>(false)

    public init() {
        nodeID = LocalObjectRegistry.shared.nextID()
        nodeCookie = UInt64.random(in: 1...UInt64.max)
    }

    deinit {
        LocalObjectRegistry.shared.remove(nodeID)
    }

    /// The interface this object implements (its AIDL descriptor), answered to
    /// INTERFACE_TRANSACTION.
    open var interfaceDescriptor: String { "" }

    /// Flags the kernel keeps for this node: by default it accepts file descriptors and runs
    /// incoming calls at priority 19 or better, as libbinder's objects do.
    open var nodeFlags: UInt32 { BinderObjectFlags.localDefault }

    /// The stability level this object declares when sent: nil for the level of the process
    /// that sends it (SYSTEM, VENDOR where its wire format says so), as libbinder marks
    /// objects with their compilation unit; `@VintfStability` interfaces declare VINTF.
    open var stability: StabilityLevel? { nil }

    /// Handles a transaction.
    ///
    /// Read the arguments from `data` and write the result to `reply` (not sent for oneway
    /// calls). Throw a ``StatusCode`` to answer with a bare transport status (e.g.
    /// `.unknownTransaction`), a ``ParcelError`` when the request is malformed (answered as
    /// BAD_VALUE and the like), or a ``Status`` to answer with an AIDL exception.
    ///
    /// The default answers UNKNOWN_TRANSACTION.
    open func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
        throw StatusCode.unknownTransaction
    }

    /// Whether the reserved codes (INTERFACE, DUMP, SHELL_COMMAND, SYSPROPS, EXTENSION,
    /// DEBUG_PID) are answered for the object, as libbinder's `BBinder` answers them. Android
    /// 10's C servicemanager answered only PING and its own codes: its stand-in says no.
    open var answersReservedTransactions: Bool { true }

    /// Writes a description of the object's state for DUMP_TRANSACTION (`binder dump`). The
    /// default writes nothing.
    open func dump(to fd: FileDescriptor, arguments: [String]) throws {}

    // MARK: - IBinder

    public var isAlive: Bool { true }

    public func interfaceDescriptorOrNil() throws(BinderError) -> String? { interfaceDescriptor }

    public func ping() throws(BinderError) {}

    /// A request for an in-process call: it never reaches the wire, and the object reads it as
    /// it was written, so the library's default format serves.
    public func prepareTransaction() -> Parcel {
        Parcel(wireFormat: .default)
    }

    /// Calls the object in this process, as a remote caller would, without the driver.
    public func transact(code: UInt32, data: borrowing Parcel, flags: TransactionFlags) throws(BinderError) -> Parcel {
        var request = Parcel(copying: data)
        var reply = Parcel(wireFormat: data.wireFormat)
        let status = dispatch(code: code, data: &request, reply: &reply, flags: flags)
        guard status == .ok else { throw .remoteStatus(status) }
        return reply
    }

    // MARK: - Dispatch

    /// The argument list of DUMP and SHELL_COMMAND as `BBinder::onTransact` reads it
    /// (libs/binder/Binder.cpp at android-13.0.0_r1 and android-16.0.0_r1): int32 argc, then
    /// String16s while fewer than argc were read and data remains. A negative or too large argc
    /// is not an error; a count bounded by the data is all that is read.
    static func readShellArguments(_ data: inout Parcel) -> [String] {
        guard let count = try? data.readInt32() else { return [] }
        var arguments: [String] = []
        while arguments.count < Int(count) && data.readableBytes > 0 {
            do { arguments.append(try data.readNullableString16() ?? "") } catch { break }
        }
        return arguments
    }

    /// SHELL_COMMAND_TRANSACTION as `BBinder::onTransact` answers it: the three fds, the
    /// arguments, the shell callback and the result receiver are read; the receiver is sent
    /// INVALID_OPERATION (a oneway `IResultReceiver.send`, code 1); the caller gets NO_ERROR.
    private func answerShellCommand(_ data: inout Parcel) {
        for _ in 0..<3 { _ = try? data.readFileDescriptor() }
        _ = Self.readShellArguments(&data)
        _ = try? data.readNullableStrongBinder()  // the shell callback
        guard let receiver = try? data.readNullableStrongBinder() else { return }
        var result = receiver.prepareTransaction()
        result.writeInterfaceToken("com.android.internal.os.IResultReceiver")
        result.writeInt32(StatusCode.invalidOperation.rawValue)
        _ = try? receiver.transact(code: ReservedTransactionCode.firstCall, data: result, flags: .oneWay)
    }

    /// Answers the reserved codes, then calls ``onTransact(code:data:reply:flags:)`` and maps
    /// what it throws to the status sent back.
    final func dispatch(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) -> StatusCode {
        // Android 10's libbinder (no header word in its tokens) answered PING with an int32 and
        // knew neither EXTENSION nor DEBUG_PID (libs/binder/Binder.cpp at android-10.0.0_r1).
        let android10 = !data.wireFormat.hasInterfaceHeader
        do {
            // The object's own codes first: the path every call takes.
            if code <= ReservedTransactionCode.lastCall {
                try onTransact(code: code, data: &data, reply: &reply, flags: flags)
                return .ok
            }
            switch code {
            case ReservedTransactionCode.ping:
                if android10 { reply.writeInt32(0) }
                return .ok
            case _ where !answersReservedTransactions:
                try onTransact(code: code, data: &data, reply: &reply, flags: flags)
                return .ok
            case ReservedTransactionCode.interface:
                reply.writeString16(interfaceDescriptor)
                return .ok
            case ReservedTransactionCode.debugPID where !android10:
                reply.writeInt32(getpid())
                return .ok
            case ReservedTransactionCode.extension where !android10:
                reply.writeStrongBinder(extensionObject)
                return .ok
            case ReservedTransactionCode.dump:
                // Without a descriptor BBinder still calls dump (with -1); ours has nowhere to write.
                guard let fd = try? data.readFileDescriptor() else { return .ok }
                try dump(to: fd, arguments: Self.readShellArguments(&data))
                return .ok
            case ReservedTransactionCode.shellCommand, ReservedTransactionCode.sysprops:
                // BBinder::onTransact answers these; a subclass may answer them itself first.
                let start = data.readerIndex
                do {
                    try onTransact(code: code, data: &data, reply: &reply, flags: flags)
                } catch let status as StatusCode where status == .unknownTransaction {
                    data.readerIndex = start
                    if code == ReservedTransactionCode.shellCommand { answerShellCommand(&data) }
                }
                return .ok
            default:
                try onTransact(code: code, data: &data, reply: &reply, flags: flags)
                return .ok
            }
        } catch let status as StatusCode {
            return status == .ok ? .failedTransaction : status
        } catch let error as ParcelError {
            return StatusCode(error)
        } catch let status as Status {
            reply.clear()
            do {
                try reply.writeReplyStatus(status)
            } catch {
                return error
            }
            return .ok
        } catch {
            return .unknownError
        }
    }
}

/// A local object's node id as a dictionary key, hashed with one multiplication. The ids are
/// this process's own sequential numbers, which nobody else chooses, so the standard hash's
/// resistance to chosen keys buys nothing here; it cost about 120 instructions per look-up,
/// several per call that passes a local object (callgrind).
struct NodeKey: Hashable {
    let id: UInt64

    init(_ id: UInt64) { self.id = id }

    func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// What `Dictionary` asks for (the underscored requirement of `Hashable` behind `hashValue`):
    /// the id times an odd constant (a bijection, so sequential ids spread over the buckets'
    /// low bits), mixed with the table's seed.
    func _rawHashValue(seed: Int) -> Int {
        Int(truncatingIfNeeded: (id ^ UInt64(UInt(bitPattern: seed))) &* 0x9E37_79B9_7F4A_7C15)
    }
}

/// Every local object that was ever sent, by node id, held weakly: where the runtime finds the
/// object behind a `BR_INCREFS` or `BR_TRANSACTION` on any device of this process.
final class LocalObjectRegistry: Sendable {
    static let shared = LocalObjectRegistry()

    /// Each entry is dropped by its object's deinit (``remove(_:)``).
    private let objects = Mutex<[NodeKey: UnretainedReference<BinderObject>]>([:])
    private let lastID = Atomic<UInt64>(0)

    func nextID() -> UInt64 {
        lastID.add(1, ordering: .relaxed).newValue
    }

    /// Makes `object` findable by its node id (done when it is first written to a parcel; later
    /// sends find it marked and take no lock). It is marked after it is registered (two threads
    /// may both register it, which is harmless), so that no parcel carries it before the
    /// registry can find it.
    func register(_ object: BinderObject) {
        guard !object.isRegistered.load(ordering: .acquiring) else { return }
        objects.withLock { $0[NodeKey(object.nodeID)] = UnretainedReference(object) }
        object.isRegistered.store(true, ordering: .releasing)
    }

    func remove(_ id: UInt64) {
        _ = objects.withLock { $0.removeValue(forKey: NodeKey(id)) }
    }

    /// The live object for a (ptr, cookie) pair from the kernel, or nil.
    func object(for node: NodeIdentity) -> BinderObject? {
        guard let object = objects.withLock({ $0[NodeKey(node.pointer)]?.load() }), object.nodeCookie == node.cookie else {
            return nil
        }
        return object
    }
}

/// The local objects the kernel holds references to on one device, with the kernel's counts.
/// While either count is above zero the table keeps the object alive.
final class NodeTable: Sendable {
    private struct Entry {
        let object: BinderObject
        var strong: Int
        var weak: Int
    }

    private let entries = Mutex<[NodeKey: Entry]>([:])

    /// The number of local objects the kernel currently holds references to.
    var count: Int { entries.withLock { $0.count } }

    func object(for node: NodeIdentity) -> BinderObject? {
        if let object = entries.withLock({ $0[NodeKey(node.pointer)]?.object }), object.nodeCookie == node.cookie {
            return object
        }
        return LocalObjectRegistry.shared.object(for: node)
    }

    /// `BR_INCREFS` / `BR_ACQUIRE`: returns false when the node is unknown. A node the table
    /// holds is counted in one look-up; a new one is found in the registry first.
    func increment(_ node: NodeIdentity, strong: Bool) -> Bool {
        let key = NodeKey(node.pointer)
        let counted = entries.withLock { entries -> Bool in
            guard let index = entries.index(forKey: key), entries.values[index].object.nodeCookie == node.cookie else {
                return false
            }
            if strong { entries.values[index].strong += 1 } else { entries.values[index].weak += 1 }
            return true
        }
        if counted { return true }
        guard let object = LocalObjectRegistry.shared.object(for: node) else { return false }
        entries.withLock { entries in
            var entry = entries[key] ?? Entry(object: object, strong: 0, weak: 0)
            if strong { entry.strong += 1 } else { entry.weak += 1 }
            entries[key] = entry
        }
        return true
    }

    /// `BR_RELEASE` / `BR_DECREFS`: returns the object when the kernel no longer holds it, so
    /// that the caller drops it outside the lock.
    func decrement(_ node: NodeIdentity, strong: Bool) -> BinderObject? {
        let key = NodeKey(node.pointer)
        return entries.withLock { entries in
            guard let index = entries.index(forKey: key), entries.values[index].object.nodeCookie == node.cookie else {
                return nil
            }
            if strong {
                entries.values[index].strong = max(entries.values[index].strong - 1, 0)
            } else {
                entries.values[index].weak = max(entries.values[index].weak - 1, 0)
            }
            guard entries.values[index].strong == 0 && entries.values[index].weak == 0 else { return nil }
            return entries.remove(at: index).value.object
        }
    }
}
