package android.os;

import android.os.ConnectionInfo;
import android.os.IClientCallback;
import android.os.IServiceCallback;
import android.os.Service;
import android.os.ServiceDebugInfo;

/**
 * IServiceManager as Android 15 devices ship it, android-15.0.0_r6 and later (frameworks/native
 * libs/binder/aidl/android/os/IServiceManager.aidl at android-15.0.0_r6 … _r26, the same order
 * throughout): getService2 at code 2, checkService returning the Service union. The order fixes
 * the transaction codes. Written for SwiftBinder from the method list.
 *
 * The union's first member changed within these tags: a bare @nullable IBinder at _r6 and _r10,
 * ServiceWithMetadata from _r20 (as in Android 16). SwiftBinder writes the later form and reads
 * both (ServiceManager.swift).
 */
@Descriptor(value="android.os.IServiceManager")
interface IServiceManagerAndroid15 {
    @nullable IBinder getService(@utf8InCpp String name);
    Service getService2(@utf8InCpp String name);
    Service checkService(@utf8InCpp String name);
    void addService(@utf8InCpp String name, IBinder service, boolean allowIsolated, int dumpPriority);
    @utf8InCpp String[] listServices(int dumpPriority);
    void registerForNotifications(@utf8InCpp String name, IServiceCallback callback);
    void unregisterForNotifications(@utf8InCpp String name, IServiceCallback callback);
    boolean isDeclared(@utf8InCpp String name);
    @utf8InCpp String[] getDeclaredInstances(@utf8InCpp String iface);
    @nullable @utf8InCpp String updatableViaApex(@utf8InCpp String name);
    @utf8InCpp String[] getUpdatableNames(@utf8InCpp String apexName);
    @nullable ConnectionInfo getConnectionInfo(@utf8InCpp String name);
    void registerClientCallback(@utf8InCpp String name, IBinder service, IClientCallback callback);
    void tryUnregisterService(@utf8InCpp String name, IBinder service);
    ServiceDebugInfo[] getServiceDebugInfo();
}
