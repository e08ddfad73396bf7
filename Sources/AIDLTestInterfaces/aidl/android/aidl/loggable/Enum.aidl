// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/loggable/Enum.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.loggable;

enum Enum { FOO = 42 }
