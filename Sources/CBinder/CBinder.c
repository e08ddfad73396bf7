#include "CBinder.h"

// The packed-struct trap: compiled without the packing, these commands change value and the
// driver rejects them.
_Static_assert(sizeof(struct binder_handle_cookie) == 12, "binder_handle_cookie must be packed");
_Static_assert(BC_REQUEST_DEATH_NOTIFICATION == 0x400C630E, "BC_REQUEST_DEATH_NOTIFICATION");
_Static_assert(sizeof(struct binder_transaction_data) == 64, "binder_transaction_data");
_Static_assert(sizeof(struct binder_write_read) == 48, "binder_write_read");
_Static_assert(sizeof(struct binderfs_device) == 264, "binderfs_device");

const unsigned long CBinder_BINDER_WRITE_READ = BINDER_WRITE_READ;
const unsigned long CBinder_BINDER_SET_MAX_THREADS = BINDER_SET_MAX_THREADS;
const unsigned long CBinder_BINDER_SET_CONTEXT_MGR = BINDER_SET_CONTEXT_MGR;
const unsigned long CBinder_BINDER_SET_CONTEXT_MGR_EXT = BINDER_SET_CONTEXT_MGR_EXT;
const unsigned long CBinder_BINDER_THREAD_EXIT = BINDER_THREAD_EXIT;
const unsigned long CBinder_BINDER_VERSION = BINDER_VERSION;
const unsigned long CBinder_BINDER_GET_NODE_DEBUG_INFO = BINDER_GET_NODE_DEBUG_INFO;
const unsigned long CBinder_BINDER_GET_NODE_INFO_FOR_REF = BINDER_GET_NODE_INFO_FOR_REF;
const unsigned long CBinder_BINDER_FREEZE = BINDER_FREEZE;
const unsigned long CBinder_BINDER_GET_FROZEN_INFO = BINDER_GET_FROZEN_INFO;
const unsigned long CBinder_BINDER_ENABLE_ONEWAY_SPAM_DETECTION = BINDER_ENABLE_ONEWAY_SPAM_DETECTION;
const unsigned long CBinder_BINDER_GET_EXTENDED_ERROR = BINDER_GET_EXTENDED_ERROR;
const unsigned long CBinder_BINDER_CTL_ADD = BINDER_CTL_ADD;

// 6.12 additions, spelled as the 6.12 header spells them (struct binder_frozen_state_info is
// 16 bytes: u64 cookie, u32 is_frozen, u32 reserved).
const uint32_t CBinder_BR_TRANSACTION_PENDING_FROZEN = _IO('r', 20);
const uint32_t CBinder_BR_FROZEN_BINDER = _IOR('r', 21, struct { __u64 cookie; __u32 is_frozen; __u32 reserved; });
const uint32_t CBinder_BR_CLEAR_FREEZE_NOTIFICATION_DONE = _IOR('r', 22, binder_uintptr_t);
const uint32_t CBinder_BC_REQUEST_FREEZE_NOTIFICATION = _IOW('c', 19, struct binder_handle_cookie);
const uint32_t CBinder_BC_CLEAR_FREEZE_NOTIFICATION = _IOW('c', 20, struct binder_handle_cookie);
const uint32_t CBinder_BC_FREEZE_NOTIFICATION_DONE = _IOW('c', 21, binder_uintptr_t);
