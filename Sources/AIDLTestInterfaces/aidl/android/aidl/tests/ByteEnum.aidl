// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/ByteEnum.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests;

@Backing(type="byte")
enum ByteEnum {

    FOO = 1,
    BAR = 2,
    BAZ,
}
