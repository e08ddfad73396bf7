package android.os;

/** A registered name and the pid of the process that registered it. */
parcelable ServiceDebugInfo {
    @utf8InCpp String name;
    int debugPid;
}
