#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A table entry that refers to an object without retaining it and without giving it a side
/// table.
///
/// A `weak` reference would do the same job, but the first one moves the object's reference
/// counts into a side table, and from then on every retain and release of the object takes the
/// runtime's slow path. For proxies, local objects and processes, which every call retains, that
/// was a tenth of a call's instructions (callgrind, docs/benchmarks.md).
///
/// The contract: the table that holds the entry drops it in the object's `deinit`, under the
/// same lock under which it calls ``load()``. The object's memory is freed only after its
/// `deinit` returns, so a `load()` under that lock never touches freed memory; and once the
/// `deinit` has begun, `load()` returns nil.
struct UnretainedReference<Object: AnyObject>: @unchecked Sendable {
    private let pointer: UnsafeMutableRawPointer

    init(_ object: Object) {
        pointer = Unmanaged.passUnretained(object).toOpaque()
    }

    /// The object, retained, or nil once its deinit has begun. Call it only under the lock
    /// that the object's deinit takes to drop this entry.
    func load() -> Object? {
        guard swift_tryRetain(pointer) != nil else { return nil }
        return Unmanaged<Object>.fromOpaque(pointer).takeRetainedValue()
    }

    /// Whether this entry is for `object`.
    func refers(to object: Object) -> Bool {
        pointer == Unmanaged.passUnretained(object).toOpaque()
    }
}

/// The Swift runtime's own "retain unless deinitialising" (what loading a `weak` reference does):
/// `HeapObject *swift_tryRetain(HeapObject *)` in libswiftCore (include/swift/Runtime/HeapObject.h),
/// which returns the object, retained, or null. Looked up once by name: Swift reserves the name
/// for the runtime, so it cannot be declared here.
private let swift_tryRetain: @convention(c) (UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "swift_tryRetain") else {
        preconditionFailure("the Swift runtime does not export swift_tryRetain")
    }
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutableRawPointer) -> UnsafeMutableRawPointer?).self)
}()
