// rpc-peer: a tiny host program built on AOSP libbinder's RPC binder, for interop tests.
//
//   rpc-peer serve unix:/path.sock   -- RpcServer; root object handles codes 1..4; prints
//                                       "ready VERSION" (libbinder's RPC_WIRE_PROTOCOL_VERSION)
//   rpc-peer call  unix:/path.sock   -- RpcSession client; calls codes 1 and 2
//   rpc-peer call-all unix:/path.sock -- like call, plus code 3 (callback) and 4 (fd)
#include <binder/Binder.h>
#include <binder/IBinder.h>
#include <binder/Parcel.h>
#include <binder/RpcServer.h>
#include <binder/RpcSession.h>
#include <binder/RpcTransportRaw.h>
#include <utils/String16.h>
#include <utils/String8.h>

#include <android-base/unique_fd.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <string>

using namespace android;
using android::base::unique_fd;

namespace {

constexpr uint32_t kCodeInc = 1;
constexpr uint32_t kCodeEcho = 2;
constexpr uint32_t kCodeCallback = 3;
constexpr uint32_t kCodeFd = 4;

class RootObject : public BBinder {
protected:
    status_t onTransact(uint32_t code, const Parcel& data, Parcel* reply,
                        uint32_t flags) override {
        switch (code) {
            case kCodeInc: {
                int32_t v = 0;
                if (status_t s = data.readInt32(&v); s != OK) return s;
                fprintf(stderr, "[serve] code 1: %d\n", v);
                return reply->writeInt32(v + 1);
            }
            case kCodeEcho: {
                String16 s16;
                if (status_t s = data.readString16(&s16); s != OK) return s;
                fprintf(stderr, "[serve] code 2: \"%s\"\n", String8(s16).c_str());
                return reply->writeString16(s16);
            }
            case kCodeCallback: {
                sp<IBinder> cb;
                if (status_t s = data.readStrongBinder(&cb); s != OK) return s;
                if (cb == nullptr) return UNEXPECTED_NULL;
                Parcel cbData, cbReply;
                cbData.markForBinder(cb);
                cbData.writeInt32(41);
                if (status_t s = cb->transact(kCodeInc, cbData, &cbReply); s != OK) {
                    fprintf(stderr, "[serve] code 3: callback transact failed: %d\n", s);
                    return s;
                }
                int32_t r = 0;
                if (status_t s = cbReply.readInt32(&r); s != OK) return s;
                fprintf(stderr, "[serve] code 3: callback returned %d\n", r);
                return reply->writeInt32(r);
            }
            case kCodeFd: {
                unique_fd fd;
                if (status_t s = data.readUniqueFileDescriptor(&fd); s != OK) return s;
                ssize_t n = TEMP_FAILURE_RETRY(write(fd.get(), "hello", 5));
                fprintf(stderr, "[serve] code 4: wrote %zd bytes to fd %d\n", n, fd.get());
                if (n != 5) return UNKNOWN_ERROR;
                return reply->writeInt32(5);
            }
            default:
                return BBinder::onTransact(code, data, reply, flags);
        }
    }
};

const char* unixPath(const char* addr) {
    if (strncmp(addr, "unix:", 5) == 0) return addr + 5;
    return nullptr;
}

int serve(const char* path) {
    unlink(path);
    sp<RpcServer> server = RpcServer::make(RpcTransportCtxFactoryRaw::make());
    server->setMaxThreads(4);
    server->setSupportedFileDescriptorTransportModes(
            {RpcSession::FileDescriptorTransportMode::NONE,
             RpcSession::FileDescriptorTransportMode::UNIX});
    server->setRootObject(sp<RootObject>::make());
    if (status_t s = server->setupUnixDomainServer(path); s != OK) {
        fprintf(stderr, "error: setupUnixDomainServer(%s) failed: %d (%s)\n", path, s,
                statusToString(s).c_str());
        return 1;
    }
    printf("ready %u\n", RPC_WIRE_PROTOCOL_VERSION);  // the version libbinder speaks by default
    fflush(stdout);
    server->join();
    fprintf(stderr, "server join returned\n");
    return 0;
}

// Local callback object for code 3 (client side).
class Callback : public BBinder {
protected:
    status_t onTransact(uint32_t code, const Parcel& data, Parcel* reply,
                        uint32_t flags) override {
        if (code != kCodeInc) return BBinder::onTransact(code, data, reply, flags);
        int32_t v = 0;
        if (status_t s = data.readInt32(&v); s != OK) return s;
        return reply->writeInt32(v + 1);
    }
};

int fail(const char* what, status_t s) {
    printf("error: %s: status %d (%s)\n", what, s, statusToString(s).c_str());
    fflush(stdout);
    return 1;
}

int call(const char* path, bool all) {
    sp<RpcSession> session = RpcSession::make();
    if (all) {
        session->setFileDescriptorTransportMode(RpcSession::FileDescriptorTransportMode::UNIX);
    }
    if (status_t s = session->setupUnixDomainClient(path); s != OK) {
        return fail("setupUnixDomainClient", s);
    }
    sp<IBinder> root = session->getRootObject();
    if (root == nullptr) return fail("getRootObject returned null", UNEXPECTED_NULL);

    {
        Parcel data, reply;
        data.markForBinder(root);
        data.writeInt32(7);
        if (status_t s = root->transact(kCodeInc, data, &reply); s != OK)
            return fail("transact code 1", s);
        int32_t r = 0;
        if (status_t s = reply.readInt32(&r); s != OK) return fail("read reply code 1", s);
        printf("code1: %d\n", r);
    }
    {
        Parcel data, reply;
        data.markForBinder(root);
        data.writeString16(String16("hi"));
        if (status_t s = root->transact(kCodeEcho, data, &reply); s != OK)
            return fail("transact code 2", s);
        String16 r;
        if (status_t s = reply.readString16(&r); s != OK) return fail("read reply code 2", s);
        printf("code2: %s\n", String8(r).c_str());
    }
    if (all) {
        {
            Parcel data, reply;
            data.markForBinder(root);
            sp<IBinder> cb = sp<Callback>::make();
            data.writeStrongBinder(cb);
            if (status_t s = root->transact(kCodeCallback, data, &reply); s != OK)
                return fail("transact code 3", s);
            int32_t r = 0;
            if (status_t s = reply.readInt32(&r); s != OK) return fail("read reply code 3", s);
            printf("code3: %d\n", r);
        }
        {
            int p[2];
            if (pipe(p) != 0) return fail("pipe", -errno);
            unique_fd rd(p[0]), wr(p[1]);
            Parcel data, reply;
            data.markForBinder(root);
            if (status_t s = data.writeUniqueFileDescriptor(wr); s != OK)
                return fail("writeUniqueFileDescriptor", s);
            if (status_t s = root->transact(kCodeFd, data, &reply); s != OK)
                return fail("transact code 4", s);
            int32_t r = 0;
            if (status_t s = reply.readInt32(&r); s != OK) return fail("read reply code 4", s);
            wr.reset();
            char buf[16] = {};
            ssize_t n = read(rd.get(), buf, sizeof(buf) - 1);
            printf("code4: %d pipe=\"%s\"\n", r, n > 0 ? buf : "");
        }
    }
    uint32_t version = 0;
    if (session->getProtocolVersion().has_value()) version = *session->getProtocolVersion();
    printf("version: %u of %u\n", version, RPC_WIRE_PROTOCOL_VERSION);  // negotiated, libbinder's own
    printf("ok\n");
    fflush(stdout);
    // Tear down cleanly so the server side sees an orderly shutdown.
    (void)session->shutdownAndWait(true);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    if (argc != 3 || unixPath(argv[2]) == nullptr) {
        fprintf(stderr, "usage: %s serve|call|call-all unix:/path.sock\n", argv[0]);
        return 2;
    }
    const char* path = unixPath(argv[2]);
    std::string mode = argv[1];
    if (mode == "serve") return serve(path);
    if (mode == "call") return call(path, false);
    if (mode == "call-all") return call(path, true);
    fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
}
