// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/extension/ExtendableParcelable.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests.extension;

parcelable ExtendableParcelable {
    int a;
    @utf8InCpp String b;
    ParcelableHolder ext;
    long c;
    ParcelableHolder ext2;
}
