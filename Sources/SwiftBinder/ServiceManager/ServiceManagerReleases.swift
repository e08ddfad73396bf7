// Which generated android.os.IServiceManager table each Android release speaks, on both sides. The tables
// themselves are generated from ServiceManager/aidl (one file per release, each naming the AOSP
// tag it follows); Android 10's is Android10ServiceManager.swift, hand-written as AOSP's was.

extension AndroidRelease {
    /// The object that serves `registry` to clients of this release.
    func serviceManagerStub(for registry: ServiceManagerService) -> BinderObject {
        switch self {
        case .android10: return Android10ServiceManager.Stub(registry)
        case .android11: return android.os.IServiceManagerAndroid11.Stub(registry)
        case .android12: return android.os.IServiceManagerAndroid12.Stub(registry)
        case .android13: return android.os.IServiceManagerAndroid13.Stub(registry)
        case .android14, .android15r1: return android.os.IServiceManagerAndroid14.Stub(registry)
        case .android15: return android.os.IServiceManagerAndroid15.Stub(registry)
        case .android16: return android.os.IServiceManager.Stub(registry)
        }
    }

    /// How a client calls a servicemanager of this release at `binder`.
    func serviceManagerBackend(_ binder: any IBinder) -> any ServiceManagerBackend {
        switch self {
        case .android10: return Android10ServiceManager.Proxy(binder: binder)
        case .android11: return android.os.IServiceManagerAndroid11.Proxy(binder)
        case .android12: return android.os.IServiceManagerAndroid12.Proxy(binder)
        case .android13: return android.os.IServiceManagerAndroid13.Proxy(binder)
        case .android14, .android15r1: return android.os.IServiceManagerAndroid14.Proxy(binder)
        case .android15: return Android15Backend(proxy: android.os.IServiceManagerAndroid15.Proxy(binder))
        case .android16: return android.os.IServiceManager.Proxy(binder)
        }
    }
}

/// The calls every release has (Android 10's C servicemanager answers the first four; the rest
/// fail there with ``BinderError/notInRelease(_:_:)``).
protocol ServiceManagerBackend: Sendable {
    var binder: any IBinder { get }
    func getService(name: String) throws -> (any IBinder)?
    func checkService(name: String) throws -> (any IBinder)?
    func addService(name: String, service: any IBinder, allowIsolated: Bool, dumpPriority: Int32) throws
    func listServices(dumpPriority: Int32) throws -> [String]
    func registerForNotifications(name: String, callback: any android.os.IServiceCallback.Service) throws
    func unregisterForNotifications(name: String, callback: any android.os.IServiceCallback.Service) throws
    func isDeclared(name: String) throws -> Bool
    func registerClientCallback(name: String, service: any IBinder, callback: any android.os.IClientCallback.Service) throws
    func tryUnregisterService(name: String, service: any IBinder) throws
}

// The calls later releases added. A release's proxy conforms where its generated table has the
// method, so a missing method is a compile error here, not a wrong code at run time.
protocol DeclaredInstancesCall { func getDeclaredInstances(iface: String) throws -> [String] }
protocol UpdatableViaApexCall { func updatableViaApex(name: String) throws -> String? }
protocol UpdatableNamesCall { func getUpdatableNames(apexName: String) throws -> [String] }
protocol ConnectionInfoCall { func getConnectionInfo(name: String) throws -> android.os.ConnectionInfo? }
protocol ServiceDebugInfoCall { func getServiceDebugInfo() throws -> [android.os.ServiceDebugInfo] }
protocol Service2Call { func getService2(name: String) throws -> android.os.Service }

extension android.os.IServiceManagerAndroid11.Proxy: ServiceManagerBackend {}
extension android.os.IServiceManagerAndroid12.Proxy: ServiceManagerBackend, DeclaredInstancesCall, UpdatableViaApexCall,
    ServiceDebugInfoCall {}
extension android.os.IServiceManagerAndroid13.Proxy: ServiceManagerBackend, DeclaredInstancesCall, UpdatableViaApexCall,
    ConnectionInfoCall, ServiceDebugInfoCall {}
extension android.os.IServiceManagerAndroid14.Proxy: ServiceManagerBackend, DeclaredInstancesCall, UpdatableViaApexCall,
    UpdatableNamesCall, ConnectionInfoCall, ServiceDebugInfoCall {}
extension android.os.IServiceManager.Proxy: ServiceManagerBackend, DeclaredInstancesCall, UpdatableViaApexCall,
    UpdatableNamesCall, ConnectionInfoCall, ServiceDebugInfoCall, Service2Call {}

/// Android 15 (android-15.0.0_r6 and later): `checkService` and `getService2` return the
/// `Service` union, whose first member is a bare `@nullable IBinder` at _r6 and _r10 and a
/// `android.os.ServiceWithMetadata` from _r20 on (libs/binder/aidl/android/os/Service.aidl at those
/// tags). Both are read here; which one follows the tag is told by the next word (a binder
/// object's type, or a parcelable's non-null marker).
struct Android15Backend: ServiceManagerBackend, DeclaredInstancesCall, UpdatableViaApexCall, UpdatableNamesCall,
    ConnectionInfoCall, ServiceDebugInfoCall, Service2Call
{
    let proxy: android.os.IServiceManagerAndroid15.Proxy
    var binder: any IBinder { proxy.binder }

    func getService(name: String) throws -> (any IBinder)? { try proxy.getService(name: name) }

    func checkService(name: String) throws -> (any IBinder)? {
        guard case .serviceWithMetadata(let found) = try lookUp(android.os.IServiceManagerAndroid15.Code.checkService, name) else {
            return nil
        }
        return found.service
    }

    func getService2(name: String) throws -> android.os.Service { try lookUp(android.os.IServiceManagerAndroid15.Code.getService2, name) }

    private func lookUp(_ code: UInt32, _ name: String) throws -> android.os.Service {
        try binder.call(code: code, interface: android.os.IServiceManagerAndroid15.encodedDescriptor, flags: []) { request in
            request.writeString16(name)
        } result: { (reply: inout Parcel) throws(ParcelError) in
            try reply.readAndroid15Service()
        }
    }

    func addService(name: String, service: any IBinder, allowIsolated: Bool, dumpPriority: Int32) throws {
        try proxy.addService(name: name, service: service, allowIsolated: allowIsolated, dumpPriority: dumpPriority)
    }
    func listServices(dumpPriority: Int32) throws -> [String] { try proxy.listServices(dumpPriority: dumpPriority) }
    func registerForNotifications(name: String, callback: any android.os.IServiceCallback.Service) throws {
        try proxy.registerForNotifications(name: name, callback: callback)
    }
    func unregisterForNotifications(name: String, callback: any android.os.IServiceCallback.Service) throws {
        try proxy.unregisterForNotifications(name: name, callback: callback)
    }
    func isDeclared(name: String) throws -> Bool { try proxy.isDeclared(name: name) }
    func registerClientCallback(name: String, service: any IBinder, callback: any android.os.IClientCallback.Service) throws {
        try proxy.registerClientCallback(name: name, service: service, callback: callback)
    }
    func tryUnregisterService(name: String, service: any IBinder) throws {
        try proxy.tryUnregisterService(name: name, service: service)
    }
    func getDeclaredInstances(iface: String) throws -> [String] { try proxy.getDeclaredInstances(iface: iface) }
    func updatableViaApex(name: String) throws -> String? { try proxy.updatableViaApex(name: name) }
    func getUpdatableNames(apexName: String) throws -> [String] { try proxy.getUpdatableNames(apexName: apexName) }
    func getConnectionInfo(name: String) throws -> android.os.ConnectionInfo? { try proxy.getConnectionInfo(name: name) }
    func getServiceDebugInfo() throws -> [android.os.ServiceDebugInfo] { try proxy.getServiceDebugInfo() }
}

extension Parcel {
    /// A non-null `Service` union in either Android 15 form (see ``Android15Backend``).
    mutating func readAndroid15Service() throws(ParcelError) -> android.os.Service {
        let start = readerIndex
        do throws(ParcelError) {
            guard try readInt32() == 1 else { throw ParcelError.unexpectedNull(offset: start) }
            let tagOffset = readerIndex
            let tag = try readInt32()
            switch tag {
            case 0:
                let next = readerIndex
                let word = try readInteger(as: UInt32.self)
                readerIndex = next
                let type = BinderObjectType(rawValue: word)
                if type == .binder || type == .handle {
                    // _r6, _r10: `@nullable IBinder binder`.
                    return .serviceWithMetadata(android.os.ServiceWithMetadata(service: try readAIDLBinder(), isLazyService: false))
                }
                return .serviceWithMetadata(try readParcelable(android.os.ServiceWithMetadata.self))
            case 1:
                return .accessor(try readAIDLBinder())
            default:
                throw ParcelError.unknownUnionTag(tag, offset: tagOffset)
            }
        } catch {
            readerIndex = start
            throw error
        }
    }
}
