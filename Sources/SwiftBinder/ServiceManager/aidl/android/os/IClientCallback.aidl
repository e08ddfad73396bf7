package android.os;

/** Told whether a lazy service has clients. */
oneway interface IClientCallback {
    void onClients(IBinder registered, boolean hasClients);
}
