// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/nested/ParcelableWithNested.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests.nested;

parcelable ParcelableWithNested {
    enum Status { OK, NOT_OK }
    Status status = Status.OK;
}
