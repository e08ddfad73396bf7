// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/extension/MyExt2.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests.extension;

import android.aidl.tests.extension.MyExt;

parcelable MyExt2 {
    int a;
    MyExt b;
    @utf8InCpp String c;
}
