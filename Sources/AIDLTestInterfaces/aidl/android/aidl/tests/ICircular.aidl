// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/ICircular.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests;

import android.aidl.tests.ITestService;

interface ICircular {
    @nullable ITestService GetTestService();
}
