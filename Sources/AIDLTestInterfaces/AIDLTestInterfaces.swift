// AOSP's AIDL integration-test interfaces, compiled by the plugin from aidl/ (the interfaces of
// system/tools/aidl/tests at android-14.0.0_r21) and aidl_api/ (the frozen version 1 of the
// versioned interface, which AOSP's C++ test service implements).

import SwiftBinder

/// The services AOSP's aidl_test_service registers with servicemanager, each under its
/// interface's descriptor.
public enum AOSPTestServices {
    public static let names = [
        android.aidl.tests.ITestService.descriptor,
        android.aidl.versioned.tests.IFooInterface.descriptor,
        android.aidl.loggable.ILoggableInterface.descriptor,
        android.aidl.tests.nested.INestedService.descriptor,
        android.aidl.fixedsizearray.FixedSizeArrayExample.IRepeatFixedSizeArray.descriptor,
    ]
}
