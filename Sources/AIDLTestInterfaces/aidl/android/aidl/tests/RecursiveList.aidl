// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/RecursiveList.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests;

parcelable RecursiveList {
    int value;
    @nullable(heap=true) RecursiveList next;
}
