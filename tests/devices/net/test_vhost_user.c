// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user front end's protocol against an in-process fake backend
 * on a socketpair: what the handshake negotiates and sends, descriptors
 * beside SET_VRING_KICK, and every kind of lying reply refused with a
 * message (wrong request code, not a reply, wrong size, absurd size, a
 * refused ack, a backend that hangs up).
 */
#include <check.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "devices/net/vhost_user.h"

#define F(bit) (1ULL << (bit))

enum lie { HONEST, BAD_CODE, NOT_REPLY, BAD_SIZE, HUGE_SIZE, REFUSE, HANG_UP };

struct fake {
	int fd;
	enum lie lie;
	uint64_t protocol_set;		/* what SET_PROTOCOL_FEATURES said */
	bool owner, need_reply_seen;
	int kick_fds, kick_index;	/* SET_VRING_KICK: fds that came, ring index */
	uint32_t requests[32];
	int nr;
};

static void fake_reply(struct fake *f, uint32_t req, const void *p, uint32_t len)
{
	struct vhu_msg m = { .request = req, .flags = VHU_VERSION | VHU_FLAG_REPLY, .size = len };

	if (f->lie == BAD_CODE)
		m.request = req + 1;
	if (f->lie == NOT_REPLY)
		m.flags = VHU_VERSION;
	if (f->lie == BAD_SIZE)
		m.size = len - 4;
	if (f->lie == HUGE_SIZE)
		m.size = 0xffffffff;
	memcpy(&m.payload, p, len);
	ck_assert_int_eq(write(f->fd, &m, VHU_HDR_SIZE + (f->lie == BAD_SIZE ? len - 4 : len)),
			 VHU_HDR_SIZE + (f->lie == BAD_SIZE ? len - 4 : len));
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	struct vhu_msg m;

	for (;;) {
		char ctl[CMSG_SPACE(8 * sizeof(int))];
		struct iovec iov = { &m, VHU_HDR_SIZE };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };
		struct cmsghdr *cm;
		uint64_t v = 0;
		int fds = 0;

		if (recvmsg(f->fd, &mh, 0) != VHU_HDR_SIZE)
			break;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			fds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (int i = 0; i < fds; i++)
				close(((int *)CMSG_DATA(cm))[i]);
		}
		if (m.size && read(f->fd, &m.payload, m.size) != (ssize_t)m.size)
			break;
		if (f->nr < 32)
			f->requests[f->nr++] = m.request;
		if (f->lie == HANG_UP)
			break;
		switch (m.request) {
		case VHU_GET_FEATURES:
			v = F(VIRTIO_F_VERSION_1) | F(VHU_F_PROTOCOL_FEATURES);
			fake_reply(f, m.request, &v, 8);
			continue;
		case VHU_GET_PROTOCOL_FEATURES:
			/* Bit 5 is one the front end does not speak. */
			v = F(VHU_PROTOCOL_F_MQ) | F(VHU_PROTOCOL_F_REPLY_ACK) | F(5);
			fake_reply(f, m.request, &v, 8);
			continue;
		case VHU_SET_PROTOCOL_FEATURES:
			f->protocol_set = m.payload.u64;
			break;
		case VHU_GET_QUEUE_NUM:
			v = 4;
			fake_reply(f, m.request, &v, 8);
			continue;
		case VHU_GET_VRING_BASE:
			m.payload.state.num = 1234;
			fake_reply(f, m.request, &m.payload.state, sizeof(m.payload.state));
			continue;
		case VHU_SET_OWNER:
			f->owner = true;
			break;
		case VHU_SET_VRING_KICK:
			f->kick_fds = fds;
			f->kick_index = m.payload.u64 & VHU_VRING_IDX_MASK;
			break;
		}
		if (m.flags & VHU_FLAG_NEED_REPLY) {
			f->need_reply_seen = true;
			v = f->lie == REFUSE && m.request == VHU_SET_OWNER;
			fake_reply(f, m.request, &v, 8);
		}
	}
	close(f->fd);
	return NULL;
}

struct pair {
	struct fake f;
	struct vhu_conn c;
	pthread_t t;
};

static void pair_start(struct pair *p, enum lie lie)
{
	int sv[2];

	memset(p, 0, sizeof(*p));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->c.fd = sv[0];
	p->c.timeout_ms = 60000;	/* only a hang reaches it */
	p->f.fd = sv[1];
	p->f.lie = lie;
	ck_assert_int_eq(pthread_create(&p->t, NULL, fake_run, &p->f), 0);
}

static void pair_end(struct pair *p)
{
	vhu_close(&p->c);
	pthread_join(p->t, NULL);
}

START_TEST(test_handshake)
{
	struct vhost_vring_state s = { .index = 1 };
	struct pair p;
	int efd = eventfd(0, EFD_CLOEXEC);

	pair_start(&p, HONEST);
	ck_assert_msg(!vhu_handshake(&p.c), "%s", p.c.err);
	ck_assert_uint_eq(p.c.protocol_features,
			  F(VHU_PROTOCOL_F_MQ) | F(VHU_PROTOCOL_F_REPLY_ACK));
	ck_assert_uint_eq(p.c.queue_num, 4);
	ck_assert_int_eq(vhu_get(&p.c, VHU_GET_VRING_BASE, &s, sizeof(s), &s, sizeof(s)), 0);
	ck_assert_uint_eq(s.num, 1234);
	ck_assert_int_eq(vhu_set_fd(&p.c, VHU_SET_VRING_KICK, 3, efd), 0);
	/* Acked, so the kick has been read when this returns. */
	ck_assert_int_eq(vhu_set_state(&p.c, VHU_SET_VRING_NUM, 3, 256), 0);
	pair_end(&p);
	close(efd);
	ck_assert_uint_eq(p.f.protocol_set, p.c.protocol_features);
	ck_assert(p.f.owner && p.f.need_reply_seen);
	ck_assert_int_eq(p.f.kick_fds, 1);
	ck_assert_int_eq(p.f.kick_index, 3);
	ck_assert_int_ge(p.f.nr, 6);
	ck_assert_uint_eq(p.f.requests[0], VHU_GET_FEATURES);
	ck_assert_uint_eq(p.f.requests[1], VHU_GET_PROTOCOL_FEATURES);
	ck_assert_uint_eq(p.f.requests[2], VHU_SET_PROTOCOL_FEATURES);
	ck_assert_uint_eq(p.f.requests[3], VHU_GET_QUEUE_NUM);
	ck_assert_uint_eq(p.f.requests[4], VHU_SET_OWNER);
}
END_TEST

static void lie_refused(enum lie lie, const char *says)
{
	struct pair p;

	pair_start(&p, lie);
	ck_assert_int_eq(vhu_handshake(&p.c), -1);
	ck_assert_msg(strstr(p.c.err, says), "lie %d: \"%s\" lacks \"%s\"", lie, p.c.err, says);
	pair_end(&p);
}

START_TEST(test_lies)
{
	lie_refused(BAD_CODE, "reply to request 2 where 1 was asked");
	lie_refused(NOT_REPLY, "not a version 1 reply");
	lie_refused(BAD_SIZE, "has 4 payload bytes, not 8");
	lie_refused(HUGE_SIZE, "claims 4294967295 payload bytes");
	lie_refused(REFUSE, "refused request 3");
	lie_refused(HANG_UP, "closed the connection");
}
END_TEST

START_TEST(test_reply_check)
{
	struct vhu_msg m = { .request = VHU_GET_FEATURES, .flags = VHU_VERSION | VHU_FLAG_REPLY,
			     .size = 8 };
	char err[128];

	ck_assert_int_eq(vhu_reply_check(&m, VHU_HDR_SIZE + 8, VHU_GET_FEATURES, 8, err,
					 sizeof(err)), 0);
	/* The header's size and the bytes read must agree. */
	ck_assert_int_eq(vhu_reply_check(&m, VHU_HDR_SIZE + 4, VHU_GET_FEATURES, 8, err,
					 sizeof(err)), -1);
	ck_assert_int_eq(vhu_reply_check(&m, 4, VHU_GET_FEATURES, 8, err, sizeof(err)), -1);
	m.flags = 2 | VHU_FLAG_REPLY;
	ck_assert_int_eq(vhu_reply_check(&m, VHU_HDR_SIZE + 8, VHU_GET_FEATURES, 8, err,
					 sizeof(err)), -1);
}
END_TEST

static Suite *vhost_user_suite(void)
{
	Suite *s = suite_create("vhost_user");

	vlab_tcase(s, "protocol", NULL, NULL, 120,
		   VLAB_TESTS(test_handshake, test_lies, test_reply_check));
	return s;
}

VLAB_TEST_MAIN(vhost_user_suite)
