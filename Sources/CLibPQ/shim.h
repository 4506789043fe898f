#ifndef TENANCY_CLIBPQ_SHIM_H
#define TENANCY_CLIBPQ_SHIM_H

#include <libpq-fe.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

// libpq names the fields of an error report with character-literal macros (PG_DIAG_*), which
// Swift does not import, so they are repeated here as constants.

static const int tenancy_pg_diag_severity = PG_DIAG_SEVERITY_NONLOCALIZED;
static const int tenancy_pg_diag_sqlstate = PG_DIAG_SQLSTATE;
static const int tenancy_pg_diag_message_primary = PG_DIAG_MESSAGE_PRIMARY;
static const int tenancy_pg_diag_message_detail = PG_DIAG_MESSAGE_DETAIL;
static const int tenancy_pg_diag_message_hint = PG_DIAG_MESSAGE_HINT;
static const int tenancy_pg_diag_statement_position = PG_DIAG_STATEMENT_POSITION;
static const int tenancy_pg_diag_context = PG_DIAG_CONTEXT;
static const int tenancy_pg_diag_schema_name = PG_DIAG_SCHEMA_NAME;
static const int tenancy_pg_diag_table_name = PG_DIAG_TABLE_NAME;
static const int tenancy_pg_diag_column_name = PG_DIAG_COLUMN_NAME;
static const int tenancy_pg_diag_datatype_name = PG_DIAG_DATATYPE_NAME;
static const int tenancy_pg_diag_constraint_name = PG_DIAG_CONSTRAINT_NAME;

// The poller that waits on connection sockets uses epoll. `struct epoll_event` is packed on
// x86_64, so these helpers take and return its fields instead of the struct.

/// Adds `fd` to `epoll` or re-arms it, one-shot, reporting `events` with `token`.
static inline int tenancy_epoll_arm(int epoll, int fd, uint32_t events, uint64_t token) {
    struct epoll_event event;
    event.events = events | EPOLLONESHOT;
    event.data.u64 = token;
    if (epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event) == 0) {
        return 0;
    }
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

/// Returns a new non-blocking, close-on-exec eventfd, or -1.
static inline int tenancy_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/// Adds `fd` to `epoll` for reading, reported with `token` every time it is readable.
static inline int tenancy_epoll_add_readable(int epoll, int fd, uint64_t token) {
    struct epoll_event event;
    event.events = EPOLLIN;
    event.data.u64 = token;
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

/// Waits for at most `capacity` events (64 at most) and copies their tokens and flags.
static inline int tenancy_epoll_wait(int epoll, uint64_t *tokens, uint32_t *flags, int capacity, int timeout) {
    struct epoll_event events[64];
    if (capacity > 64) {
        capacity = 64;
    }
    int count = epoll_wait(epoll, events, capacity, timeout);
    for (int index = 0; index < count; index++) {
        tokens[index] = events[index].data.u64;
        flags[index] = events[index].events;
    }
    return count;
}

static const uint32_t tenancy_epoll_in = EPOLLIN;
static const uint32_t tenancy_epoll_out = EPOLLOUT;

#endif
