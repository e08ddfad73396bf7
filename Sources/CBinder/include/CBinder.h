// CBinder: the binder kernel UAPI for Swift.
//
// Swift imports the UAPI structs and the BC_*/BR_* enums directly. What it cannot import are
// the ioctl request numbers (function-like `_IOWR` macros) and the variadic `ioctl(2)`; this
// module exports those, plus the `statfs` declaration Glibc's module map leaves out.
#ifndef CBINDER_H
#define CBINDER_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>  // statfs(2), to recognise a binderfs mount by its magic
#include <linux/types.h>
#include <linux/android/binder.h>
#include <linux/android/binderfs.h>

// ioctl request numbers on a binder device (protocol 8, 64-bit).
extern const unsigned long CBinder_BINDER_WRITE_READ;
extern const unsigned long CBinder_BINDER_SET_MAX_THREADS;
extern const unsigned long CBinder_BINDER_SET_CONTEXT_MGR;
extern const unsigned long CBinder_BINDER_SET_CONTEXT_MGR_EXT;
extern const unsigned long CBinder_BINDER_THREAD_EXIT;
extern const unsigned long CBinder_BINDER_VERSION;
extern const unsigned long CBinder_BINDER_GET_NODE_DEBUG_INFO;
extern const unsigned long CBinder_BINDER_GET_NODE_INFO_FOR_REF;
extern const unsigned long CBinder_BINDER_FREEZE;
extern const unsigned long CBinder_BINDER_GET_FROZEN_INFO;
extern const unsigned long CBinder_BINDER_ENABLE_ONEWAY_SPAM_DETECTION;
extern const unsigned long CBinder_BINDER_GET_EXTENDED_ERROR;

// ioctl request number on binderfs' `binder-control`.
extern const unsigned long CBinder_BINDER_CTL_ADD;

// Commands and returns newer than Debian 12's 6.1 header (freeze notifications, 6.12).
// Their payload `binder_handle_cookie` is packed: 12 bytes, not 16.
extern const uint32_t CBinder_BR_TRANSACTION_PENDING_FROZEN;
extern const uint32_t CBinder_BR_FROZEN_BINDER;
extern const uint32_t CBinder_BR_CLEAR_FREEZE_NOTIFICATION_DONE;
extern const uint32_t CBinder_BC_REQUEST_FREEZE_NOTIFICATION;
extern const uint32_t CBinder_BC_CLEAR_FREEZE_NOTIFICATION;
extern const uint32_t CBinder_BC_FREEZE_NOTIFICATION_DONE;

// `ioctl(2)` is variadic, which Swift cannot call.
static inline int CBinder_ioctl(int fd, unsigned long request, void *argument) {
    return ioctl(fd, request, argument);
}

#endif
