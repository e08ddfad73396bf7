package org.swiftbinder.demo;

/** The demo's calculator: the classic binder example. */
interface ICalculator {
    /** Adds two numbers; EX_ILLEGAL_ARGUMENT when the sum overflows an int. */
    int add(int a, int b);

    /** The caller's pid and uid, as the kernel stamped them on this call. */
    @utf8InCpp String describeCaller();
}
