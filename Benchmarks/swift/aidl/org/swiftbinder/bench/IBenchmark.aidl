package org.swiftbinder.bench;

/** What scripts/bench calls through generated proxies. */
interface IBenchmark {
    int add(int a, int b);
    oneway void push(int value);
    int pushed();
    IBinder echoBinder(IBinder binder);
    ParcelFileDescriptor echoFd(in ParcelFileDescriptor fd);
    /** Heap allocations the server process has made so far (with malloc_count.so preloaded). */
    long allocations();
}
