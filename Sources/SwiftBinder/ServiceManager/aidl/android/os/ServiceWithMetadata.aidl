package android.os;

/** A service and whether it is lazy (started on demand). */
parcelable ServiceWithMetadata {
    @nullable IBinder service;
    boolean isLazyService;
}
