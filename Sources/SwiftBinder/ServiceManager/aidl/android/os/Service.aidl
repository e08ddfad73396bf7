package android.os;

import android.os.ServiceWithMetadata;

/** What getService2 and checkService2 return. */
union Service {
    ServiceWithMetadata serviceWithMetadata;
    @nullable IBinder accessor;
}
