package android.os;

import android.os.IClientCallback;
import android.os.IServiceCallback;

/**
 * IServiceManager as android-11.0.0_r1 orders it (frameworks/native libs/binder/aidl/android/os/
 * IServiceManager.aidl at that tag): the order fixes the transaction codes. Written for
 * SwiftBinder from the method list; comments and constants are left out.
 */
@Descriptor(value="android.os.IServiceManager")
interface IServiceManagerAndroid11 {
    @nullable IBinder getService(@utf8InCpp String name);
    @nullable IBinder checkService(@utf8InCpp String name);
    void addService(@utf8InCpp String name, IBinder service, boolean allowIsolated, int dumpPriority);
    @utf8InCpp String[] listServices(int dumpPriority);
    void registerForNotifications(@utf8InCpp String name, IServiceCallback callback);
    void unregisterForNotifications(@utf8InCpp String name, IServiceCallback callback);
    boolean isDeclared(@utf8InCpp String name);
    void registerClientCallback(@utf8InCpp String name, IBinder service, IClientCallback callback);
    void tryUnregisterService(@utf8InCpp String name, IBinder service);
}
