package android.os;

/** Told when a service is registered under a watched name. */
oneway interface IServiceCallback {
    void onRegistration(@utf8InCpp String name, IBinder binder);
}
