// SPDX-License-Identifier: GPL-2.0
/*
 * A vhost-user backend that says anything: the input is the byte stream
 * it answers with. The front end's handshake, a GET_VRING_BASE and an
 * acked SET_VRING_NUM read it through vhu_read()/vhu_reply_check(): each
 * either fails with a message or takes exactly what it asked for.
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "devices/net/vhost_user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhu_conn c = { .timeout_ms = 1000 };
	struct vhost_vring_state s = { .index = 1 };
	int sv[2], r;

	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	/* All the backend will ever say, then it hangs up (what we send piles up). */
	if (size && write(sv[1], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[1], SHUT_WR);
	c.fd = sv[0];
	r = vhu_handshake(&c);
	if (!r) {
		if (c.protocol_features & ~((1ULL << VHU_PROTOCOL_F_MQ) |
					    (1ULL << VHU_PROTOCOL_F_REPLY_ACK) |
					    (1ULL << VHU_PROTOCOL_F_LOG_SHMFD)))
			abort();
		if (c.queue_num > 0xffff)
			abort();
		vhu_get(&c, VHU_GET_VRING_BASE, &s, sizeof(s), &s, sizeof(s));
		vhu_set_state(&c, VHU_SET_VRING_NUM, 0, 256);
	} else if (!c.err[0]) {
		abort();		/* a failure always says why */
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}
