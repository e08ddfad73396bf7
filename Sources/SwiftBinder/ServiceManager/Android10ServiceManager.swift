/// Android 10's servicemanager protocol: the C servicemanager (cmds/servicemanager/
/// service_manager.c at android-10.0.0_r1) and libbinder's hand-written `BpServiceManager`
/// (libs/binder/IServiceManager.cpp at the same tag). There is no AIDL for it: its four codes
/// and layouts are written out here as they are there.
///
/// - Requests start with Android 10's interface token (policy, work source, descriptor; no
///   header word).
/// - `getService`/`checkService` (codes 1, 2): the name; the reply is a bare
///   `flat_binder_object` (no status, no stability), or a single int32 0 when there is no such
///   service or the caller may not see it.
/// - `addService` (3): name, binder, int32 allowIsolated, int32 dumpPriority; the reply is int32 0.
/// - `listServices` (4): int32 index, int32 dumpPriority; the reply is the index-th name among
///   those whose priority matches, newest first, as String16. Clients ask for 0, 1, 2… until a
///   call fails. The C servicemanager does not register itself, so "manager" is not listed.
/// - Every refusal is a `TF_STATUS_CODE` reply of −1.
/// - No notifications, lazy services or declarations: Android 10 had none.
public enum Android10ServiceManager {
    /// The transaction codes (`SVC_MGR_*` in service_manager.c).
    public enum Code {
        public static let getService: UInt32 = 1
        public static let checkService: UInt32 = 2
        public static let addService: UInt32 = 3
        public static let listServices: UInt32 = 4
    }

    /// The status of every refusal: service_manager.c returns −1 from its handler, which
    /// binder.c sends as the reply's status code.
    public static let refusal = StatusCode(rawValue: -1)

    /// The flags of the objects the C servicemanager writes (`bio_put_ref`, `bio_put_obj` in
    /// cmds/servicemanager/binder.c): priority bits 0x7f and FLAT_BINDER_FLAG_ACCEPTS_FDS.
    public static let referenceFlags: UInt32 = 0x17F

    /// Serves the registry to Android 10 clients.
    final class Stub: BinderObject, @unchecked Sendable {
        private let registry: ServiceManagerService

        init(_ registry: ServiceManagerService) {
            self.registry = registry
        }

        override var interfaceDescriptor: String { ServiceManagerService.descriptor }

        /// service_manager.c answers PING and its four codes; everything else is refused (−1).
        override var answersReservedTransactions: Bool { false }

        override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
            guard (Code.getService...Code.listServices).contains(code) else { throw refusal }
            do {
                try data.enforceInterface(interfaceDescriptor)
                switch code {
                case Code.getService, Code.checkService:
                    let name = try data.readString16()
                    guard let binder = try registry.lookUp(name, caller: registry.caller) else {
                        reply.writeInt32(0)
                        return
                    }
                    guard let proxy = binder as? BinderProxy else {
                        reply.writeStrongBinder(binder)
                        return
                    }
                    // bio_put_ref: a handle object with flags 0x7f | FLAT_BINDER_FLAG_ACCEPTS_FDS.
                    reply.keepAlive(proxy)
                    reply.writeObject(
                        FlatBinderObject(type: .handle, flags: Android10ServiceManager.referenceFlags, binderOrHandle: UInt64(proxy.handle)),
                        listed: true)
                case Code.addService:
                    let name = try data.readString16()
                    let service = try data.readStrongBinder()
                    let allowIsolated = try data.readInt32() != 0
                    let dumpPriority = try data.readInt32()
                    try registry.addService(name: name, service: service, allowIsolated: allowIsolated, dumpPriority: dumpPriority)
                    reply.writeInt32(0)
                case Code.listServices:
                    let index = try data.readInt32()
                    let dumpPriority = try data.readInt32()
                    let names = try registry.namesNewestFirst(dumpPriority: dumpPriority)
                    guard index >= 0, Int(index) < names.count else { throw refusal }
                    reply.writeString16(names[Int(index)])
                default:
                    throw refusal
                }
            } catch let status as StatusCode {
                throw status
            } catch {
                throw refusal
            }
        }
    }

    /// Calls an Android 10 servicemanager.
    struct Proxy: ServiceManagerBackend {
        let binder: any IBinder

        private func request(_ write: (inout Parcel) -> Void) -> Parcel {
            var parcel = binder.prepareTransaction()
            parcel.writeInterfaceToken(ServiceManagerService.descriptor)
            write(&parcel)
            return parcel
        }

        func getService(name: String) throws -> (any IBinder)? { try checkService(name: name) }

        func checkService(name: String) throws -> (any IBinder)? {
            var reply = try binder.transact(code: Code.checkService, data: request { $0.writeString16(name) })
            // "Not found" is a lone int32 0, too short for an object.
            guard reply.dataSize > 4 else { return nil }
            return try reply.readNullableStrongBinder()
        }

        func addService(name: String, service: any IBinder, allowIsolated: Bool, dumpPriority: Int32) throws {
            var reply = try binder.transact(
                code: Code.addService,
                data: request {
                    $0.writeString16(name)
                    $0.writeStrongBinder(service)
                    $0.writeInt32(allowIsolated ? 1 : 0)
                    $0.writeInt32(dumpPriority)
                })
            let result = try reply.readInt32()
            guard result == 0 else { throw BinderError.remoteStatus(StatusCode(rawValue: result)) }
        }

        func listServices(dumpPriority: Int32) throws -> [String] {
            var names: [String] = []
            // As libbinder does: ask for each index until servicemanager refuses one. Bounded by
            // the registry's own cap, so a peer that never refuses cannot keep us here.
            while names.count < 1 << 16 {
                let index = Int32(names.count)
                var reply: Parcel
                do {
                    reply = try binder.transact(
                        code: Code.listServices,
                        data: request {
                            $0.writeInt32(index)
                            $0.writeInt32(dumpPriority)
                        })
                } catch .remoteStatus {
                    break
                }
                names.append(try reply.readString16())
            }
            return names
        }

        func registerForNotifications(name: String, callback: any android.os.IServiceCallback.Service) throws {
            throw RemoteError.transport(.notInRelease("registerForNotifications", .android10))
        }

        func unregisterForNotifications(name: String, callback: any android.os.IServiceCallback.Service) throws {
            throw RemoteError.transport(.notInRelease("unregisterForNotifications", .android10))
        }

        func isDeclared(name: String) throws -> Bool {
            throw RemoteError.transport(.notInRelease("isDeclared", .android10))
        }

        func registerClientCallback(name: String, service: any IBinder, callback: any android.os.IClientCallback.Service) throws {
            throw RemoteError.transport(.notInRelease("registerClientCallback", .android10))
        }

        func tryUnregisterService(name: String, service: any IBinder) throws {
            throw RemoteError.transport(.notInRelease("tryUnregisterService", .android10))
        }
    }
}
