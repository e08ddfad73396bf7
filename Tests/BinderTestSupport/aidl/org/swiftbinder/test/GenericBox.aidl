package org.swiftbinder.test;

parcelable GenericBox<T> {
    T value;
    int tag;
}
