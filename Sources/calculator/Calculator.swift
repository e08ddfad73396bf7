import ArgumentParser
import SwiftBinder
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The demo's service, the classic binder example:
///
/// ```
/// package org.swiftbinder.demo;
/// interface ICalculator {
///     int add(int a, int b);         // code 1
///     String describeCaller();       // code 2: the caller's pid and uid, as the kernel says
/// }
/// ```
enum ICalculator {
    static let descriptor = "org.swiftbinder.demo.ICalculator"
    static let add: UInt32 = 1
    static let describeCaller: UInt32 = 2
}

/// The service side of ICalculator.
final class CalculatorService: BinderObject, @unchecked Sendable {
    let process: BinderProcess

    init(process: BinderProcess) {
        self.process = process
    }

    override var interfaceDescriptor: String { ICalculator.descriptor }

    override func onTransact(code: UInt32, data: inout Parcel, reply: inout Parcel, flags: TransactionFlags) throws {
        try data.enforceInterface(ICalculator.descriptor)
        let caller = process.callingIdentity ?? .ownProcess
        switch code {
        case ICalculator.add:
            let a = try data.readInt32()
            let b = try data.readInt32()
            try data.requireFullyRead()
            print("calculator: add(\(a), \(b)) called by pid \(caller.pid), uid \(caller.euid)")
            fflush(nil)
            let (sum, overflow) = a.addingReportingOverflow(b)
            guard !overflow else { throw Status(exception: .illegalArgument, message: "\(a) + \(b) overflows an int") }
            reply.writeStatus(.ok)
            reply.writeInt32(sum)
        case ICalculator.describeCaller:
            try data.requireFullyRead()
            reply.writeStatus(.ok)
            reply.writeString16("pid \(caller.pid), uid \(caller.euid)")
        default:
            throw StatusCode.unknownTransaction
        }
    }
}

/// The client side of ICalculator.
struct CalculatorProxy {
    let binder: any IBinder

    func add(_ a: Int32, _ b: Int32) throws -> Int32 {
        var request = Parcel()
        request.writeInterfaceToken(ICalculator.descriptor)
        request.writeInt32(a)
        request.writeInt32(b)
        var reply = try binder.transact(code: ICalculator.add, data: request)
        let status = try reply.readStatus()
        guard status.isOK else { throw RemoteError.exception(status) }
        return try reply.readInt32()
    }

    func describeCaller() throws -> String {
        var request = Parcel()
        request.writeInterfaceToken(ICalculator.descriptor)
        var reply = try binder.transact(code: ICalculator.describeCaller, data: request)
        let status = try reply.readStatus()
        guard status.isOK else { throw RemoteError.exception(status) }
        return try reply.readString16()
    }
}

@main
struct CalculatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calculator",
        abstract: "The demo's calculator service and its client.",
        subcommands: [Serve.self, Add.self])

    struct Options: ParsableArguments {
        @Option(help: "The binder device.") var device: String = "/dev/binderfs/binder"
        @Option(help: "The service name.") var name: String = "calculator"
    }

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register the calculator and serve it.")
        @OptionGroup var options: Options

        func run() throws {
            do {
                let process = try BinderProcess(path: FilePath(options.device))
                let manager = try ServiceManager(process: process)
                try manager.addService(options.name, CalculatorService(process: process))
                print("calculator: registered as '\(options.name)' by pid \(getpid()), uid \(geteuid())")
                fflush(nil)
                process.startThreadPool()
                process.joinThreadPool()
            } catch {
                print("calculator: \(error)")
                throw ExitCode.failure
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Look the calculator up and add two numbers.")
        @OptionGroup var options: Options
        @Argument var a: Int32
        @Argument var b: Int32

        func run() throws {
            do {
                let process = try BinderProcess(path: FilePath(options.device))
                let manager = try ServiceManager(process: process)
                guard let binder = try manager.waitForService(options.name, timeout: .seconds(5)) else {
                    print("client: no service named '\(options.name)'")
                    throw ExitCode.failure
                }
                let calculator = CalculatorProxy(binder: binder)
                print("client: add(\(a), \(b)) = \(try calculator.add(a, b))")
                print("client: the service saw me as \(try calculator.describeCaller()) (I am pid \(getpid()), uid \(geteuid()))")
                process.shutdown()
            } catch let error as ExitCode {
                throw error
            } catch {
                print("client: \(error)")
                throw ExitCode.failure
            }
        }
    }
}
