import CBinder

/// A command word written to the driver (`BC_*`).
public struct DriverCommand: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Start a transaction: `binder_transaction_data` follows. `BC_TRANSACTION`.
    public static let transaction = Self(rawValue: BC_TRANSACTION.rawValue)
    /// Answer the transaction being served: `binder_transaction_data` follows. `BC_REPLY`.
    public static let reply = Self(rawValue: BC_REPLY.rawValue)
    /// Hand a received buffer back: its u64 address follows. `BC_FREE_BUFFER`.
    public static let freeBuffer = Self(rawValue: BC_FREE_BUFFER.rawValue)
    /// Take a weak reference on a handle (u32). `BC_INCREFS`.
    public static let incrementWeak = Self(rawValue: BC_INCREFS.rawValue)
    /// Take a strong reference on a handle (u32). `BC_ACQUIRE`.
    public static let incrementStrong = Self(rawValue: BC_ACQUIRE.rawValue)
    /// Drop a strong reference on a handle (u32). `BC_RELEASE`.
    public static let decrementStrong = Self(rawValue: BC_RELEASE.rawValue)
    /// Drop a weak reference on a handle (u32). `BC_DECREFS`.
    public static let decrementWeak = Self(rawValue: BC_DECREFS.rawValue)
    /// Acknowledge `BR_INCREFS` with its ptr and cookie. `BC_INCREFS_DONE`.
    public static let incrementWeakDone = Self(rawValue: BC_INCREFS_DONE.rawValue)
    /// Acknowledge `BR_ACQUIRE` with its ptr and cookie. `BC_ACQUIRE_DONE`.
    public static let incrementStrongDone = Self(rawValue: BC_ACQUIRE_DONE.rawValue)
    /// A thread started because the driver asked joins the pool. `BC_REGISTER_LOOPER`.
    public static let registerLooper = Self(rawValue: BC_REGISTER_LOOPER.rawValue)
    /// A thread joins the pool on its own. `BC_ENTER_LOOPER`.
    public static let enterLooper = Self(rawValue: BC_ENTER_LOOPER.rawValue)
    /// A thread leaves the pool. `BC_EXIT_LOOPER`.
    public static let exitLooper = Self(rawValue: BC_EXIT_LOOPER.rawValue)
    /// Watch a handle's node for death: packed {u32 handle, u64 cookie}. `BC_REQUEST_DEATH_NOTIFICATION`.
    public static let requestDeathNotification = Self(rawValue: BC_REQUEST_DEATH_NOTIFICATION.rawValue)
    /// Stop watching: packed {u32 handle, u64 cookie}. `BC_CLEAR_DEATH_NOTIFICATION`.
    public static let clearDeathNotification = Self(rawValue: BC_CLEAR_DEATH_NOTIFICATION.rawValue)
    /// Acknowledge `BR_DEAD_BINDER` (u64 cookie). `BC_DEAD_BINDER_DONE`.
    public static let deadBinderDone = Self(rawValue: BC_DEAD_BINDER_DONE.rawValue)
    /// Watch a handle's node for freezing (Linux 6.12). `BC_REQUEST_FREEZE_NOTIFICATION`.
    public static let requestFreezeNotification = Self(rawValue: CBinder_BC_REQUEST_FREEZE_NOTIFICATION)
    /// Stop watching for freezing (Linux 6.12). `BC_CLEAR_FREEZE_NOTIFICATION`.
    public static let clearFreezeNotification = Self(rawValue: CBinder_BC_CLEAR_FREEZE_NOTIFICATION)
    /// Acknowledge `BR_FROZEN_BINDER` (Linux 6.12). `BC_FREEZE_NOTIFICATION_DONE`.
    public static let freezeNotificationDone = Self(rawValue: CBinder_BC_FREEZE_NOTIFICATION_DONE)

    public var description: String {
        let names: [DriverCommand: String] = [
            .transaction: "BC_TRANSACTION", .reply: "BC_REPLY", .freeBuffer: "BC_FREE_BUFFER",
            .incrementWeak: "BC_INCREFS", .incrementStrong: "BC_ACQUIRE", .decrementStrong: "BC_RELEASE",
            .decrementWeak: "BC_DECREFS", .incrementWeakDone: "BC_INCREFS_DONE",
            .incrementStrongDone: "BC_ACQUIRE_DONE", .registerLooper: "BC_REGISTER_LOOPER",
            .enterLooper: "BC_ENTER_LOOPER", .exitLooper: "BC_EXIT_LOOPER",
            .requestDeathNotification: "BC_REQUEST_DEATH_NOTIFICATION",
            .clearDeathNotification: "BC_CLEAR_DEATH_NOTIFICATION", .deadBinderDone: "BC_DEAD_BINDER_DONE",
            .requestFreezeNotification: "BC_REQUEST_FREEZE_NOTIFICATION",
            .clearFreezeNotification: "BC_CLEAR_FREEZE_NOTIFICATION",
            .freezeNotificationDone: "BC_FREEZE_NOTIFICATION_DONE",
        ]
        return names[self] ?? "BC_(0x\(String(rawValue, radix: 16)))"
    }
}

/// A return word read from the driver (`BR_*`).
public struct DriverReturnCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let error = Self(rawValue: BR_ERROR.rawValue)
    public static let ok = Self(rawValue: BR_OK.rawValue)
    public static let transactionWithSecurityContext = Self(rawValue: BR_TRANSACTION_SEC_CTX.rawValue)
    public static let transaction = Self(rawValue: BR_TRANSACTION.rawValue)
    public static let reply = Self(rawValue: BR_REPLY.rawValue)
    public static let acquireResult = Self(rawValue: BR_ACQUIRE_RESULT.rawValue)
    public static let deadReply = Self(rawValue: BR_DEAD_REPLY.rawValue)
    public static let transactionComplete = Self(rawValue: BR_TRANSACTION_COMPLETE.rawValue)
    public static let incrementWeak = Self(rawValue: BR_INCREFS.rawValue)
    public static let incrementStrong = Self(rawValue: BR_ACQUIRE.rawValue)
    public static let decrementStrong = Self(rawValue: BR_RELEASE.rawValue)
    public static let decrementWeak = Self(rawValue: BR_DECREFS.rawValue)
    public static let attemptAcquire = Self(rawValue: BR_ATTEMPT_ACQUIRE.rawValue)
    public static let noop = Self(rawValue: BR_NOOP.rawValue)
    public static let spawnLooper = Self(rawValue: BR_SPAWN_LOOPER.rawValue)
    public static let finished = Self(rawValue: BR_FINISHED.rawValue)
    public static let deadBinder = Self(rawValue: BR_DEAD_BINDER.rawValue)
    public static let clearDeathNotificationDone = Self(rawValue: BR_CLEAR_DEATH_NOTIFICATION_DONE.rawValue)
    public static let failedReply = Self(rawValue: BR_FAILED_REPLY.rawValue)
    public static let frozenReply = Self(rawValue: BR_FROZEN_REPLY.rawValue)
    public static let onewaySpamSuspect = Self(rawValue: BR_ONEWAY_SPAM_SUSPECT.rawValue)
    public static let transactionPendingFrozen = Self(rawValue: CBinder_BR_TRANSACTION_PENDING_FROZEN)
    public static let frozenBinder = Self(rawValue: CBinder_BR_FROZEN_BINDER)
    public static let clearFreezeNotificationDone = Self(rawValue: CBinder_BR_CLEAR_FREEZE_NOTIFICATION_DONE)

    public var description: String {
        let names: [DriverReturnCode: String] = [
            .error: "BR_ERROR", .ok: "BR_OK", .transactionWithSecurityContext: "BR_TRANSACTION_SEC_CTX",
            .transaction: "BR_TRANSACTION", .reply: "BR_REPLY", .acquireResult: "BR_ACQUIRE_RESULT",
            .deadReply: "BR_DEAD_REPLY", .transactionComplete: "BR_TRANSACTION_COMPLETE",
            .incrementWeak: "BR_INCREFS", .incrementStrong: "BR_ACQUIRE", .decrementStrong: "BR_RELEASE",
            .decrementWeak: "BR_DECREFS", .attemptAcquire: "BR_ATTEMPT_ACQUIRE", .noop: "BR_NOOP",
            .spawnLooper: "BR_SPAWN_LOOPER", .finished: "BR_FINISHED", .deadBinder: "BR_DEAD_BINDER",
            .clearDeathNotificationDone: "BR_CLEAR_DEATH_NOTIFICATION_DONE", .failedReply: "BR_FAILED_REPLY",
            .frozenReply: "BR_FROZEN_REPLY", .onewaySpamSuspect: "BR_ONEWAY_SPAM_SUSPECT",
            .transactionPendingFrozen: "BR_TRANSACTION_PENDING_FROZEN", .frozenBinder: "BR_FROZEN_BINDER",
            .clearFreezeNotificationDone: "BR_CLEAR_FREEZE_NOTIFICATION_DONE",
        ]
        return names[self] ?? "BR_(0x\(String(rawValue, radix: 16)))"
    }

    /// Payload bytes after the command word: the size field of the ioctl-style encoding.
    public var payloadSize: Int { Int((rawValue >> 16) & 0x3FFF) }
}

/// Flags of a transaction (`TF_*`).
public struct TransactionFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Asynchronous: no reply, the sender's pid is not delivered. `TF_ONE_WAY`.
    public static let oneWay = Self(rawValue: UInt32(TF_ONE_WAY.rawValue))
    /// The data is a single 32-bit status code. `TF_STATUS_CODE`.
    public static let statusCode = Self(rawValue: UInt32(TF_STATUS_CODE.rawValue))
    /// The sender accepts file descriptors in the reply. `TF_ACCEPT_FDS`.
    public static let acceptFileDescriptors = Self(rawValue: UInt32(TF_ACCEPT_FDS.rawValue))
    /// The kernel zeroes the buffer when it is freed. `TF_CLEAR_BUF`.
    public static let clearBuffer = Self(rawValue: UInt32(TF_CLEAR_BUF.rawValue))
    /// A queued oneway to a frozen process is replaced by this one. `TF_UPDATE_TXN`.
    public static let updateTransaction = Self(rawValue: UInt32(TF_UPDATE_TXN.rawValue))
}

/// The fixed part of a transaction as the driver exchanges it (`binder_transaction_data`,
/// 64 bytes). Addresses are the sender's (outgoing) or inside the receive buffer (incoming).
public struct TransactionData: Equatable, Sendable {
    /// Outgoing: the target handle. Incoming: the target node's ptr (0 for the context manager).
    public var target: UInt64
    /// Incoming: the target node's cookie.
    public var cookie: UInt64
    public var code: UInt32
    public var flags: TransactionFlags
    /// The sender's process id, stamped by the kernel (0 for oneway).
    public var senderPID: Int32
    /// The sender's effective uid, stamped by the kernel.
    public var senderEUID: UInt32
    public var dataSize: UInt64
    public var offsetsSize: UInt64
    public var dataAddress: UInt64
    public var offsetsAddress: UInt64

    public static let size = 64

    public init(
        target: UInt64 = 0, cookie: UInt64 = 0, code: UInt32 = 0, flags: TransactionFlags = [],
        senderPID: Int32 = 0, senderEUID: UInt32 = 0, dataSize: UInt64 = 0, offsetsSize: UInt64 = 0,
        dataAddress: UInt64 = 0, offsetsAddress: UInt64 = 0
    ) {
        self.target = target
        self.cookie = cookie
        self.code = code
        self.flags = flags
        self.senderPID = senderPID
        self.senderEUID = senderEUID
        self.dataSize = dataSize
        self.offsetsSize = offsetsSize
        self.dataAddress = dataAddress
        self.offsetsAddress = offsetsAddress
    }
}

/// A (ptr, cookie) pair naming one of this process's nodes (`binder_ptr_cookie`).
public struct NodeIdentity: Hashable, Sendable {
    public var pointer: UInt64
    public var cookie: UInt64
    public init(pointer: UInt64, cookie: UInt64) {
        self.pointer = pointer
        self.cookie = cookie
    }
}
