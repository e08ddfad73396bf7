/*
 * The C baseline of scripts/bench: binder round trips with raw ioctls and no library, the floor
 * every SwiftBinder figure is compared with.
 *
 *   binder_baseline server DEVICE [THREADS]  become context manager; answer every transaction
 *                                            with a 4-byte reply (oneway ones: count them), on
 *                                            THREADS looper threads (default 1)
 *   binder_baseline rtt DEVICE SIZE COUNT    COUNT sync calls carrying SIZE bytes; prints the
 *                                            round-trip times in nanoseconds, one per line
 *   binder_baseline oneway DEVICE COUNT      COUNT oneway calls, then a sync call that waits
 *                                            until the server has handled them; prints the
 *                                            total nanoseconds
 *   binder_baseline object DEVICE KIND COUNT COUNT sync calls passing one object, KIND binder (a
 *                                            node of this process) or fd (a pipe's end), which
 *                                            the server sends back; prints the round-trip times
 *                                            in nanoseconds, one per line. binder-references:
 *                                            the server also takes and drops references on the
 *                                            handle, as a library's proxy does
 *   binder_baseline stop DEVICE              tell the server to exit (so a profiler writes its data)
 *   binder_baseline threads DEVICE THREADS COUNT   THREADS client threads making COUNT sync calls
 *                                            each; prints the total nanoseconds
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/android/binder.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAP_SIZE (1024 * 1024 - 2 * 4096)
#define CODE_CALL 1
#define CODE_ONEWAY 2
#define CODE_DRAIN 3
#define CODE_EXIT 4
#define CODE_ECHO_OBJECT 5
#define CODE_ECHO_OBJECT_WITH_REFERENCES 6

static int fd;
static uint64_t oneway_count;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "binder_baseline: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void open_device(const char *path) {
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) die("open");
    struct binder_version version;
    if (ioctl(fd, BINDER_VERSION, &version) < 0 || version.protocol_version != 8) die("BINDER_VERSION");
    if (mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE | MAP_NORESERVE, fd, 0) == MAP_FAILED) die("mmap");
}

/* Writes `out` (if any) and reads into `in`; returns bytes read. */
static size_t write_read(const void *out, size_t out_size, void *in, size_t in_size) {
    struct binder_write_read bwr = {
        .write_size = out_size, .write_buffer = (uintptr_t)out, .read_size = in_size, .read_buffer = (uintptr_t)in,
    };
    while (ioctl(fd, BINDER_WRITE_READ, &bwr) < 0) {
        if (errno != EINTR) die("BINDER_WRITE_READ");
    }
    return bwr.read_consumed;
}

/* Replies to CODE_ECHO_OBJECT with the object the request carried (a handle the kernel turns
 * back into the caller's node, or a descriptor it installs in the caller), then frees the
 * request: the minimum the kernel needs, without the references a library's proxy takes. */
static void echo_object(const struct binder_transaction_data *tr, int with_references) {
    binder_size_t offset;
    memcpy(&offset, (const void *)(uintptr_t)tr->data.ptr.offsets, sizeof offset);
    struct flat_binder_object object;
    memcpy(&object, (const void *)(uintptr_t)(tr->data.ptr.buffer + offset), sizeof object);
    object.cookie = 0;
    binder_size_t reply_offset = 0;
    struct __attribute__((packed)) {
        uint32_t increfs_cmd;
        uint32_t increfs_handle;
        uint32_t acquire_cmd;
        uint32_t acquire_handle;
        uint32_t reply_cmd;
        struct binder_transaction_data reply;
        uint32_t free_cmd;
        binder_uintptr_t buffer;
        uint32_t release_cmd;
        uint32_t release_handle;
        uint32_t decrefs_cmd;
        uint32_t decrefs_handle;
    } out;
    memset(&out, 0, sizeof out);
    /* With references, a received handle is held as a library's proxy holds it (libbinder's
     * BpBinder: BC_INCREFS and BC_ACQUIRE when it is made, BC_RELEASE and BC_DECREFS when it
     * goes), all in the one write here. */
    size_t skip = with_references && object.hdr.type == BINDER_TYPE_HANDLE ? 0 : 16;
    out.increfs_cmd = BC_INCREFS;
    out.increfs_handle = object.handle;
    out.acquire_cmd = BC_ACQUIRE;
    out.acquire_handle = object.handle;
    out.release_cmd = BC_RELEASE;
    out.release_handle = object.handle;
    out.decrefs_cmd = BC_DECREFS;
    out.decrefs_handle = object.handle;
    out.reply_cmd = BC_REPLY;
    out.reply.target.handle = ~0u;
    out.reply.data_size = sizeof object;
    out.reply.offsets_size = sizeof reply_offset;
    out.reply.data.ptr.buffer = (uintptr_t)&object;
    out.reply.data.ptr.offsets = (uintptr_t)&reply_offset;
    out.free_cmd = BC_FREE_BUFFER;
    out.buffer = tr->data.ptr.buffer;
    write_read((const char *)&out + skip, sizeof out - 2 * skip, NULL, 0);
    if (object.hdr.type == BINDER_TYPE_FD) close((int)object.handle);
}

static void *looper(void *unused) {
    (void)unused;
    uint32_t enter = BC_ENTER_LOOPER;
    write_read(&enter, sizeof enter, NULL, 0);
    unsigned char in[256];
    for (;;) {
        size_t n = write_read(NULL, 0, in, sizeof in);
        size_t pos = 0;
        while (pos + 4 <= n) {
            uint32_t cmd;
            memcpy(&cmd, in + pos, 4);
            pos += 4;
            if (cmd == BR_TRANSACTION) {
                struct binder_transaction_data tr;
                memcpy(&tr, in + pos, sizeof tr);
                pos += sizeof tr;
                /* Free the request, then reply (for sync calls) in the same write. */
                struct __attribute__((packed)) {
                    uint32_t free_cmd;
                    binder_uintptr_t buffer;
                    uint32_t reply_cmd;
                    struct binder_transaction_data reply;
                } out;
                int32_t status = (int32_t)(tr.code == CODE_DRAIN ? __atomic_load_n(&oneway_count, __ATOMIC_RELAXED) : 0);
                memset(&out, 0, sizeof out);
                out.free_cmd = BC_FREE_BUFFER;
                out.buffer = tr.data.ptr.buffer;
                if (tr.code == CODE_EXIT) exit(0);
                if (tr.flags & TF_ONE_WAY) {
                    __atomic_fetch_add(&oneway_count, 1, __ATOMIC_RELAXED);
                    write_read(&out, 12, NULL, 0);
                    continue;
                }
                out.reply_cmd = BC_REPLY;
                out.reply.target.handle = ~0u;
                if ((tr.code == CODE_ECHO_OBJECT || tr.code == CODE_ECHO_OBJECT_WITH_REFERENCES) &&
                    tr.offsets_size == sizeof(binder_size_t) && tr.data_size >= sizeof(struct flat_binder_object)) {
                    echo_object(&tr, tr.code == CODE_ECHO_OBJECT_WITH_REFERENCES);
                    continue;
                }
                out.reply.data_size = sizeof status;
                out.reply.data.ptr.buffer = (uintptr_t)&status;
                write_read(&out, sizeof out, NULL, 0);
            } else if (cmd == BR_NOOP || cmd == BR_TRANSACTION_COMPLETE || cmd == BR_SPAWN_LOOPER) {
                /* nothing */
            } else if (cmd == BR_INCREFS || cmd == BR_ACQUIRE || cmd == BR_RELEASE || cmd == BR_DECREFS) {
                pos += sizeof(struct binder_ptr_cookie);
            } else {
                fprintf(stderr, "binder_baseline: unexpected return 0x%x\n", cmd);
                pos = n;
            }
        }
    }
    return NULL;
}

static void server(int threads) {
    /* Accepting descriptors, as the SwiftBinder benchmark's server does (object mode passes one). */
    struct flat_binder_object node = {.flags = FLAT_BINDER_FLAG_ACCEPTS_FDS};
    if (ioctl(fd, BINDER_SET_CONTEXT_MGR_EXT, &node) < 0) die("BINDER_SET_CONTEXT_MGR_EXT");
    for (int i = 1; i < threads; i++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, looper, NULL) != 0) die("pthread_create");
    }
    printf("ready\n");
    fflush(stdout);
    looper(NULL);
}

/* One sync call to handle 0; returns the int32 status in the reply. */
static int32_t call(uint32_t code, const void *data, size_t size, uint32_t flags) {
    struct __attribute__((packed)) {
        uint32_t cmd;
        struct binder_transaction_data tr;
    } out;
    memset(&out, 0, sizeof out);
    out.cmd = BC_TRANSACTION;
    out.tr.target.handle = 0;
    out.tr.code = code;
    out.tr.flags = flags | TF_ACCEPT_FDS;
    out.tr.data_size = size;
    out.tr.data.ptr.buffer = (uintptr_t)data;
    unsigned char in[256];
    size_t n = write_read(&out, sizeof out, in, sizeof in);
    int32_t result = 0;
    for (;;) {
        size_t pos = 0;
        while (pos + 4 <= n) {
            uint32_t cmd;
            memcpy(&cmd, in + pos, 4);
            pos += 4;
            if (cmd == BR_REPLY) {
                struct binder_transaction_data tr;
                memcpy(&tr, in + pos, sizeof tr);
                if (tr.data_size >= 4) memcpy(&result, (const void *)(uintptr_t)tr.data.ptr.buffer, 4);
                struct __attribute__((packed)) {
                    uint32_t cmd;
                    binder_uintptr_t buffer;
                } free_cmd = {BC_FREE_BUFFER, tr.data.ptr.buffer};
                write_read(&free_cmd, sizeof free_cmd, NULL, 0);
                return result;
            } else if (cmd == BR_TRANSACTION_COMPLETE) {
                if (flags & TF_ONE_WAY) return 0;
            } else if (cmd == BR_DEAD_REPLY || cmd == BR_FAILED_REPLY) {
                fprintf(stderr, "binder_baseline: transaction failed (0x%x)\n", cmd);
                exit(1);
            }
        }
        n = write_read(NULL, 0, in, sizeof in);
    }
}

/* One sync call to handle 0 passing `object`, answering the reference-count returns the
 * kernel sends the owner of a node (BR_INCREFS and BR_ACQUIRE want their _DONE), and closing
 * a descriptor that comes back. */
__attribute__((noinline)) static void call_with_object(const struct flat_binder_object *object, uint32_t code) {
    binder_size_t offset = 0;
    struct __attribute__((packed)) {
        uint32_t cmd;
        struct binder_transaction_data tr;
    } transaction;
    memset(&transaction, 0, sizeof transaction);
    transaction.cmd = BC_TRANSACTION;
    transaction.tr.code = code;
    transaction.tr.flags = TF_ACCEPT_FDS;
    transaction.tr.data_size = sizeof *object;
    transaction.tr.offsets_size = sizeof offset;
    transaction.tr.data.ptr.buffer = (uintptr_t)object;
    transaction.tr.data.ptr.offsets = (uintptr_t)&offset;
    unsigned char out[256], in[256];
    size_t out_size = sizeof transaction;
    memcpy(out, &transaction, sizeof transaction);
    for (;;) {
        size_t n = write_read(out, out_size, in, sizeof in);
        out_size = 0;
        size_t pos = 0;
        while (pos + 4 <= n) {
            uint32_t cmd;
            memcpy(&cmd, in + pos, 4);
            pos += 4;
            if (cmd == BR_INCREFS || cmd == BR_ACQUIRE) {
                uint32_t done = cmd == BR_INCREFS ? BC_INCREFS_DONE : BC_ACQUIRE_DONE;
                memcpy(out + out_size, &done, 4);
                memcpy(out + out_size + 4, in + pos, sizeof(struct binder_ptr_cookie));
                out_size += 4 + sizeof(struct binder_ptr_cookie);
                pos += sizeof(struct binder_ptr_cookie);
            } else if (cmd == BR_RELEASE || cmd == BR_DECREFS) {
                pos += sizeof(struct binder_ptr_cookie);
            } else if (cmd == BR_REPLY) {
                struct binder_transaction_data tr;
                memcpy(&tr, in + pos, sizeof tr);
                pos += sizeof tr;
                struct flat_binder_object back;
                if (tr.data_size >= sizeof back) {
                    memcpy(&back, (const void *)(uintptr_t)tr.data.ptr.buffer, sizeof back);
                    if (back.hdr.type == BINDER_TYPE_FD) close((int)back.handle);
                }
                uint32_t free_cmd = BC_FREE_BUFFER;
                memcpy(out + out_size, &free_cmd, 4);
                memcpy(out + out_size + 4, &tr.data.ptr.buffer, sizeof tr.data.ptr.buffer);
                out_size += 4 + sizeof tr.data.ptr.buffer;
                write_read(out, out_size, NULL, 0);
                return;
            } else if (cmd == BR_DEAD_REPLY || cmd == BR_FAILED_REPLY) {
                fprintf(stderr, "binder_baseline: transaction failed (0x%x)\n", cmd);
                exit(1);
            } else if (cmd != BR_NOOP && cmd != BR_TRANSACTION_COMPLETE) {
                fprintf(stderr, "binder_baseline: unexpected return 0x%x\n", cmd);
                exit(1);
            }
        }
    }
}

static long calls_per_thread;

static void *client_thread(void *unused) {
    (void)unused;
    int32_t value = 1;
    for (long i = 0; i < calls_per_thread; i++) call(CODE_CALL, &value, sizeof value, 0);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: binder_baseline server DEVICE [THREADS] | rtt DEVICE SIZE COUNT | oneway DEVICE COUNT"
                        " | object DEVICE binder|binder-references|fd COUNT | threads DEVICE THREADS COUNT | stop DEVICE\n");
        return 2;
    }
    open_device(argv[2]);
    if (strcmp(argv[1], "server") == 0) server(argc > 3 ? atoi(argv[3]) : 1);
    if (strcmp(argv[1], "rtt") == 0 && argc == 5) {
        size_t size = strtoul(argv[3], NULL, 10);
        long count = strtol(argv[4], NULL, 10);
        unsigned char *payload = calloc(size ? size : 1, 1);
        for (long i = 0; i < count; i++) {
            uint64_t start = now_ns();
            call(CODE_CALL, payload, size, 0);
            printf("%llu\n", (unsigned long long)(now_ns() - start));
        }
        return 0;
    }
    if (strcmp(argv[1], "oneway") == 0 && argc == 4) {
        long count = strtol(argv[3], NULL, 10);
        int32_t value = 0;
        uint64_t start = now_ns();
        for (long i = 0; i < count; i++) call(CODE_ONEWAY, &value, 4, TF_ONE_WAY);
        while (call(CODE_DRAIN, NULL, 0, 0) < count) {
        }
        printf("%llu\n", (unsigned long long)(now_ns() - start));
        return 0;
    }
    if (strcmp(argv[1], "object") == 0 && argc == 5) {
        long count = strtol(argv[4], NULL, 10);
        static int node;
        int pipe_fds[2];
        if (pipe(pipe_fds) < 0) die("pipe");
        struct flat_binder_object object;
        memset(&object, 0, sizeof object);
        uint32_t code = strcmp(argv[3], "binder-references") == 0 ? CODE_ECHO_OBJECT_WITH_REFERENCES : CODE_ECHO_OBJECT;
        if (strncmp(argv[3], "binder", 6) == 0) {
            object.hdr.type = BINDER_TYPE_BINDER;
            object.flags = FLAT_BINDER_FLAG_ACCEPTS_FDS;
            object.binder = (uintptr_t)&node;
        } else {
            object.hdr.type = BINDER_TYPE_FD;
            object.handle = (uint32_t)pipe_fds[0];
        }
        for (long i = 0; i < count; i++) {
            uint64_t start = now_ns();
            call_with_object(&object, code);
            printf("%llu\n", (unsigned long long)(now_ns() - start));
        }
        return 0;
    }
    if (strcmp(argv[1], "stop") == 0) {
        call(CODE_EXIT, NULL, 0, TF_ONE_WAY);
        return 0;
    }
    if (strcmp(argv[1], "threads") == 0 && argc == 5) {
        int threads = atoi(argv[3]);
        calls_per_thread = strtol(argv[4], NULL, 10);
        pthread_t clients[64];
        if (threads < 1 || threads > 64) die("thread count");
        uint64_t start = now_ns();
        for (int i = 0; i < threads; i++) {
            if (pthread_create(&clients[i], NULL, client_thread, NULL) != 0) die("pthread_create");
        }
        for (int i = 0; i < threads; i++) pthread_join(clients[i], NULL);
        printf("%llu\n", (unsigned long long)(now_ns() - start));
        return 0;
    }
    fprintf(stderr, "binder_baseline: bad arguments\n");
    return 2;
}
