package org.swiftbinder.test;

interface INamedCallback {
    String GetName();
}
