/// The request header of every AIDL call (`writeInterfaceToken` / `enforceInterface`).
public struct InterfaceToken: Hashable, Sendable {
    /// The caller's StrictMode policy, without the `0x80000000` gather bit.
    public var strictModePolicy: Int32
    /// The uid the caller attributes the work to (−1 when unset). Never an identity: only the
    /// kernel's sender euid is.
    public var workSource: Int32
    public var descriptor: String
}

extension Parcel {
    /// The bit libbinder sets in the strict-mode word (`STRICT_MODE_PENALTY_GATHER`).
    static let strictModePenaltyGather: Int32 = Int32(bitPattern: 0x8000_0000)

    /// Writes the interface token that starts every AIDL request: the strict-mode word with the
    /// gather bit, the work source (−1 unset), the header word (Android 11+), and the
    /// descriptor as String16.
    public mutating func writeInterfaceToken(_ descriptor: String, strictModePolicy: Int32 = 0, workSource: Int32 = -1) {
        writeInt32(strictModePolicy | Self.strictModePenaltyGather)
        writeInt32(workSource)
        if wireFormat.hasInterfaceHeader { writeInteger(wireFormat.interfaceHeader.rawValue) }
        writeString16(descriptor)
    }

    /// Reads the interface token and checks it is for `descriptor`, with the header word this
    /// parcel's wire format expects. Reports which of the two did not match.
    @discardableResult
    public mutating func enforceInterface(_ descriptor: String) throws(ParcelError) -> InterfaceToken {
        let start = readerIndex
        do throws(ParcelError) {
            let policy = try readInt32()
            let workSource = try readInt32()
            if wireFormat.hasInterfaceHeader {
                let header = InterfaceHeader(rawValue: try readInteger())
                guard header == wireFormat.interfaceHeader else {
                    throw .interfaceHeaderMismatch(expected: wireFormat.interfaceHeader, found: header)
                }
            } else if readableBytes >= 4 {
                // Android 10 reads the descriptor's length here; a later release's header word
                // would be taken for one. Name it instead.
                let next = readerIndex
                let word = InterfaceHeader(rawValue: try readInteger())
                readerIndex = next
                if [.system, .vendor, .recovery, .unknown].contains(word) { throw .unexpectedInterfaceHeader(word) }
            }
            // Compared in place, code unit by code unit: no String is made for the usual match.
            let descriptorStart = readerIndex
            if try readString16(matching: descriptor) == false {
                readerIndex = descriptorStart
                throw .interfaceDescriptorMismatch(expected: descriptor, found: try? readNullableString16())
            }
            return InterfaceToken(
                strictModePolicy: policy & ~Self.strictModePenaltyGather, workSource: workSource, descriptor: descriptor)
        } catch {
            readerIndex = start
            throw error
        }
    }
}
