// The valid AIDL corpus, compiled by the SwiftAIDL plugin into this module: building the tests
// proves the generated Swift for every feature compiles (without warnings, in Swift 6 mode).
import SwiftBinder

/// A type from each generated file, for the tests to check they exist.
public enum CorpusTypes {
    public static let descriptors = [com.example.corpus.IEverything.descriptor, com.example.corpus.ICallback.descriptor, com.example.corpus.IVersioned.descriptor]
}
