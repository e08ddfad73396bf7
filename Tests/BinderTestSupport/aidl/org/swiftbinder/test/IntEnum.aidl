package org.swiftbinder.test;

@Backing(type="int")
enum IntEnum {
    FOO = 1000,
    BAR = 2000,
    BAZ,
    QUX = FOO | BAR,
}
