// SPDX-License-Identifier: GPL-2.0
/*
 * The hub's ring reader (net_hub_ring_read) against a ring another process
 * wrote: the input is the shared header's head and reserve, the reader's
 * position, then the data area of a 4 KiB ring (a buffer of exactly that
 * size, so ASan sees any read past it). Every frame handed out fits the
 * buffer; the reader ends within a bounded number of calls. Then the same
 * bytes drive an honest writer: frames of the input's lengths, each read
 * back at once, must come out exactly as written, wrapping included.
 */
#include "fuzz.h"
#include "devices/net/net_backend.h"
#include "devices/net/net_hub.h"

#define RING	4096u

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static struct hub_ring *ring_new(void)
{
	struct hub_ring *r = malloc(NET_HUB_HDR_BYTES + RING);

	if (!r)
		abort();
	memset(r, 0, NET_HUB_HDR_BYTES + RING);
	r->size = RING;
	return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_MAKE_SEEDS");
	static uint8_t frame[RING], seed[24 + RING];
	struct hub_ring *r;
	uint64_t head = 0, rd = 0;
	int i, s;

	for (s = 0; dir && s < 3; s++) {
		r = ring_new();
		/* s = 1 and 2 start further on, so the frames wrap. */
		head = rd = s * 3000 & ~15u;
		for (i = 0; i < 6; i++) {
			memset(frame, 'a' + i, sizeof(frame));
			net_hub_ring_write(r, RING, &head, &(struct iovec){ frame, 60 + i * 150 * s },
					   1);
		}
		memcpy(seed, &r->head, 8);
		memcpy(seed + 8, &r->reserve, 8);
		memcpy(seed + 16, &rd, 8);
		memcpy(seed + 24, (uint8_t *)r + NET_HUB_HDR_BYTES, RING);
		fuzz_write_seed(dir, s == 0 ? "six" : s == 1 ? "six-wrap" : "six-wrap-big", seed,
				sizeof(seed));
		free(r);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[NET_FRAME_MAX], frame[RING];
	struct hub_ring *r;
	uint64_t rd, lost = 0, head, before;
	size_t i, n;
	ssize_t len;

	if (size < 24)
		return 0;
	r = ring_new();
	r->head = get64(data);
	r->reserve = get64(data + 8);
	rd = get64(data + 16);
	n = size - 24 < RING ? size - 24 : RING;
	memcpy((uint8_t *)r + NET_HUB_HDR_BYTES, data + 24, n);
	for (i = 0; i < 2 * RING / 16 + 2; i++) {
		/* A small buffer too: frames that do not fit are dropped, not cut. */
		len = net_hub_ring_read(r, RING, &rd, buf, i & 1 ? 64 : sizeof(buf), &lost);
		if (len > (i & 1 ? 64 : (ssize_t)sizeof(buf)))
			abort();
		if (!len)
			break;
	}
	/* An empty or resynced ring stays quiet: the loop above must have ended. */
	if (i == 2 * RING / 16 + 2)
		abort();
	free(r);

	/* The honest writer, read back frame by frame. */
	r = ring_new();
	head = rd = get64(data + 16) & ~15ULL;
	for (i = 24; i < size; i += 2) {
		size_t flen = (data[i] | (i + 1 < size ? data[i + 1] << 8 : 0)) % (RING / 2 - 16) + 1;

		memset(frame, data[i], flen);
		if (net_hub_ring_write(r, RING, &head, &(struct iovec){ frame, flen }, 1))
			abort();
		before = lost;
		len = net_hub_ring_read(r, RING, &rd, buf, sizeof(buf), &lost);
		if (len != (ssize_t)flen)
			abort();
		if (lost != before || memcmp(buf, frame, flen) || rd != head)
			abort();
	}
	free(r);
	return 0;
}
