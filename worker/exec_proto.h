/*
 * exec_proto — the executor protocol: how the trusted session runner (host
 * side, holds the sessions token) talks to the untrusted tool executor
 * (omni-exec, inside the sandbox, holds nothing secret).
 *
 * One byte stream (a socketpair for the host backends; a virtio-serial port
 * or vsock for a microVM) carries frames: a 4-byte big-endian length, then
 * that many bytes of one JSON object. Frames larger than XP_FRAME_MAX are a
 * protocol error and end the channel.
 *
 *   executor -> runner   {"op":"ready","version":1}            once, at start
 *   runner -> executor   {"op":"run","id":N,"thread":TH,"tool":T,"input":{...}}
 *   runner -> executor   {"op":"cancel","id":N}                 stop call N
 *   runner -> executor   {"op":"end","id":0,"thread":TH}        thread TH ended
 *   executor -> runner   {"op":"result","id":N,"is_error":B,"text":S}
 *
 * "thread" is the call's session_thread_id (absent: the primary thread);
 * each thread has its own toolset, so its own persistent shell, which "end"
 * kills. Calls of one thread are serial: the runner sends its next "run"
 * only after the previous "result". Calls of different threads may overlap
 * (SDK 1.16 maxConcurrentCalls); results come back in the order they finish.
 * The executor exits when the stream ends. The runner treats
 * everything the executor sends as hostile input: ids must match, the text is
 * capped and re-validated, and a malformed frame ends the executor.
 */
#ifndef OMNI_EXEC_PROTO_H
#define OMNI_EXEC_PROTO_H

#include <stddef.h>

#include "buf.h"

#define XP_VERSION 1
#define XP_FRAME_MAX (32u * 1024 * 1024) /* write content and results stay far below */

/* Both ends keep their descriptors non-blocking (O_NONBLOCK): the timeouts
 * below are enforced with poll(2).
 *
 * Write one frame (length prefix and body) within timeout_ms.
 * Returns 0, or -1 with errno (ETIMEDOUT, EPIPE, ...). SIGPIPE is not raised. */
int xp_write(int fd, const char *data, size_t len, int timeout_ms);

/*
 * Read one frame into out (reset first) within timeout_ms (-1 = no limit).
 * *abort (may be NULL) is checked every XP_POLL_MS. Returns 1 with a frame,
 * 0 at a clean end of stream before a frame began, -1 with errno on error
 * (ETIMEDOUT, ECANCELED for abort, EPROTO for a bad length or a stream that
 * ends inside a frame, EMSGSIZE over XP_FRAME_MAX).
 */
int xp_read(int fd, struct buf *out, int timeout_ms, volatile int *abort);

#define XP_POLL_MS 50

#endif
