import CBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The seam between the transaction engine and a binder driver: everything the runtime asks of
/// the kernel, and nothing more.
///
/// ``KernelBinderDriver`` is the real one (ioctls on an open ``BinderDevice``). Tests put a
/// scripted driver here to run every path of the engine on a machine without binder, the way
/// swift-system's mocking layer sits under its syscalls.
///
/// The engine calls ``writeRead(_:)`` from any thread; each thread that does becomes a binder
/// thread of this driver. Addresses the driver reports lie inside ``mapping``.
package protocol BinderDriver: AnyObject, Sendable {
    /// The device, for messages.
    var path: FilePath { get }
    /// What the driver supports.
    var features: Binderfs.Features { get }
    /// The receive buffer incoming transactions are copied into (read-only).
    var mapping: UnsafeRawBufferPointer { get }

    /// `BINDER_WRITE_READ`: consumes commands from the write buffer, then, when the read size is
    /// not zero, blocks until there are returns and fills the read buffer. The consumed counts
    /// are updated in place, also when it throws. It fails with the bare errno (the engine names
    /// the call): this is on the path of every call.
    func writeRead(_ request: inout binder_write_read) throws(Errno)
    /// `BINDER_THREAD_EXIT`: forgets the calling thread.
    func threadExit() throws(BinderError)
    /// `BINDER_GET_EXTENDED_ERROR` for the calling thread.
    func takeExtendedError() throws(BinderError) -> ExtendedError
    /// `BINDER_SET_MAX_THREADS`.
    func setMaxThreads(_ count: UInt32) throws(BinderError)
    /// `BINDER_SET_CONTEXT_MGR_EXT`, or `BINDER_SET_CONTEXT_MGR` on kernels without it.
    func becomeContextManager(nodeFlags: UInt32) throws(BinderError)
    /// Makes every thread blocked in ``writeRead(_:)`` return, and the next read of every
    /// thread that is not blocked return at once (the kernel's `flush`).
    func wakeAllThreads()
}

/// The kernel's binder driver behind an open device.
///
/// It owns the device: the descriptor and the mapping close when the last reference goes.
package final class KernelBinderDriver: BinderDriver, @unchecked Sendable {
    package let device: BinderDevice
    package let features: Binderfs.Features

    /// Opens `path` and reads the features of the binderfs mount it lives in.
    package init(path: FilePath, logger: Logger? = nil) throws(BinderError) {
        let device = try BinderDevice(path: path)
        let features =
            (try? Binderfs(mountPoint: path.removingLastComponent()).features())
            ?? Binderfs.Features(onewaySpamDetection: false, extendedError: false, freezeNotification: false)
        if features.onewaySpamDetection {
            do {
                try device.enableOnewaySpamDetection()
            } catch {
                logger?.warning("could not enable oneway spam detection", metadata: ["error": "\(error)"])
            }
        }
        self.device = device
        self.features = features
    }

    package var path: FilePath { device.path }
    package var mapping: UnsafeRawBufferPointer { device.mapping }

    @inline(__always)
    package func writeRead(_ request: inout binder_write_read) throws(Errno) {
        try ioctlReportingErrno(device.fileDescriptor.rawValue, CBinder_BINDER_WRITE_READ, &request)
    }

    package func threadExit() throws(BinderError) { try device.threadExit() }
    package func takeExtendedError() throws(BinderError) -> ExtendedError { try device.takeExtendedError() }
    package func setMaxThreads(_ count: UInt32) throws(BinderError) { try device.setMaxThreads(count) }

    package func becomeContextManager(nodeFlags: UInt32) throws(BinderError) {
        do {
            try device.becomeContextManager(nodeFlags: nodeFlags)
        } catch {
            guard error.errno == .invalidArgument else { throw error }
            try device.becomeContextManager()  // kernels without BINDER_SET_CONTEXT_MGR_EXT
        }
    }

    /// Closing any descriptor of the binder file runs the driver's `flush`, which sets
    /// `looper_need_return` on every thread of the process and wakes those waiting for work
    /// (drivers/android/binder.c, binder_flush and binder_deferred_flush, Linux 6.12). A thread
    /// that is not in the driver finds the flag set on its next read and returns at once; the
    /// flag is cleared only when an ioctl ends. So one flush after a stop flag is set reaches
    /// every thread: those in the driver wake, the others return from their next read.
    package func wakeAllThreads() {
        let duplicate = dup(device.fileDescriptor.rawValue)
        if duplicate >= 0 { close(duplicate) }
    }
}

import Logging
