// Version 1 (frozen, hash 9e7be1859820c59d9d55dd133e71a3687b5d2e5b) of the versioned interface of AOSP's AIDL integration tests (system/tools/aidl/aidl_api/aidl-test-versioned-interface/1/android/aidl/versioned/tests/BazUnion.aidl at android-14.0.0_r21), which its C++ test service implements.

package android.aidl.versioned.tests;
union BazUnion {
  int intNum;
}
