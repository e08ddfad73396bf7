// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/Union.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests;
import android.aidl.tests.ByteEnum;

@JavaDerive(toString=true, equals=true)
@RustDerive(Clone=true, PartialEq=true)
union Union {
    int[] ns = {};
    int n;
    int m;
    @utf8InCpp String s;
    @nullable IBinder ibinder;
    @utf8InCpp List<String> ss;
    ByteEnum be;

    const @utf8InCpp String S1 = "a string constant in union";
}
