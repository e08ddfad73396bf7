package org.swiftbinder.test;

import org.swiftbinder.test.ByteEnum;

union Union {
    int[] ns = {};
    int n;
    String s;
    @nullable IBinder ibinder;
    ByteEnum be;
    const String S1 = "a string constant in a union";
}
