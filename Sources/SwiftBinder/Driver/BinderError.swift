import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An error from the binder driver layer: a failed system call, or something the driver or a
/// binderfs mount returned that SwiftBinder cannot use.
///
/// Every case names what failed and where, so that its `description` is a complete one-line
/// message, e.g. `open /dev/binderfs/missing: No such file or directory (ENOENT)`.
public enum BinderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed.
    ///
    /// - Parameters:
    ///   - call: the call, e.g. `open`, `mmap` or `ioctl(BINDER_SET_CONTEXT_MGR)`.
    ///   - path: the file the call was about, when there is one.
    ///   - errno: what the kernel returned.
    case systemCall(_ call: String, path: FilePath?, errno: Errno)

    /// The device speaks a binder protocol version other than 8 (the 64-bit protocol).
    case unsupportedProtocolVersion(Int32, path: FilePath)

    /// The directory is not the root of a binderfs mount.
    case notBinderfs(FilePath, magic: UInt64)

    /// A binderfs device name the kernel would refuse.
    case invalidDeviceName(String, reason: String)

    /// The driver's return stream could not be decoded.
    case malformedReturn(String)

    /// A transaction did not reach its target or the target could not take it. The runtime
    /// adds the kernel's extended error where the driver supports it.
    case transactionFailed(TransactionFailure, ExtendedError? = nil)

    /// The driver ended a wait with `BR_ERROR` and this code (libbinder's `waitForResponse`
    /// returns it as the call's result).
    case driverError(Int32)

    /// The target answered with a transport status (`TF_STATUS_CODE`) other than OK, e.g.
    /// `UNKNOWN_TRANSACTION` for a code it does not know.
    case remoteStatus(StatusCode)

    /// A reply could not be read.
    case malformedParcel(ParcelError)

    /// The process's binder runtime was shut down.
    case shutDown

    /// The driver lacks a feature this call needs (see binderfs `features/`).
    case unsupported(String)

    /// A user transaction on an object whose stability does not include this process's
    /// (libbinder's `BpBinder::transact` refuses it with BAD_TYPE, without sending), or an
    /// object received with another level than it had.
    case stabilityRefused(provided: StabilityLevel, required: StabilityLevel, handle: UInt32)

    /// servicemanager answers as another Android release than the device is configured for.
    case releaseMismatch(configured: AndroidRelease, source: String, detected: AndroidRelease)

    /// The peer's Android release has no such call (e.g. `isDeclared` before Android 11).
    case notInRelease(String, AndroidRelease)

    /// The configuration names a release or variant SwiftBinder cannot speak.
    case configuration(ConfigurationError)

    /// A request was built for another wire format than its target's device speaks: build it
    /// with the target's ``IBinder/prepareTransaction()``.
    case wireFormatMismatch(request: WireFormat, target: WireFormat, targetRelease: String)

    /// A call over an RPC binder session failed in the session (the connection broke, the
    /// peer broke the protocol, the session ended).
    case rpc(RpcError)

    /// The errno behind a failed system call, if that is what this error is.
    /// Why the transaction failed, when it did (the extended error aside).
    public var transactionFailure: TransactionFailure? {
        if case .transactionFailed(let failure, _) = self { return failure }
        return nil
    }

    public var errno: Errno? {
        if case .systemCall(_, _, let errno) = self { return errno }
        return nil
    }

    public var description: String {
        switch self {
        case .systemCall(let call, let path, let errno):
            let subject = path.map { "\(call) \($0)" } ?? call
            return "\(subject): \(errno) (\(errno.symbolicName))"
        case .unsupportedProtocolVersion(let version, let path):
            return "\(path): binder protocol version \(version), SwiftBinder needs version 8"
        case .notBinderfs(let path, let magic):
            let hex = String(magic, radix: 16)
            return "\(path): not a binderfs mount (filesystem magic 0x\(hex), binderfs is 0x6c6f6f70)"
        case .invalidDeviceName(let name, let reason):
            return "invalid binderfs device name '\(name)': \(reason)"
        case .malformedReturn(let detail):
            return "malformed driver return stream: \(detail)"
        case .transactionFailed(let failure, let extended):
            guard let extended, extended.command != .ok else { return "transaction failed: \(failure)" }
            // The kernel's extended error names the cause: an errno a person can look up.
            let cause = Errno(rawValue: extended.errno < 0 ? -extended.errno : extended.errno)
            return "transaction failed: \(failure); the driver's reason: \(cause) (\(cause.symbolicName))"
        case .driverError(let code):
            return "the binder driver reported error \(code) (BR_ERROR)"
        case .remoteStatus(let status):
            return "the target replied \(status)"
        case .malformedParcel(let error):
            return "malformed parcel: \(error)"
        case .shutDown:
            return "the binder runtime was shut down"
        case .stabilityRefused(let provided, let required, let handle):
            return "cannot do a user transaction on a \(provided) binder (handle \(handle)) in a \(required) context"
        case .releaseMismatch(let configured, let source, let detected):
            return "servicemanager speaks \(detected)'s protocol, but this device is configured for \(configured) "
                + "(\(source)); set the release with --protocol, SWIFTBINDER_ANDROID_RELEASE or /etc/gbinder.conf "
                + "([General] ApiLevel=\(detected.apiLevel)); see `binder config`"
        case .notInRelease(let call, let release):
            return "\(call) does not exist in \(release)'s protocol"
        case .configuration(let error):
            return "configuration: \(error)"
        case .rpc(let error):
            return "RPC binder: \(error)"
        case .wireFormatMismatch(let request, let target, let release):
            return "the request is in \(request), but its target speaks \(release) (\(target)); "
                + "build requests with the target's prepareTransaction()"
        case .unsupported(let feature):
            return "the binder driver does not support \(feature)"
        }
    }
}

/// Why the driver refused or could not deliver a transaction.
public enum TransactionFailure: Equatable, Sendable, CustomStringConvertible {
    /// The target process or thread is dead, or there is no context manager.
    ///
    /// The corresponding kernel return is `BR_DEAD_REPLY`.
    case deadTarget
    /// The driver rejected the transaction: bad data, no buffer space in the target, an fd the
    /// target does not accept, or a security hook.
    ///
    /// The corresponding kernel return is `BR_FAILED_REPLY`.
    case failed
    /// The target process is frozen.
    ///
    /// The corresponding kernel return is `BR_FROZEN_REPLY`.
    case frozenTarget

    public var description: String {
        switch self {
        case .deadTarget: return "the object's process has died, or there is no context manager (BR_DEAD_REPLY)"
        case .failed:
            return "the driver refused it: malformed data, no buffer space left in the target, a descriptor the target does not accept, or a security hook (BR_FAILED_REPLY)"
        case .frozenTarget: return "the object's process is frozen (BR_FROZEN_REPLY)"
        }
    }
}

extension Errno {
    /// The C name of the error, e.g. `ENOENT`, for messages a person can search for.
    public var symbolicName: String {
        switch rawValue {
        case Glibc.EPERM: return "EPERM"
        case Glibc.ENOENT: return "ENOENT"
        case Glibc.ESRCH: return "ESRCH"
        case Glibc.EINTR: return "EINTR"
        case Glibc.EIO: return "EIO"
        case Glibc.EBADF: return "EBADF"
        case Glibc.EAGAIN: return "EAGAIN"
        case Glibc.ENOMEM: return "ENOMEM"
        case Glibc.EACCES: return "EACCES"
        case Glibc.EFAULT: return "EFAULT"
        case Glibc.EBUSY: return "EBUSY"
        case Glibc.EEXIST: return "EEXIST"
        case Glibc.ENODEV: return "ENODEV"
        case Glibc.ENOTDIR: return "ENOTDIR"
        case Glibc.EISDIR: return "EISDIR"
        case Glibc.EINVAL: return "EINVAL"
        case Glibc.EMFILE: return "EMFILE"
        case Glibc.ENOTTY: return "ENOTTY"
        case Glibc.ENOSPC: return "ENOSPC"
        case Glibc.EROFS: return "EROFS"
        case Glibc.EPIPE: return "EPIPE"
        case Glibc.ENAMETOOLONG: return "ENAMETOOLONG"
        case Glibc.ENOSYS: return "ENOSYS"
        case Glibc.ECONNREFUSED: return "ECONNREFUSED"
        default: return "errno \(rawValue)"
        }
    }
}
