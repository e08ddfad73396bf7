// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/INamedCallback.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests;

interface INamedCallback {
    String GetName();
}
