/// An AIDL exception code: the first word of every AIDL reply (`binder::Status`).
public struct ExceptionCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let none = Self(rawValue: 0)
    public static let security = Self(rawValue: -1)
    public static let badParcelable = Self(rawValue: -2)
    public static let illegalArgument = Self(rawValue: -3)
    public static let nullPointer = Self(rawValue: -4)
    public static let illegalState = Self(rawValue: -5)
    public static let networkMainThread = Self(rawValue: -6)
    public static let unsupportedOperation = Self(rawValue: -7)
    public static let serviceSpecific = Self(rawValue: -8)
    public static let parcelable = Self(rawValue: -9)
    /// A Java server's app-ops header precedes the real code.
    public static let hasNotedAppOpsReplyHeader = Self(rawValue: -127)
    /// A Java server's StrictMode header: skipped, and means no exception.
    public static let hasReplyHeader = Self(rawValue: -128)
    /// Local only: the transaction itself failed. Never on the wire.
    public static let transactionFailed = Self(rawValue: -129)

    public var description: String {
        switch self {
        case .none: return "EX_NONE"
        case .security: return "EX_SECURITY"
        case .badParcelable: return "EX_BAD_PARCELABLE"
        case .illegalArgument: return "EX_ILLEGAL_ARGUMENT"
        case .nullPointer: return "EX_NULL_POINTER"
        case .illegalState: return "EX_ILLEGAL_STATE"
        case .networkMainThread: return "EX_NETWORK_MAIN_THREAD"
        case .unsupportedOperation: return "EX_UNSUPPORTED_OPERATION"
        case .serviceSpecific: return "EX_SERVICE_SPECIFIC"
        case .parcelable: return "EX_PARCELABLE"
        case .transactionFailed: return "EX_TRANSACTION_FAILED"
        default: return "exception(\(rawValue))"
        }
    }
}

/// The status at the head of an AIDL reply: success, or an exception with a message and, for
/// `EX_SERVICE_SPECIFIC`, the service's own error code.
public struct Status: Error, Hashable, Sendable, CustomStringConvertible {
    public var exception: ExceptionCode
    public var message: String?
    public var serviceSpecificError: Int32
    /// For `EX_TRANSACTION_FAILED`: the transport status the call fails with (libbinder's
    /// `mErrorCode`); never on the wire as a parcel.
    public var transactionError: StatusCode?

    public init(exception: ExceptionCode, message: String? = nil, serviceSpecificError: Int32 = 0) {
        self.exception = exception
        self.message = message
        self.serviceSpecificError = exception == .serviceSpecific ? serviceSpecificError : 0
        self.transactionError = exception == .transactionFailed ? .failedTransaction : nil
    }

    public static let ok = Status(exception: .none)

    /// A status that fails the call with the transport status `code` (libbinder's
    /// `Status::fromStatusT`): a stub answers it with that status code instead of a reply
    /// parcel, as a C++ service whose method returns `Status::fromStatusT(UNKNOWN_TRANSACTION)`.
    public static func transactionFailed(_ code: StatusCode, message: String? = nil) -> Status {
        var status = Status(exception: .transactionFailed, message: message)
        status.transactionError = code
        return status
    }

    /// A service-specific error, as AIDL services report their own failures.
    public static func serviceSpecific(_ code: Int32, message: String? = nil) -> Status {
        Status(exception: .serviceSpecific, message: message, serviceSpecificError: code)
    }

    public var isOK: Bool { exception == .none }

    public var description: String {
        if isOK { return "OK" }
        var text = exception.description
        if exception == .serviceSpecific { text += " \(serviceSpecificError)" }
        if let message { text += ": \(message)" }
        return text
    }
}

extension Parcel {
    /// Writes the reply status: int32 0 for success; otherwise the exception code, the
    /// message, an empty remote stack trace header, and the service-specific code if any.
    public mutating func writeStatus(_ status: Status) {
        writeInt32(status.exception.rawValue)
        guard !status.isOK else { return }
        writeString16(status.message)
        writeInt32(0)  // remote stack trace header: none from native code
        if status.exception == .serviceSpecific {
            writeInt32(status.serviceSpecificError)
        } else if status.exception == .parcelable {
            writeInt32(0)  // no parcelable body, as native libbinder writes it
        }
    }

    /// Writes the status of a call that succeeded: int32 0 (libbinder's `writeNoException`;
    /// what generated stubs write, without making a ``Status``).
    public mutating func writeNoException() {
        writeInteger(ExceptionCode.none.rawValue)
    }

    /// Writes the status that ends a served AIDL call, as libbinder's `Status::writeToParcel`:
    /// EX_TRANSACTION_FAILED is never written; the call fails with its transport status instead
    /// (FAILED_TRANSACTION unless the status names another).
    public mutating func writeReplyStatus(_ status: Status) throws(StatusCode) {
        guard status.exception != .transactionFailed else { throw status.transactionError ?? .failedTransaction }
        writeStatus(status)
    }

    /// Reads the reply status, skipping the headers Java servers may put first (−127 app-ops,
    /// −128 StrictMode) and a remote stack trace.
    public mutating func readStatus() throws(ParcelError) -> Status {
        if skipNoException() { return Status(exception: .none) }
        return try readFullStatus()
    }

    /// Moves past an `EX_NONE` status word, the usual reply, if that is what comes next (no
    /// `Status` is made for it).
    @inline(__always)
    mutating func skipNoException() -> Bool {
        guard storedDataSize &- storedReaderIndex >= 4, let base,
            base.loadUnaligned(fromByteOffset: storedReaderIndex, as: Int32.self) == ExceptionCode.none.rawValue
        else { return false }
        storedReaderIndex &+= 4
        return true
    }

    private mutating func readFullStatus() throws(ParcelError) -> Status {
        let start = readerIndex
        do throws(ParcelError) {
            var code = ExceptionCode(rawValue: try readInt32())
            if code == .hasNotedAppOpsReplyHeader {
                try skipSizedHeader()
                code = ExceptionCode(rawValue: try readInt32())
            }
            if code == .hasReplyHeader {
                try skipSizedHeader()
                return .ok
            }
            if code == .none { return .ok }
            let message = try readNullableString16()
            let traceStart = readerIndex
            let traceSize = try readInt32()
            if traceSize != 0 {
                readerIndex = traceStart
                try skipSizedHeader()
            }
            var serviceError: Int32 = 0
            if code == .serviceSpecific {
                serviceError = try readInt32()
            } else if code == .parcelable {
                let bodyStart = readerIndex
                if try readInt32() != 0 {
                    readerIndex = bodyStart
                    try skipSizedHeader()
                }
            }
            return Status(exception: code, message: message, serviceSpecificError: serviceError)
        } catch {
            readerIndex = start
            throw error
        }
    }

    /// Skips a block that starts with its own int32 size (the size counts itself): to exactly
    /// `start + size`, as libbinder's `Status::readFromParcel` sets the position (no padding,
    /// and any size from 0 to what remains, libs/binder/Status.cpp at android-14.0.0_r1).
    private mutating func skipSizedHeader() throws(ParcelError) {
        let start = readerIndex
        let size = try readInt32()
        guard size >= 0, Int(size) <= dataSize - start else {
            readerIndex = start
            throw .invalidLength(Int64(size), offset: start)
        }
        readerIndex = start + Int(size)
    }
}

/// libbinder's `status_t`: the 32-bit transport status a `TF_STATUS_CODE` reply carries.
public struct StatusCode: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let ok = Self(rawValue: 0)
    public static let unknownError = Self(rawValue: Int32.min)
    public static let noMemory = Self(rawValue: -12)
    public static let invalidOperation = Self(rawValue: -38)
    public static let badValue = Self(rawValue: -22)
    public static let badType = Self(rawValue: Int32.min + 1)
    public static let nameNotFound = Self(rawValue: -2)
    public static let permissionDenied = Self(rawValue: -1)
    public static let noInit = Self(rawValue: -19)
    public static let alreadyExists = Self(rawValue: -17)
    public static let deadObject = Self(rawValue: -32)
    public static let failedTransaction = Self(rawValue: Int32.min + 2)
    public static let badIndex = Self(rawValue: -75)
    public static let notEnoughData = Self(rawValue: -61)
    public static let wouldBlock = Self(rawValue: -11)
    public static let timedOut = Self(rawValue: -110)
    public static let unknownTransaction = Self(rawValue: -74)
    public static let fdsNotAllowed = Self(rawValue: Int32.min + 7)
    public static let unexpectedNull = Self(rawValue: Int32.min + 8)

    public var description: String {
        let names: [Int32: String] = [
            0: "OK", Int32.min: "UNKNOWN_ERROR", -12: "NO_MEMORY", -38: "INVALID_OPERATION", -22: "BAD_VALUE",
            Int32.min + 1: "BAD_TYPE", -2: "NAME_NOT_FOUND", -1: "PERMISSION_DENIED", -19: "NO_INIT",
            -17: "ALREADY_EXISTS", -32: "DEAD_OBJECT", Int32.min + 2: "FAILED_TRANSACTION", -75: "BAD_INDEX",
            -61: "NOT_ENOUGH_DATA", -11: "WOULD_BLOCK", -110: "TIMED_OUT", -74: "UNKNOWN_TRANSACTION",
            Int32.min + 7: "FDS_NOT_ALLOWED", Int32.min + 8: "UNEXPECTED_NULL",
        ]
        return names[rawValue] ?? "status_t(\(rawValue))"
    }

    /// The status a service sends back when it cannot read a request.
    public init(_ error: ParcelError) {
        switch error {
        case .unexpectedNull: self = .unexpectedNull
        case .notEnoughData: self = .notEnoughData
        case .interfaceHeaderMismatch, .unexpectedInterfaceHeader, .interfaceDescriptorMismatch, .invalidStability, .unexpectedObjectType:
            self = .badType
        default: self = .badValue
        }
    }
}
