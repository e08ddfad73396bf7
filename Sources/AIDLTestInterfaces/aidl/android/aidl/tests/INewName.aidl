// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/INewName.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests;

// Same descriptor as IOldName, so the two are interchangeable on the wire.
@Descriptor(value="android.aidl.tests.IOldName")
interface INewName {
    String RealName();
}
