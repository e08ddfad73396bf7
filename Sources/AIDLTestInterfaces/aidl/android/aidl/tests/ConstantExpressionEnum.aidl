// The interface of AOSP's AIDL integration tests (system/tools/aidl/tests/android/aidl/tests/ConstantExpressionEnum.aidl at android-14.0.0_r21), as its test client expects it.

package android.aidl.tests;

@SuppressWarnings(value={"const-name"})
@Backing(type="int")
enum ConstantExpressionEnum {

    decInt32_1 = (~(-1)) == 0,
    decInt32_2 = ~~(1 << 31) == (1 << 31),
    decInt64_1 = (~(-1L)) == 0,
    decInt64_2 = (~4294967295L) != 0,
    decInt64_3 = (~4294967295) != 0,
    decInt64_4 = ~~(1L << 63) == (1L << 63),

    hexInt32_1 = -0x7fffffff < 0,

    hexInt32_2 = 0x80000000 < 0,

    hexInt32_3 = ~0xFFFFFFFF == 0,

    hexInt64_1 = -0x7FFFFFFFFFFFFFFF < 0
}
