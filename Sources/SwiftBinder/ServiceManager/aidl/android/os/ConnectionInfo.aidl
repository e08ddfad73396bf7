package android.os;

/** Where an RPC-binder service listens. */
parcelable ConnectionInfo {
    @utf8InCpp String ipAddress;
    int port;
}
