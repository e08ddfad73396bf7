package com.example.old;

import com.example.old.OldParcelable;

interface IOldService {
    const int VERSION = 3;
    const String NAME = "old";
    int add(int a, int b);
    oneway void notify(in String message);
    void arrays(in int[] a, out int[] b, inout String[] c);
    List<String> names(in List<String> input);
    OldParcelable repeatParcelable(in OldParcelable p, out OldParcelable q);
    @nullable String maybe(@nullable String s);
    @utf8InCpp String utf8(@utf8InCpp String s);
    ParcelFileDescriptor fds(in FileDescriptor fd, in ParcelFileDescriptor pfd);
    IBinder binder(IBinder b);
}
