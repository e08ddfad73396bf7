// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/loggable/Data.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.loggable;

import android.aidl.loggable.Enum;
import android.aidl.loggable.Union;

parcelable Data {
    int num;
    @utf8InCpp String str;
    Union nestedUnion;
    Enum nestedEnum = Enum.FOO;
}
