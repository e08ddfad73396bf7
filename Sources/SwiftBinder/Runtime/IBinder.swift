/// A binder object, local or remote: what AIDL's `IBinder` is.
public protocol IBinder: AnyObject, Sendable {
    /// An empty request parcel for a transaction to this object, in the wire format the object's
    /// peer speaks (libbinder's `Parcel::markForBinder`). Every request is built this way: the
    /// target, not the call site, decides the encoding.
    func prepareTransaction() -> Parcel

    /// Sends a synchronous transaction and returns the reply.
    ///
    /// - Throws: ``BinderError/transactionFailed(_:_:)`` when the driver could not deliver it
    ///   (dead or frozen target, no buffer space…), ``BinderError/remoteStatus(_:)`` when the
    ///   target answered with a transport status.
    func transact(code: UInt32, data: borrowing Parcel, flags: TransactionFlags) throws(BinderError) -> Parcel

    /// Whether the object's process is still alive, as far as this process knows.
    var isAlive: Bool { get }

    /// Sends PING_TRANSACTION.
    func ping() throws(BinderError)

    /// Asks the object for its interface descriptor (INTERFACE_TRANSACTION).
    func interfaceDescriptorOrNil() throws(BinderError) -> String?

    /// Calls `onDeath` once, on a looper thread, when the object's process dies
    /// (``BinderProxy/linkToDeath(_:)``). A local object never dies: linking to it fails, as
    /// libbinder's `BBinder::linkToDeath` answers INVALID_OPERATION.
    func linkToDeath(_ onDeath: @escaping @Sendable () -> Void) throws(BinderError) -> BinderProxy.DeathLink

    /// Removes a registration made by ``linkToDeath(_:)``.
    func unlinkToDeath(_ link: BinderProxy.DeathLink) throws(BinderError)

    /// Makes one AIDL call, as every generated proxy method does: a request in the object's
    /// wire format with `interface`'s token, written by `arguments`; the transaction; the
    /// reply's status; and the reply's values, read by `result`.
    ///
    /// A proxy makes the whole call with one look-up of its thread's engine, which lends the
    /// request its storage and frees the reply's buffer itself (see ``BinderProxy``); other
    /// objects get the general implementation, through ``prepareTransaction()`` and
    /// ``transact(code:data:flags:)``.
    ///
    /// - Throws: ``RemoteError`` only, the one error of a failed call through generated code:
    ///   ``RemoteError/exception(_:)`` when the service answered with an exception,
    ///   ``RemoteError/transport(_:)`` when the call could not be made or its parcels could not
    ///   be written or read.
    func call<Result>(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: (inout Parcel) throws(ParcelError) -> Void, result: (inout Parcel) throws(ParcelError) -> Result
    ) throws(RemoteError) -> Result

    /// Makes one oneway AIDL call: ``call(code:interface:flags:arguments:result:)`` without a
    /// reply. `flags` gets `.oneWay` added.
    func callOneway(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: (inout Parcel) throws(ParcelError) -> Void
    ) throws(RemoteError)
}

extension IBinder {
    /// Sends PING_TRANSACTION: what a remote object (a kernel handle, an RPC address) answers.
    public func ping() throws(BinderError) {
        _ = try transact(code: ReservedTransactionCode.ping, data: prepareTransaction(), flags: [])
    }

    /// Asks the object for its interface descriptor (INTERFACE_TRANSACTION), as a remote object
    /// is asked.
    public func interfaceDescriptorOrNil() throws(BinderError) -> String? {
        var reply = try transact(code: ReservedTransactionCode.interface, data: prepareTransaction(), flags: [])
        do {
            return try reply.readNullableString16()
        } catch {
            throw .malformedParcel(error)
        }
    }

    /// The object's interface descriptor ("" when it declares none).
    public func interfaceDescriptor() throws(BinderError) -> String {
        try interfaceDescriptorOrNil() ?? ""
    }

    /// Sends a synchronous transaction.
    public func transact(code: UInt32, data: borrowing Parcel) throws(BinderError) -> Parcel {
        try transact(code: code, data: data, flags: [])
    }

    public func linkToDeath(_ onDeath: @escaping @Sendable () -> Void) throws(BinderError) -> BinderProxy.DeathLink {
        throw .unsupported("linking to the death of an object in this process (it dies with the process)")
    }

    public func unlinkToDeath(_ link: BinderProxy.DeathLink) throws(BinderError) {
        throw .unsupported("unlinking from the death of an object in this process")
    }

    public func call<Result>(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: (inout Parcel) throws(ParcelError) -> Void, result: (inout Parcel) throws(ParcelError) -> Result
    ) throws(RemoteError) -> Result {
        var request = prepareTransaction()
        request.writeInterfaceToken(interface)
        do throws(ParcelError) { try arguments(&request) } catch { throw .transport(.malformedParcel(error)) }
        var reply: Parcel
        do throws(BinderError) { reply = try transact(code: code, data: request, flags: flags) } catch { throw .transport(error) }
        return try reply.readAIDLReply(result)
    }

    public func callOneway(
        code: UInt32, interface: InterfaceDescriptor, flags: TransactionFlags,
        arguments: (inout Parcel) throws(ParcelError) -> Void
    ) throws(RemoteError) {
        var request = prepareTransaction()
        request.writeInterfaceToken(interface)
        do throws(ParcelError) { try arguments(&request) } catch { throw .transport(.malformedParcel(error)) }
        do throws(BinderError) { _ = try transact(code: code, data: request, flags: flags.union(.oneWay)) } catch {
            throw .transport(error)
        }
    }
}

extension Parcel {
    /// Reads an AIDL reply: its status, then (when it is OK) the values `result` reads.
    @inline(__always)
    mutating func readAIDLReply<Result>(_ result: (inout Parcel) throws(ParcelError) -> Result) throws(RemoteError) -> Result {
        if !skipNoException() {
            let status: Status
            do throws(ParcelError) { status = try readStatus() } catch { throw .transport(.malformedParcel(error)) }
            guard status.isOK else { throw .exception(status) }
        }
        do throws(ParcelError) { return try result(&self) } catch { throw .transport(.malformedParcel(error)) }
    }
}

extension Parcel {
    /// Writes a binder object (AIDL `IBinder` or an interface), null for nil.
    ///
    /// A local object is written as itself (the kernel creates a node for it) and the parcel
    /// keeps it alive until the parcel is destroyed, by which time the kernel holds its own
    /// references; its stability is its own, else this process's level. A proxy is written as
    /// its handle, with the stability it arrived with.
    public mutating func writeStrongBinder(_ binder: (any IBinder)?) {
        if wireFormat.isRPC {
            writeRPCStrongBinder(binder)
            return
        }
        switch binder {
        case nil:
            writeBinder(nil)
        case let object as BinderObject:
            LocalObjectRegistry.shared.register(object)
            keepAlive(object)
            // A process without background scheduling writes no priority bits (flattenBinder).
            let flags = wireFormat.schedulingBits == 0 ? object.nodeFlags & ~BinderObjectFlags.priorityMask : object.nodeFlags
            writeBinder(
                .local(NodeIdentity(pointer: object.nodeID, cookie: object.nodeCookie)), flags: flags,
                stability: object.stability ?? wireFormat.localStability)
        case let proxy as BinderProxy:
            keepAlive(proxy)
            // Sent on with the level it arrived with (libbinder's finishFlattenBinder).
            writeBinder(.handle(proxy.handle), stability: proxy.stability)
        default:
            preconditionFailure("\(type(of: binder!)) is neither a BinderObject nor a BinderProxy")
        }
    }

    /// Reads a binder object that may be null: a local object of this process, or a proxy for
    /// a handle. For a received parcel, the proxy takes its own kernel references before the
    /// parcel's buffer is freed.
    ///
    /// - Parameter process: where handles refer to; by default the process that received the
    ///   parcel.
    public mutating func readNullableStrongBinder(process: BinderProcess? = nil) throws(BinderError) -> (any IBinder)? {
        if wireFormat.isRPC { return try readRPCStrongBinder() }
        let start = readerIndex
        let received: ReceivedBinder?
        do {
            received = try readNullableBinder()
        } catch {
            throw .malformedParcel(error)
        }
        guard let received else { return nil }
        switch received.reference {
        case .local(let node):
            guard let object = LocalObjectRegistry.shared.object(for: node) else {
                readerIndex = start
                throw .malformedParcel(.objectNotListed(offset: start))
            }
            return object
        case .handle(let handle):
            // The parcel holds its owner: no retain for the look-up.
            let stability = received.stability
            let binder: (any IBinder)?
            do {
                binder = try withReceivedBufferOwner { (received) throws(BinderError) -> (any IBinder)? in
                    guard let owner = process ?? (received as? BinderProcess) else { return nil }
                    // Handle 0 is the context manager: in the context manager itself, that is a
                    // local object (and the kernel refuses it references to handle 0).
                    if handle == 0, let local = owner.contextManagerObject { return local }
                    let proxy = try owner.proxy(forHandle: handle)
                    guard proxy.recordStability(stability) else {
                        throw .malformedParcel(.invalidStability(Int32(stability.rawValue), offset: start + FlatBinderObject.size))
                    }
                    return proxy
                }
            } catch {
                readerIndex = start
                throw error
            }
            guard let binder else {
                readerIndex = start
                throw .malformedParcel(.unexpectedObjectType(BinderObjectType.handle.rawValue, offset: start))
            }
            return binder
        }
    }

    /// Reads a non-null binder object.
    public mutating func readStrongBinder(process: BinderProcess? = nil) throws(BinderError) -> any IBinder {
        let start = readerIndex
        guard let binder = try readNullableStrongBinder(process: process) else {
            throw .malformedParcel(.unexpectedNull(offset: start))
        }
        return binder
    }
}

extension Parcel {
    /// A binder in an RPC parcel: null, a proxy of the session the parcel goes to (with the
    /// stability it arrived with), or a local object, which gets the session's address for it.
    /// What RPC cannot carry (a kernel binder, another session's proxy) marks the parcel, and
    /// sending it fails (``BinderError/unsupported(_:)``).
    @inline(never)  // kept out of writeStrongBinder's kernel path
    mutating func writeRPCStrongBinder(_ binder: (any IBinder)?) {
        let state = rpcSession as? RpcSessionState
        switch binder {
        case nil:
            writeRPCBinder(address: nil, stability: .undeclared)
        case let proxy as RpcProxy where state == nil || proxy.state === state:
            keepAlive(proxy)
            let position = dataSize
            writeRPCBinder(address: proxy.address, stability: proxy.stability)
            if proxy.state.version >= RpcProtocolVersion.v2 { listRPCObject(at: position) }
        case let object as BinderObject:
            do throws(RpcError) {
                guard let state else { throw .malformed("a local object in an RPC parcel made for no session") }
                // The peer owes a reference from now (libbinder takes it at write time too).
                let position = dataSize
                writeRPCBinder(address: try state.address(sending: object), stability: object.stability ?? .system)
                // From version 2 every non-null binder is in the object table.
                if state.version >= RpcProtocolVersion.v2 { listRPCObject(at: position) }
            } catch {
                markUnsendable("\(error)")
                writeRPCBinder(address: nil, stability: .undeclared)
            }
        default:
            // A kernel handle, or another session's proxy: libbinder refuses them (INVALID_OPERATION).
            markUnsendable("\(type(of: binder!)) cannot be sent over this RPC session")
            writeRPCBinder(address: nil, stability: .undeclared)
        }
    }

    /// A binder read from an RPC parcel received by a session: null, an object of this side,
    /// or a proxy of the peer's (libbinder's `unflattenBinder` for RPC).
    @inline(never)  // kept out of readNullableStrongBinder's kernel path
    mutating func readRPCStrongBinder() throws(BinderError) -> (any IBinder)? {
        let start = readerIndex
        let (address, stability): (RpcAddress?, StabilityLevel)
        do throws(ParcelError) {
            (address, stability) = try readRPCBinder()
        } catch {
            throw .malformedParcel(error)
        }
        guard let address else { return nil }
        guard let state = withReceivedBufferOwner({ ($0 as? RpcReceivedData)?.state }) else {
            readerIndex = start
            throw .unsupported("an RPC binder in a parcel no session received")
        }
        // From version 2 a binder the object table does not list is refused (android-16.0.0_r4).
        if state.version >= RpcProtocolVersion.v2, !isRPCObjectListed(at: start) {
            readerIndex = start
            throw .malformedParcel(.objectNotListed(offset: start))
        }
        let binder: any IBinder
        do throws(RpcError) { binder = try state.binder(receiving: address) } catch {
            readerIndex = start
            throw .rpc(error)
        }
        if let proxy = binder as? RpcProxy {
            guard proxy.recordStability(stability) else {
                readerIndex = start
                // i32 1 and the u64 address come before the stability.
                throw .malformedParcel(.invalidStability(Int32(stability.rawValue), offset: start + 12))
            }
        } else {
            // One of ours, sent back: the reference the peer counted for sending it returns at
            // once (libbinder's flushExcessBinderRefs).
            state.returnReferences(to: address, amount: 1)
        }
        return binder
    }
}
