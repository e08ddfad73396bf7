import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Who gets a received buffer back when the parcel reading it is released: the runtime's
/// process (it queues `BC_FREE_BUFFER` with the kernel's own address), or a stand-in in tests.
///
/// A class rather than a protocol: every received parcel holds one, and releasing a class
/// reference is one call where an optional existential went through generic value witnesses
/// (about 100 instructions per parcel, callgrind).
open class ReceivedBufferOwner: @unchecked Sendable {
    public init() {}

    /// Hands the buffer that started at `address` back to the driver. Called exactly once per
    /// parcel; a subclass must override it.
    open func releaseReceivedBuffer(at address: UInt64) {
        preconditionFailure("\(type(of: self)) does not release received buffers")
    }
}

/// The data of one binder transaction in Android's wire format: a flat byte buffer plus the
/// objects array (the offsets of the binder objects and file descriptors in it).
///
/// `Parcel` follows swift-nio's `ByteBuffer` contract: `0 <= readerIndex <= dataSize`. Writes
/// append at `dataSize`; reads consume from `readerIndex`; a read that fails throws a
/// ``ParcelError`` and does not move the reader. Everything is written in host byte order and
/// padded with zeros to 4 bytes; values narrower than 4 bytes are widened to 32 bits.
///
/// A parcel either owns its storage (one you write) or reads a buffer the kernel delivered into
/// the receive mapping, without copying it. A received parcel is read-only; it validates every
/// object it reads against the kernel's objects array, owns the file descriptors the kernel
/// installed (closing those not taken), and hands the buffer back to its
/// ``ReceivedBufferOwner`` exactly once, when the parcel is destroyed.
///
/// A parcel keeps its storage between uses (``clear()``), so a thread that reuses one allocates
/// nothing per transaction once it has grown. It has one owner at a time and may be moved to
/// another thread; it is not for concurrent use.
public struct Parcel: ~Copyable, @unchecked Sendable {
    /// Start of the data: owned storage, or the kernel's buffer for a received parcel.
    @usableFromInline var base: UnsafeMutableRawPointer?
    /// Bytes of owned storage (0 for a received parcel).
    @usableFromInline var capacity: Int
    /// Bytes of data: where the next write goes.
    public var dataSize: Int { storedDataSize }
    /// ``dataSize``, settable by the inlinable write path.
    @usableFromInline var storedDataSize: Int
    /// Where the next read starts.
    public internal(set) var readerIndex: Int {
        get { storedReaderIndex }
        set { storedReaderIndex = newValue }
    }
    /// ``readerIndex``, settable by the inlinable read path.
    @usableFromInline var storedReaderIndex = 0

    /// The kernel's objects array of a received parcel.
    private var receivedObjects: UnsafeRawBufferPointer?
    /// For a received parcel, the kernel's address of the buffer and who frees it.
    private let receivedAddress: UInt64?
    /// How many structured parcelables are being read, one inside another (bounded: reading
    /// recurses, and a peer chooses the depth).
    var structuredDepth: UInt16 = 0
    ///
    /// Held with a manual retain (taken in init, dropped in deinit), as ``objectStorage`` is.
    private let bufferOwner: Unmanaged<ReceivedBufferOwner>?
    /// What only parcels with objects need, made on first use: most calls carry none, and then
    /// there is no array to make or destroy per parcel (a tenth of a call, callgrind).
    ///
    /// Held with a manual retain, released in deinit: the compiler destroys an optional class
    /// field of this non-copyable struct through generic value witnesses (`Optional`, then the
    /// payload's), about 70 instructions per field and parcel (callgrind).
    private var objectStorage: Unmanaged<ObjectState>?

    private var objects: ObjectState? { objectStorage?.takeUnretainedValue() }

    /// Runs `body` with the object state, if any, without retaining it (the parcel holds it:
    /// a retain and release per use, several per call that passes an object, callgrind).
    @inline(__always)
    private func withObjects<R>(_ body: (ObjectState?) -> R) -> R {
        guard let objectStorage else { return body(nil) }
        return objectStorage._withUnsafeGuaranteedRef { body($0) }
    }

    /// Runs `body` with the object state, made on first use, without retaining it.
    @inline(__always)
    private mutating func withObjectState<R>(_ body: (ObjectState) -> R) -> R {
        if objectStorage == nil { objectStorage = Unmanaged.passRetained(StorageCache.takeObjectState() ?? ObjectState()) }
        return objectStorage.unsafelyUnwrapped._withUnsafeGuaranteedRef(body)
    }

    /// Only the parcel holding it touches it (a parcel is not for concurrent use), so its
    /// fields skip the runtime's exclusivity checks. A thread keeps the last two freed for its
    /// next parcels with objects (``StorageCache``): making one is an object and up to three
    /// arrays to allocate and free per call that passes a binder or a descriptor (callgrind).
    /// Its lists are raw storage: emptying and refilling Swift arrays (`removeAll(keepingCapacity:)`
    /// goes through `replaceSubrange`, each use checks uniqueness and retains the buffer) was
    /// about 700 instructions per call passing a descriptor, callgrind.
    fileprivate final class ObjectState {
        /// Offsets of the objects of an owned parcel, ascending.
        @exclusivity(unchecked) var owned = RawList<UInt64>()
        /// Offsets of file-descriptor objects whose descriptor the reader took.
        @exclusivity(unchecked) var takenDescriptors = RawList<Int>()
        /// Objects written into the parcel, each retained until the parcel ends.
        @exclusivity(unchecked) var retained = RawList<Unmanaged<AnyObject>>()
        /// Why the kernel's objects array cannot be trusted, if it cannot.
        @exclusivity(unchecked) var problem: String?
        /// Why the parcel cannot be sent, if it cannot (something its wire format cannot carry).
        @exclusivity(unchecked) var unsendable: String?
        /// For an RPC parcel: the session it goes to, which gives its binder objects addresses.
        @exclusivity(unchecked) var rpcSession: AnyObject?
        /// An RPC parcel's file descriptors, in the order its fd objects index them (RPC sends
        /// them beside the data), each the parcel's until a reader takes it; and those taken.
        @exclusivity(unchecked) var rpcDescriptors = RawList<Int32>()
        @exclusivity(unchecked) var rpcTaken = RawList<Int>()

        /// Keeps `object` alive until ``reset()``.
        func retain(_ object: AnyObject) {
            retained.append(Unmanaged.passRetained(object))
        }

        /// Empties it for another parcel, keeping the lists' storage (the objects it kept go).
        @inline(__always)
        func reset() {
            owned.removeAll()
            takenDescriptors.removeAll()
            if !retained.isEmpty { releaseRetained() }
            // Assigning nil over nil still calls the runtime to release the old value.
            if problem != nil { problem = nil }
            if unsendable != nil { unsendable = nil }
            if rpcSession != nil { rpcSession = nil }
            if !rpcDescriptors.isEmpty { closeRPCDescriptors() }
        }

        /// Closes the descriptors of the owned parcel at `base` written with `takeOwnership`
        /// (cookie 1) that no reader took.
        func closeOwnedDescriptors(in base: UnsafeMutableRawPointer) {
            for index in 0..<owned.count {
                let offset = owned[index]
                let object = base + Int(offset)
                guard BinderObjectType(rawValue: object.loadUnaligned(as: UInt32.self)) == .fileDescriptor,
                    object.loadUnaligned(fromByteOffset: 16, as: UInt64.self) == 1,
                    !takenDescriptors.contains(where: { $0 == Int(offset) })
                else { continue }
                _ = close(object.loadUnaligned(fromByteOffset: 8, as: Int32.self))
            }
        }

        /// Closes the RPC descriptors no reader took.
        private func closeRPCDescriptors() {
            for index in 0..<rpcDescriptors.count where !rpcTaken.contains(where: { $0 == index }) {
                _ = close(rpcDescriptors[index])
            }
            rpcDescriptors.removeAll()
            rpcTaken.removeAll()
        }

        private func releaseRetained() {
            for index in 0..<retained.count { retained[index].release() }
            retained.removeAll()
        }

        deinit {
            reset()
            owned.deallocate()
            takenDescriptors.deallocate()
            retained.deallocate()
            rpcDescriptors.deallocate()
            rpcTaken.deallocate()
        }
    }

    /// A growable list of plain values in storage of its own, freed by its owner
    /// (``ObjectState``): no reference counting, uniqueness check or generic path per use.
    fileprivate struct RawList<Element> {
        private var storage: UnsafeMutablePointer<Element>?
        private(set) var count = 0
        private var capacity = 0

        var isEmpty: Bool { count == 0 }

        subscript(index: Int) -> Element {
            precondition(index >= 0 && index < count, "index out of range")
            return storage.unsafelyUnwrapped[index]
        }

        mutating func append(_ element: Element) {
            if count == capacity {
                let grown = max(4, capacity * 2)
                let new = UnsafeMutablePointer<Element>.allocate(capacity: grown)
                if let storage {
                    new.moveInitialize(from: storage, count: count)
                    storage.deallocate()
                }
                storage = new
                capacity = grown
            }
            (storage.unsafelyUnwrapped + count).initialize(to: element)
            count += 1
        }

        func contains(where predicate: (Element) -> Bool) -> Bool {
            for index in 0..<count where predicate(storage.unsafelyUnwrapped[index]) { return true }
            return false
        }

        /// The elements' bytes in place (until the next append).
        var bytes: UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: storage, count: count * MemoryLayout<Element>.stride)
        }

        /// Forgets the elements (plain values: nothing to deinitialize), keeping the storage.
        mutating func removeAll() { count = 0 }

        func deallocate() { storage?.deallocate() }
    }

    private mutating func objectState() -> ObjectState {
        withObjectState { $0 }
    }

    private var objectsProblem: String? { withObjects { $0?.problem } }

    /// Whether the RPC object table lists an object at `position` (version 2 requires it of
    /// every non-null binder).
    func isRPCObjectListed(at position: Int) -> Bool {
        // An RPC parcel's table is its own list (kept for received ones too), ascending: the
        // objects array's binary search serves it. A table that failed its checks lists nothing.
        (try? isObjectListed(at: position)) == true
    }

    /// Lists the object just written at `position` in the RPC object table.
    mutating func listRPCObject(at position: Int) {
        withObjectState { $0.owned.append(UInt64(position)) }
    }

    /// Why this parcel cannot be sent, if something written into it has no encoding in its
    /// wire format.
    var unsendableReason: String? { withObjects { $0?.unsendable } }

    /// The RPC session an RPC parcel is for (libbinder's `markForRpc(session)`).
    var rpcSession: AnyObject? {
        get { withObjects { $0?.rpcSession } }
        set { withObjectState { $0.rpcSession = newValue } }
    }

    // MARK: File descriptors over RPC

    /// An fd object of an RPC parcel: `i32 2` (TYPE_NATIVE_FILE_DESCRIPTOR) and the index of the
    /// descriptor among those sent beside the data; its position joins the object table
    /// (libbinder's `writeFileDescriptor` for RPC parcels, Android 14+). The parcel owns the
    /// descriptor (a duplicate unless `takeOwnership`).
    @inline(never)  // kept out of writeFileDescriptor's kernel path
    mutating func writeRPCFileDescriptor(_ fd: FileDescriptor, takeOwnership: Bool) {
        let owned = takeOwnership ? fd.rawValue : fcntl(fd.rawValue, F_DUPFD_CLOEXEC, 0)
        guard owned >= 0 else {
            markUnsendable("duplicating descriptor \(fd.rawValue) failed (errno \(errno))")
            return
        }
        let position = dataSize
        let index = withObjectState { state -> Int in
            state.rpcDescriptors.append(owned)
            state.owned.append(UInt64(position))
            return state.rpcDescriptors.count - 1
        }
        writeInt32(2)
        writeInt32(Int32(index))
    }

    /// Reads an RPC fd object: the descriptor (the parcel's until taken) and its index.
    @inline(never)  // kept out of readFileDescriptor's kernel path
    mutating func readRPCFileDescriptor() throws(ParcelError) -> (fd: FileDescriptor, index: Int) {
        let position = readerIndex
        if let objectsProblem { throw .malformedObjects(reason: objectsProblem) }
        let type = try readInt32()
        let index: Int32
        do throws(ParcelError) { index = try readInt32() } catch {
            readerIndex = position
            throw error
        }
        guard type == 2 else {
            readerIndex = position
            throw .unexpectedObjectType(UInt32(bitPattern: type), offset: position)
        }
        guard isRPCObjectListed(at: position) else {
            readerIndex = position
            throw .objectNotListed(offset: position)
        }
        let fd = withObjects { state -> Int32? in
            guard let state, index >= 0, Int(index) < state.rpcDescriptors.count else { return nil }
            return state.rpcDescriptors[Int(index)]
        }
        guard let fd else {
            readerIndex = position
            throw .objectNotListed(offset: position)
        }
        return (FileDescriptor(rawValue: fd), Int(index))
    }

    /// Reads an RPC fd object and takes its descriptor: the parcel will not close it.
    @inline(never)  // kept out of takeFileDescriptor's kernel path
    mutating func takeRPCFileDescriptor() throws(ParcelError) -> FileDescriptor {
        let position = readerIndex
        let (fd, index) = try readRPCFileDescriptor()
        let state = objectState()
        guard !state.rpcTaken.contains(where: { $0 == index }) else {
            readerIndex = position
            throw .fileDescriptorAlreadyTaken(offset: position)
        }
        state.rpcTaken.append(index)
        return fd
    }

    /// What an RPC parcel sends beside its data: the object table and the descriptors.
    var rpcObjects: (positions: [UInt32], descriptors: [Int32]) {
        withObjects { state in
            guard let state, state.owned.count > 0 else { return ([], []) }
            return (
                (0..<state.owned.count).map { UInt32(state.owned[$0]) },
                (0..<state.rpcDescriptors.count).map { state.rpcDescriptors[$0] }
            )
        }
    }

    /// Gives a received RPC parcel the object table and descriptors that came with it, checked
    /// as libbinder's `rpcSetDataReference` checks them (one descriptor per entry, each entry an
    /// 8-byte object inside the data, ascending); descriptors of a table that fails are closed.
    ///
    /// From version 2 the table also lists the binder objects (`i32 1`): the descriptors match
    /// its fd entries (`i32 2`); before, every entry is a descriptor's, and a binder's is refused
    /// (android-16.0.0_r4 `rpcSetDataReference`).
    mutating func adoptRPCObjects(positions: [UInt32], descriptors: [Int32], version: UInt32) {
        guard !positions.isEmpty || !descriptors.isEmpty else { return }
        let size = dataSize
        var valid = positions.allSatisfy { $0 % 4 == 0 && Int($0) + 8 <= size }
            && zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 }
        if valid, let base = unsafeDataBytes.baseAddress {
            let types = positions.map { base.loadUnaligned(fromByteOffset: Int($0), as: Int32.self) }
            let descriptorEntries = types.filter { $0 == 2 }.count
            let binderEntries = types.filter { $0 == 1 }.count
            valid = descriptorEntries == descriptors.count && descriptorEntries + binderEntries == types.count
                && (version >= 2 || binderEntries == 0)
        }
        // The table goes into the object state, where the objects array's look-ups find it as
        // an owned parcel's (an RPC parcel has no kernel objects array).
        receivedObjects = nil
        withObjectState { state in
            guard valid else {
                for fd in descriptors { _ = close(fd) }
                state.problem = "an RPC object table of \(positions.count) entries for \(descriptors.count) descriptors"
                return
            }
            for position in positions { state.owned.append(UInt64(position)) }
            for fd in descriptors { state.rpcDescriptors.append(fd) }
        }
    }

    mutating func markUnsendable(_ reason: String) {
        withObjectState { $0.unsendable = $0.unsendable ?? reason }
    }

    /// How binder objects, stability and interface tokens are encoded for the peer.
    public var wireFormat: WireFormat

    /// An empty parcel for writing.
    public init(capacity: Int = 0, wireFormat: WireFormat = .default) {
        self.base = capacity > 0 ? UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8) : nil
        self.capacity = max(capacity, 0)
        self.storedDataSize = 0
        self.receivedAddress = nil
        self.bufferOwner = nil
        self.wireFormat = wireFormat
    }

    /// An empty parcel for writing into `storage` (`capacity` bytes, 8-byte aligned) with the
    /// object state `objects` (retained for it, emptied), both its own from now on:
    /// ``takeStorage()`` hands them back, or the parcel frees them as its own.
    fileprivate init(
        storage: UnsafeMutableRawPointer, capacity: Int, objects: Unmanaged<ObjectState>?, wireFormat: WireFormat
    ) {
        self.base = storage
        self.capacity = capacity
        self.storedDataSize = 0
        self.receivedAddress = nil
        self.bufferOwner = nil
        self.objectStorage = objects
        self.wireFormat = wireFormat
    }

    /// Ends an owned parcel and returns its storage and its object state, emptied, for reuse (a
    /// thread's engine lends its replies the same block call after call), or nil when it has
    /// no storage. A received parcel (a handler may swap its request into its reply) ends as
    /// usual and returns nil.
    fileprivate consuming func takeStorage() -> (UnsafeMutableRawPointer, Int, Unmanaged<ObjectState>?)? {
        guard !isReceived, let base else {
            _ = consume self
            return nil
        }
        let objects = objectStorage
        if let objects { emptyForReuse(objects) }
        let storage = (base, capacity, objects)
        discard self
        return storage
    }

    /// Closes the descriptors this parcel owns and empties `objects`, its state, for the next
    /// parcel (out of line: most parcels have none).
    @inline(never)
    private func emptyForReuse(_ objects: Unmanaged<ObjectState>) {
        objects._withUnsafeGuaranteedRef { state in
            if state.owned.count > 0, let base { state.closeOwnedDescriptors(in: base) }
            state.reset()
        }
    }

    /// Ends a received parcel of `owner` (given by identity, `Unmanaged.toOpaque()`) whose
    /// buffer the caller hands back itself (the engine, for a request it served, writes
    /// `BC_FREE_BUFFER` with its reply): closes the descriptors the reader did not take, lets go
    /// of the owner, and returns the buffer's kernel address. Any other parcel (owned, or
    /// received for another owner: a handler may swap in a parcel from elsewhere) ends as usual
    /// and returns nil.
    consuming func endReceived(ownedBy owner: UnsafeMutableRawPointer) -> UInt64? {
        guard let receivedAddress, let bufferOwner, bufferOwner.toOpaque() == owner else {
            _ = consume self
            return nil
        }
        if let receivedObjects, !receivedObjects.isEmpty { closeReceivedDescriptors() }
        bufferOwner.release()
        endObjectState()
        discard self
        return receivedAddress
    }

    /// A parcel that reads, in place, a transaction buffer the kernel delivered.
    ///
    /// - Parameters:
    ///   - data: the transaction data inside the receive mapping.
    ///   - objectOffsets: the objects array the kernel delivered with it (u64 offsets).
    ///   - bufferAddress: the kernel's address of the buffer, as `BC_FREE_BUFFER` wants it (even
    ///     when `data` is empty).
    ///   - owner: who frees the buffer when the parcel is released; nil when the caller does.
    public init(
        received data: UnsafeRawBufferPointer, objectOffsets: UnsafeRawBufferPointer, bufferAddress: UInt64,
        owner: ReceivedBufferOwner?, wireFormat: WireFormat = .default
    ) {
        self.init(
            received: data, objectOffsets: objectOffsets, bufferAddress: bufferAddress,
            retainedOwner: owner.map { Unmanaged.passRetained($0) }, wireFormat: wireFormat)
    }

    /// ``init(received:objectOffsets:bufferAddress:owner:wireFormat:)`` with an owner the caller
    /// retained for the parcel (the runtime holds its process unretained on the per-call paths).
    init(
        received data: UnsafeRawBufferPointer, objectOffsets: UnsafeRawBufferPointer, bufferAddress: UInt64,
        retainedOwner: Unmanaged<ReceivedBufferOwner>?, wireFormat: WireFormat
    ) {
        self.base = UnsafeMutableRawPointer(mutating: data.baseAddress)
        self.capacity = 0
        self.storedDataSize = data.count
        self.receivedObjects = objectOffsets
        self.receivedAddress = bufferAddress
        self.bufferOwner = retainedOwner
        self.wireFormat = wireFormat
        if !objectOffsets.isEmpty,
            let problem = Self.validateObjects(objectOffsets, dataSize: data.count, base: data.baseAddress)
        {
            objectState().problem = problem
        }
    }

    /// An owned copy of `other`'s data and objects, for delivering a transaction to an object
    /// in this same process. File descriptors are duplicated: the copy owns its own.
    init(copying other: borrowing Parcel) {
        self.init(capacity: other.dataSize, wireFormat: other.wireFormat)
        other.withUnsafeDataBytes { writeBytes($0) }
        let otherRetained = other.withObjects { objects in
            (0..<(objects?.retained.count ?? 0)).map { objects!.retained[$0].takeUnretainedValue() }
        }
        if other.objectCount > 0 || !otherRetained.isEmpty {
            let state = objectState()
            for index in 0..<other.objectCount { state.owned.append(other.objectOffset(at: index)) }
            for object in otherRetained { state.retain(object) }
        }
        // The copy gets descriptors of its own, as a receiver would from the driver.
        guard let base, let objects else { return }
        for index in 0..<objects.owned.count
        where BinderObjectType(rawValue: base.loadUnaligned(fromByteOffset: Int(objects.owned[index]), as: UInt32.self)) == .fileDescriptor {
            let offset = objects.owned[index]
            let original = base.loadUnaligned(fromByteOffset: Int(offset) + 8, as: Int32.self)
            let copy = fcntl(original, F_DUPFD_CLOEXEC, 0)
            (base + Int(offset) + 8).storeBytes(of: UInt64(UInt32(bitPattern: copy)), as: UInt64.self)
            (base + Int(offset) + 16).storeBytes(of: UInt64(copy >= 0 ? 1 : 0), as: UInt64.self)
        }
    }

    deinit {
        if let receivedAddress {
            if let receivedObjects, !receivedObjects.isEmpty { closeReceivedDescriptors() }
            if let bufferOwner {
                bufferOwner._withUnsafeGuaranteedRef { $0.releaseReceivedBuffer(at: receivedAddress) }
                bufferOwner.release()
            }
        } else {
            if objectStorage != nil { closeOwnedDescriptors() }
            if let base { StorageCache.recycle(base, capacity: capacity) }
        }
        endObjectState()
    }

    /// Lets go of the object state, emptied, for this thread's next parcel with objects (the
    /// objects it kept go now, outside the cache).
    @inline(__always)
    private func endObjectState() {
        guard let objectStorage else { return }
        let state = objectStorage.takeRetainedValue()
        state.reset()
        StorageCache.keep(state)
    }

    /// Whether this parcel reads a received kernel buffer (and so cannot be written).
    public var isReceived: Bool { receivedAddress != nil }

    /// Who frees the received buffer: the runtime's process, for parcels it received.
    var receivedBufferOwner: ReceivedBufferOwner? { bufferOwner?.takeUnretainedValue() }

    /// Runs `body` with who frees the received buffer, without retaining it (the parcel does).
    @inline(__always)
    func withReceivedBufferOwner<R, E: Error>(_ body: (ReceivedBufferOwner?) throws(E) -> R) throws(E) -> R {
        guard let bufferOwner else { return try body(nil) }
        return try bufferOwner._withUnsafeGuaranteedRef { owner in Result { () throws(E) in try body(owner) } }.get()
    }

    /// Keeps `object` alive as long as the parcel (binder objects written into it).
    mutating func keepAlive(_ object: AnyObject) {
        withObjectState { $0.retain(object) }
    }

    /// Bytes between the reader index and the end of the data.
    public var readableBytes: Int { dataSize - readerIndex }

    /// Empties an owned parcel for reuse, keeping its storage. Descriptors it owns are closed.
    public mutating func clear() {
        precondition(!isReceived, "a received parcel cannot be cleared")
        closeOwnedDescriptors()
        objects?.reset()
        storedDataSize = 0
        readerIndex = 0
    }

    /// Moves the reader to `offset`, which must lie within the data.
    public mutating func moveReaderIndex(to offset: Int) throws(ParcelError) {
        guard offset >= 0, offset <= dataSize else {
            throw .notEnoughData(offset: offset, needed: 0, available: dataSize - min(max(offset, 0), dataSize))
        }
        readerIndex = offset
    }

    /// Throws ``ParcelError/trailingData(count:)`` unless everything was read: Android 13+
    /// services reject requests with unread trailing bytes, and so should ours.
    public func requireFullyRead() throws(ParcelError) {
        if readerIndex < dataSize { throw .trailingData(count: dataSize - readerIndex) }
    }

    /// Calls `body` with the data bytes. Do not let the pointer escape.
    public func withUnsafeDataBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: dataSize))
    }

    /// The data in place, for the driver: valid while the parcel is borrowed and not written.
    var unsafeDataBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: dataSize) }

    /// Whether the objects array is one this parcel built (``withUnsafeObjectOffsets(_:)`` lends
    /// it); otherwise it is ``unsafeReceivedObjectOffsets``.
    var hasOwnedObjectOffsets: Bool { receivedObjects == nil && withObjects { $0 != nil && $0!.owned.count > 0 } }

    /// The kernel's objects array of a received parcel, or an empty one.
    var unsafeReceivedObjectOffsets: UnsafeRawBufferPointer {
        receivedObjects ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// The data bytes, copied.
    public var dataBytes: [UInt8] {
        dataSize == 0 ? [] : Array(UnsafeRawBufferPointer(start: base, count: dataSize))
    }

    /// Calls `body` with the objects array (u64 offsets) as the driver wants it. Do not let
    /// the pointer escape.
    public func withUnsafeObjectOffsets<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        if let receivedObjects { return try body(receivedObjects) }
        let result = withObjects { objects in
            guard let objects else { return Result { () throws(E) -> R in try body(UnsafeRawBufferPointer(start: nil, count: 0)) } }
            return Result { () throws(E) -> R in try body(objects.owned.bytes) }
        }
        return try result.get()
    }

    /// The offsets of the objects in the data, ascending.
    public var objectOffsets: [UInt64] {
        (0..<objectCount).map { objectOffset(at: $0) }
    }

    // MARK: - The one place for growth, alignment and padding

    /// 4-byte alignment of every value on the wire.
    @inlinable @inline(__always)
    static func padded(_ count: Int) -> Int { (count + 3) & ~3 }

    /// Appends `count` bytes (rounded up to 4, padding zeroed) and returns where they start.
    ///
    /// Inlinable, with the fields it touches, so that each value generated code writes is a
    /// few stores in the caller (a call per value was a tenth of a call's instructions,
    /// callgrind); growth stays out of line. A received parcel has no storage of its own, and
    /// `grow` refuses to write it.
    @inlinable @inline(__always)
    mutating func reserveForWriting(_ count: Int) -> UnsafeMutableRawPointer {
        let paddedCount = Self.padded(count)
        let end = storedDataSize + paddedCount
        if end > capacity || base == nil { grow(toAtLeast: end) }
        let start = base.unsafelyUnwrapped + storedDataSize
        if paddedCount != count {
            (start + paddedCount - 4).storeBytes(of: 0, as: UInt32.self)
        }
        storedDataSize = end
        return start
    }

    /// Overwrites 4 bytes already written at `offset` (size prefixes written after the body).
    mutating func patchInt32(_ value: Int32, at offset: Int) {
        precondition(!isReceived && offset >= 0 && offset + 4 <= dataSize)
        base.unsafelyUnwrapped.storeBytes(of: value, toByteOffset: offset, as: Int32.self)
    }

    @usableFromInline @inline(never)
    mutating func grow(toAtLeast needed: Int) {
        precondition(!isReceived, "a received parcel cannot be written")
        if base == nil, let (storage, cachedCapacity) = StorageCache.reuse(atLeast: needed) {
            base = storage
            capacity = cachedCapacity
            return
        }
        let newCapacity = max(needed, capacity * 2, StorageCache.blockSize)
        let storage = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        if let base {
            storage.copyMemory(from: base, byteCount: dataSize)
            StorageCache.recycle(base, capacity: capacity)
        }
        base = storage
        capacity = newCapacity
    }

    /// Checks that `count` bytes (padded to 4) can be read at the reader index and returns
    /// where they start, without moving the reader.
    @inlinable @inline(__always)
    func peekReadable(_ count: Int) throws(ParcelError) -> UnsafeRawPointer {
        let paddedCount = Self.padded(count)
        guard count >= 0, paddedCount <= storedDataSize &- storedReaderIndex, let base else {
            throw .notEnoughData(offset: storedReaderIndex, needed: max(paddedCount, count), available: readableBytes)
        }
        return UnsafeRawPointer(base + storedReaderIndex)
    }

    /// Moves the reader past `count` bytes (padded to 4) that ``peekReadable(_:)`` checked.
    @inlinable @inline(__always)
    mutating func advanceReader(_ count: Int) {
        storedReaderIndex &+= Self.padded(count)
    }

    // MARK: - Integers

    /// Writes an integer: 8 bytes for 64-bit types, otherwise 4 bytes (narrower types are
    /// widened, sign-extending signed ones), as Android does for bool, byte and char.
    @inlinable
    public mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        if T.bitWidth > 32 {
            reserveForWriting(8).storeBytes(of: Int64(truncatingIfNeeded: value), as: Int64.self)
        } else {
            reserveForWriting(4).storeBytes(of: Int32(truncatingIfNeeded: value), as: Int32.self)
        }
    }

    /// Reads an integer written by ``writeInteger(_:)``: 8 bytes for 64-bit types, otherwise a
    /// 32-bit word truncated to `T` (as libbinder's `readByte` truncates).
    @inlinable
    public mutating func readInteger<T: FixedWidthInteger>(as type: T.Type = T.self) throws(ParcelError) -> T {
        if T.bitWidth > 32 {
            let value = try peekReadable(8).loadUnaligned(as: Int64.self)
            advanceReader(8)
            return T(truncatingIfNeeded: value)
        } else {
            let value = try peekReadable(4).loadUnaligned(as: Int32.self)
            advanceReader(4)
            return T(truncatingIfNeeded: value)
        }
    }

    @inlinable public mutating func writeInt32(_ value: Int32) { writeInteger(value) }
    @inlinable public mutating func readInt32() throws(ParcelError) -> Int32 { try readInteger() }
    @inlinable public mutating func writeInt64(_ value: Int64) { writeInteger(value) }
    @inlinable public mutating func readInt64() throws(ParcelError) -> Int64 { try readInteger() }

    /// AIDL `boolean`: int32 0 or 1.
    public mutating func writeBool(_ value: Bool) { writeInteger(Int32(value ? 1 : 0)) }
    /// Reads AIDL `boolean`: any non-zero word is true, as in libbinder.
    public mutating func readBool() throws(ParcelError) -> Bool { try readInteger(as: Int32.self) != 0 }

    /// AIDL `char`: one UTF-16 code unit in an int32.
    public mutating func writeChar(_ value: UInt16) { writeInteger(value) }
    public mutating func readChar() throws(ParcelError) -> UInt16 { try readInteger() }

    /// AIDL `float`: IEEE-754 binary32.
    public mutating func writeFloat(_ value: Float) { writeInteger(value.bitPattern) }
    public mutating func readFloat() throws(ParcelError) -> Float { Float(bitPattern: try readInteger()) }

    /// AIDL `double`: IEEE-754 binary64 (4-byte aligned, like every 8-byte value).
    public mutating func writeDouble(_ value: Double) { writeInteger(value.bitPattern) }
    public mutating func readDouble() throws(ParcelError) -> Double { Double(bitPattern: try readInteger()) }

    /// Writes raw bytes, zero-padded to 4.
    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        let start = reserveForWriting(bytes.count)
        if let source = bytes.baseAddress, bytes.count > 0 {
            start.copyMemory(from: source, byteCount: bytes.count)
        }
    }

    /// Writes raw bytes, zero-padded to 4.
    public mutating func writeBytes(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { writeBytes($0) }
    }

    /// Reads `count` raw bytes (and their padding) and passes them to `body`, without copying.
    public mutating func readBytes<R>(
        count: Int, _ body: (UnsafeRawBufferPointer) throws(ParcelError) -> R
    ) throws(ParcelError) -> R {
        let start = try peekReadable(count)
        let result = try body(UnsafeRawBufferPointer(start: start, count: count))
        advanceReader(count)
        return result
    }

    // MARK: - Objects array

    var objectCount: Int {
        if let receivedObjects { return receivedObjects.count / 8 }
        return withObjects { $0?.owned.count ?? 0 }
    }

    func objectOffset(at index: Int) -> UInt64 {
        if let receivedObjects { return receivedObjects.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) }
        return withObjects { $0!.owned[index] }
    }

    /// Whether the objects array lists an object at `offset` (binary search: it is ascending).
    func isObjectListed(at offset: Int) throws(ParcelError) -> Bool {
        if let objectsProblem { throw .malformedObjects(reason: objectsProblem) }
        var low = 0
        var high = objectCount
        let target = UInt64(offset)
        while low < high {
            let middle = (low + high) / 2
            let value = objectOffset(at: middle)
            if value == target { return true }
            if value < target { low = middle + 1 } else { high = middle }
        }
        return false
    }

    /// Records an object written at `offset` in an owned parcel.
    mutating func appendObjectOffset(_ offset: Int) {
        withObjectState { $0.owned.append(UInt64(offset)) }
    }

    /// Checks a kernel objects array: whole entries, 4-byte aligned, ascending, inside the data,
    /// and not overlapping one another. Returns what is wrong, or nil.
    private static func validateObjects(
        _ offsets: UnsafeRawBufferPointer, dataSize: Int, base: UnsafeRawPointer?
    ) -> String? {
        guard offsets.count % 8 == 0 else { return "size \(offsets.count) is not a multiple of 8" }
        var minimum: UInt64 = 0
        for index in 0..<offsets.count / 8 {
            let offset = offsets.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)
            guard offset % 4 == 0 else { return "offset \(offset) is not 4-byte aligned" }
            guard offset >= minimum else { return "offset \(offset) is out of order or overlaps the previous object" }
            guard offset <= UInt64(dataSize), UInt64(dataSize) - offset >= 8, let base else {
                return "offset \(offset) is outside the data"
            }
            let type = base.loadUnaligned(fromByteOffset: Int(offset), as: UInt32.self)
            let size = BinderObjectType(rawValue: type).wireSize
            guard size > 0 else { return "unknown object type 0x\(String(type, radix: 16)) at \(offset)" }
            guard UInt64(dataSize) - offset >= UInt64(size) else { return "object at \(offset) runs past the data" }
            minimum = offset + UInt64(size)
        }
        return nil
    }

    // MARK: - File descriptor ownership

    /// A received parcel owns every descriptor the kernel installed for it.
    private func closeReceivedDescriptors() {
        guard let receivedObjects, !receivedObjects.isEmpty, let base else { return }
        withObjects { objects in
            guard objects?.problem == nil else { return }
            for index in 0..<receivedObjects.count / 8 {
                let offset = Int(receivedObjects.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))
                guard BinderObjectType(rawValue: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) == .fileDescriptor,
                    objects?.takenDescriptors.contains(where: { $0 == offset }) != true
                else { continue }
                _ = close(base.loadUnaligned(fromByteOffset: offset + 8, as: Int32.self))
            }
        }
    }

    /// An owned parcel closes the descriptors written with `takeOwnership` (cookie 1).
    private func closeOwnedDescriptors() {
        guard let base else { return }
        withObjects { $0?.closeOwnedDescriptors(in: base) }
    }

    /// Marks the descriptor of the fd object at `offset` as taken by the reader.
    mutating func markDescriptorTaken(at offset: Int) throws(ParcelError) {
        let state = objectState()
        guard !state.takenDescriptors.contains(where: { $0 == offset }) else { throw .fileDescriptorAlreadyTaken(offset: offset) }
        state.takenDescriptors.append(offset)
    }
}

/// A few blocks of parcel storage kept per thread, so that a thread making or serving one call
/// after another allocates nothing in steady state: a parcel's storage goes back here when it is
/// destroyed and the next parcel on the thread starts with it.
enum StorageCache {
    /// The size a parcel's storage starts at (and the most the cache keeps per block: 64 KiB).
    static let blockSize = 512
    static let largestCached = 64 * 1024
    static let blocksPerThread = 4

    /// This thread's blocks: the one freed last, then a fixed handful of slots, filled from the
    /// front, order immaterial; and up to two emptied object states.
    private final class Blocks {
        /// Two: a call that passes an object has two parcels with objects alive at once, its
        /// request and its reply.
        @exclusivity(unchecked) var spareObjectState: Parcel.ObjectState?
        @exclusivity(unchecked) var secondSpareObjectState: Parcel.ObjectState?
        /// The block freed last: a thread making one call after another wants it back next.
        @exclusivity(unchecked) var spare: UnsafeMutableRawPointer?
        @exclusivity(unchecked) var spareCapacity = 0
        let pointers = UnsafeMutablePointer<UnsafeMutableRawPointer>.allocate(capacity: StorageCache.blocksPerThread)
        let capacities = UnsafeMutablePointer<Int>.allocate(capacity: StorageCache.blocksPerThread)
        // Per-thread: no exclusivity checks needed (they cost more than the cache saves).
        @exclusivity(unchecked) var count = 0

        deinit {
            spare?.deallocate()
            for index in 0..<count { pointers[index].deallocate() }
            pointers.deallocate()
            capacities.deallocate()
        }
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { raw in
            guard let raw else { return }
            Unmanaged<Blocks>.fromOpaque(raw).release()
        }
        return key
    }()

    /// Runs `body` with this thread's blocks, which the thread-specific slot keeps alive (no
    /// retain: this is on the path of every parcel).
    @inline(__always)
    private static func withBlocks<R>(_ body: (Blocks) -> R) -> R {
        if let raw = pthread_getspecific(key) { return Unmanaged<Blocks>.fromOpaque(raw)._withUnsafeGuaranteedRef(body) }
        let blocks = Blocks()
        pthread_setspecific(key, Unmanaged.passRetained(blocks).toOpaque())
        return body(blocks)
    }

    /// The emptied object state this thread kept, if any.
    fileprivate static func takeObjectState() -> Parcel.ObjectState? {
        withBlocks { blocks in
            if let state = blocks.spareObjectState {
                blocks.spareObjectState = nil
                return state
            }
            let state = blocks.secondSpareObjectState
            blocks.secondSpareObjectState = nil
            return state
        }
    }

    /// Keeps an emptied object state for this thread's next parcel with objects (two at most).
    fileprivate static func keep(_ state: Parcel.ObjectState) {
        withBlocks { blocks in
            if blocks.spareObjectState == nil {
                blocks.spareObjectState = state
            } else if blocks.secondSpareObjectState == nil {
                blocks.secondSpareObjectState = state
            }
        }
    }

    static func reuse(atLeast needed: Int) -> (UnsafeMutableRawPointer, Int)? {
        withBlocks { blocks in reuse(atLeast: needed, from: blocks) }
    }

    @inline(__always)
    private static func reuse(atLeast needed: Int, from blocks: Blocks) -> (UnsafeMutableRawPointer, Int)? {
        if let spare = blocks.spare, blocks.spareCapacity >= needed {
            blocks.spare = nil
            return (spare, blocks.spareCapacity)
        }
        return reuseSlot(atLeast: needed, from: blocks)
    }

    private static func reuseSlot(atLeast needed: Int, from blocks: Blocks) -> (UnsafeMutableRawPointer, Int)? {
        let wanted = max(needed, blockSize)
        for index in 0..<blocks.count where blocks.capacities[index] >= wanted {
            let found = (blocks.pointers[index], blocks.capacities[index])
            blocks.count -= 1
            blocks.pointers[index] = blocks.pointers[blocks.count]
            blocks.capacities[index] = blocks.capacities[blocks.count]
            return found
        }
        return nil
    }

    /// Keeps blocks of at least ``blockSize`` (a small one would only make the next parcel grow
    /// again) and at most ``largestCached``.
    static func recycle(_ pointer: UnsafeMutableRawPointer, capacity: Int) {
        withBlocks { blocks in recycle(pointer, capacity: capacity, into: blocks) }
    }

    @inline(__always)
    private static func recycle(_ pointer: UnsafeMutableRawPointer, capacity: Int, into blocks: Blocks) {
        if blocks.spare == nil, capacity >= blockSize, capacity <= largestCached {
            blocks.spare = pointer
            blocks.spareCapacity = capacity
            return
        }
        recycleIntoSlot(pointer, capacity: capacity, into: blocks)
    }

    private static func recycleIntoSlot(_ pointer: UnsafeMutableRawPointer, capacity: Int, into blocks: Blocks) {
        guard capacity >= blockSize, capacity <= largestCached, blocks.count < blocksPerThread else {
            pointer.deallocate()
            return
        }
        blocks.pointers[blocks.count] = pointer
        blocks.capacities[blocks.count] = capacity
        blocks.count += 1
    }
}

/// One block of parcel storage a thread lends to one parcel at a time (a served call's reply,
/// an AIDL call's request), with the object state the block's parcels used last, and takes both
/// back when the parcel is done. While they are out (a nested call), parcels get their own.
///
/// The object state travels with the block so that a parcel passing an object finds it without
/// the thread-specific look-ups of ``StorageCache`` (two per parcel, about 50 instructions and 6
/// calls, callgrind).
struct LentStorage {
    private var storage: UnsafeMutableRawPointer?
    private var capacity = 0
    private var objects: Unmanaged<Parcel.ObjectState>?

    /// An empty parcel in the block, or in no storage yet when the block is out.
    @inline(__always)
    mutating func lend(wireFormat: WireFormat) -> Parcel {
        guard let block = storage else { return Parcel(wireFormat: wireFormat) }
        storage = nil
        let lentObjects = objects
        objects = nil
        return Parcel(storage: block, capacity: capacity, objects: lentObjects, wireFormat: wireFormat)
    }

    /// Ends `parcel` and keeps its storage and object state for the next parcel, if the block
    /// is not back yet and the storage is not larger than the storage cache keeps.
    mutating func takeBack(_ parcel: consuming Parcel) {
        guard let (block, size, parcelObjects) = parcel.takeStorage() else { return }
        if storage == nil, size <= StorageCache.largestCached {
            storage = block
            capacity = size
        } else {
            block.deallocate()
        }
        if let parcelObjects { keep(parcelObjects) }
    }

    private mutating func keep(_ parcelObjects: Unmanaged<Parcel.ObjectState>) {
        if objects == nil { objects = parcelObjects } else { parcelObjects.release() }
    }

    func deallocate() {
        storage?.deallocate()
        objects?.release()
    }
}
