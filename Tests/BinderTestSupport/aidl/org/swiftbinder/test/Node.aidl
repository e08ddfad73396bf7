package org.swiftbinder.test;

// A recursive parcelable: a node that holds the next one by value, and children in an array.
parcelable Node {
    int value;
    @nullable Node next;
    Node[] children;
}
