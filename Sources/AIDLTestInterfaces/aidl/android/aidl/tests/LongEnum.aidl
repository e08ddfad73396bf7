// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/LongEnum.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests;

@Backing(type="long")
enum LongEnum {
    FOO = 100000000000,
    BAR = 200000000000,
    BAZ,
}
