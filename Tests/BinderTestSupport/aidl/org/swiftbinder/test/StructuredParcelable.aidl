package org.swiftbinder.test;

import org.swiftbinder.test.ByteEnum;
import org.swiftbinder.test.IntEnum;

parcelable StructuredParcelable {
    const int BIT0 = 0x1;
    const int BIT1 = 0x1 << 1;

    int[] shouldContainThreeFs;
    int f;
    @utf8InCpp String shouldBeJerry;
    ByteEnum shouldBeByteBar = ByteEnum.BAR;
    IntEnum shouldBeIntBar = IntEnum.BAR;
    String[] shouldBeEmpty;
    int defaultInt = 42 * 2 - 1;
    long defaultLong = 1L << 40;
    boolean defaultTrue = true;
    float defaultFloat = 3.25f;
    double defaultDouble = -1.5;
    String defaultString = "Hello, " + "binder";
    char defaultChar = 'A';
    byte defaultByte = -1;
    @nullable String nullableString;
    @nullable int[] nullableArray;
    int[2] fixedPair = {1, 2};
    int bits = BIT0 | BIT1;
}
