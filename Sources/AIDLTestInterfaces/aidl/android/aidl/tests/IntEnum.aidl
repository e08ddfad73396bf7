// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/IntEnum.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests;

@JavaDerive(toString=true)
@Backing(type="int")
enum IntEnum {
    FOO = 1000,
    BAR = 2000,
    BAZ,
    /** @deprecated */
    QUX,
}
