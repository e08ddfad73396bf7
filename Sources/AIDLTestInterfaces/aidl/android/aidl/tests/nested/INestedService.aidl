// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/nested/INestedService.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests.nested;

import android.aidl.tests.nested.ParcelableWithNested;

interface INestedService {
    @RustDerive(PartialEq=true)
    parcelable Result {
        ParcelableWithNested.Status status = ParcelableWithNested.Status.OK;
    }

    Result flipStatus(in ParcelableWithNested p);

    interface ICallback {
        void done(ParcelableWithNested.Status status);
    }
    void flipStatusWithCallback(ParcelableWithNested.Status status, ICallback cb);
}
