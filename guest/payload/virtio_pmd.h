/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A polling virtio-net driver for test payloads (a guest "PMD"): finds the
 * virtio-net PCI function with configuration mechanism #1, maps the
 * virtio-pci modern windows from its vendor capabilities, negotiates
 * features, and drives one receive queue, one transmit queue and the
 * control queue on split or packed rings by polling. Interrupts are never
 * used: MSI-X stays disabled and INTx is masked in the PCI command register.
 *
 * Everything runs at CPL3. Port I/O is used only until the BARs are known
 * (on kvm_pvm each IN/OUT is finished by the #GP handler, slowly); after
 * that the device is reached through MMIO, which exits straight to the VMM,
 * and the rings live in identity-mapped payload memory (gpa == va), which
 * the polling loops read at native speed.
 *
 *	struct vpmd_config cfg;
 *	struct vpmd_dev dev;
 *
 *	vpmd_config_init(&cfg);
 *	vpmd_config_from_cmdline(&cfg);		// ring=, qsize=, mrg=, ...
 *	if (vpmd_probe(&dev) || vpmd_init(&dev, &cfg))
 *		return 1;
 *	vpmd_tx(&dev, frame, len);
 *	while (vpmd_rx(&dev, buf, sizeof(buf), &len) == 0)
 *		;
 */
#ifndef PAYLOAD_VIRTIO_PMD_H
#define PAYLOAD_VIRTIO_PMD_H

#include "payload.h"
#include "virtio/virtq_driver.h"

/* Feature bits (virtio 1.2, 5.1.3 and 6). */
#define VIRTIO_NET_F_CSUM		0
#define VIRTIO_NET_F_MAC		5
#define VIRTIO_NET_F_MRG_RXBUF		15
#define VIRTIO_NET_F_STATUS		16
#define VIRTIO_NET_F_CTRL_VQ		17
#define VIRTIO_NET_F_CTRL_RX		18
#define VIRTIO_NET_F_CTRL_VLAN		19
#define VIRTIO_NET_F_CTRL_RX_EXTRA	20
#define VIRTIO_NET_F_MQ			22
#define VIRTIO_NET_F_CTRL_MAC_ADDR	23

#define VPMD_BIT(n)			(1ULL << (n))

/* Device status (virtio 1.2, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

/* Control queue classes and commands (virtio 1.2, 5.1.6.5). */
#define VIRTIO_NET_OK			0
#define VIRTIO_NET_ERR			1
#define VIRTIO_NET_CTRL_RX		0
#define  VIRTIO_NET_CTRL_RX_PROMISC	0
#define  VIRTIO_NET_CTRL_RX_ALLMULTI	1
#define  VIRTIO_NET_CTRL_RX_ALLUNI	2
#define  VIRTIO_NET_CTRL_RX_NOMULTI	3
#define  VIRTIO_NET_CTRL_RX_NOUNI	4
#define  VIRTIO_NET_CTRL_RX_NOBCAST	5
#define VIRTIO_NET_CTRL_MAC		1
#define  VIRTIO_NET_CTRL_MAC_TABLE_SET	0
#define  VIRTIO_NET_CTRL_MAC_ADDR_SET	1
#define VIRTIO_NET_CTRL_MQ		4
#define  VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_CTRL_VLAN		2
#define  VIRTIO_NET_CTRL_VLAN_ADD	0
#define  VIRTIO_NET_CTRL_VLAN_DEL	1

/* The header every frame carries with VERSION_1 (virtio 1.2, 5.1.6). */
struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

_Static_assert(sizeof(struct virtio_net_hdr_v1) == 12, "virtio_net_hdr_v1 is 12 bytes");

#define VPMD_QUEUE_MAX		256
#define VPMD_MAX_PAIRS		16
#define VPMD_MAX_SG		8
#define VPMD_ETH_ALEN		6
#define VPMD_ETH_HLEN		14
#define VPMD_FRAME_MAX		1518	/* with one VLAN tag */

/* One segment of a buffer handed to the device. */
struct vpmd_sg {
	const void *addr;	/* gpa == va */
	uint32_t len;
};

/*
 * Driver side of one virtqueue. Fields are public so that a hostile test
 * (net_evil.c) can publish what no correct driver would.
 */
struct vpmd_queue {
	uint16_t index;
	uint16_t size;
	bool packed;
	uint64_t notify;		/* MMIO doorbell of this queue */
	/* The ring itself: virtio/virtq_driver.c, as vlab's own drivers use. */
	struct vdrv vr;
	uint8_t aux[VDRV_AUX_BYTES(VPMD_QUEUE_MAX)] __attribute__((aligned(8)));

	bool broken;			/* the device used an id we never gave it */
	uint64_t kicks;			/* doorbell writes */
	uint64_t kicks_suppressed;	/* skipped: the device said NO_NOTIFY */
};

struct vpmd_config {
	uint64_t want;		/* features to negotiate if offered */
	uint64_t need;		/* features the device must offer */
	uint16_t queue_size;	/* power of two <= 256; clamped to the device max */
	uint32_t rx_buf_len;	/* bytes per receive buffer, header included */
	uint16_t pairs;		/* queue pairs (MQ): the others' rings are set up, unused */
};

struct vpmd_stats {
	uint64_t tx_frames, tx_full;
	uint64_t rx_frames, rx_bytes, rx_merged, rx_bad;
	uint64_t ctrl_cmds;
};

struct vpmd_dev {
	/* PCI location and the virtio-pci windows (MMIO addresses). */
	uint8_t slot;
	uint64_t common;
	uint64_t notify_base;
	uint32_t notify_mult;
	uint64_t isr;
	uint64_t device;
	uint32_t device_len;

	uint64_t offered;	/* device features */
	uint64_t features;	/* negotiated */
	uint16_t num_queues;
	uint8_t mac[VPMD_ETH_ALEN];
	uint16_t hdr_len;
	uint32_t rx_buf_len;

	struct vpmd_queue rx, tx, ctrl;
	uint16_t pairs;			/* in use: pair 0, and extra[] for the rest */
	struct vpmd_queue *extra;	/* rx1, tx1, rx2, ... (payload memory) */
	uint8_t *extra_mem;		/* their rings */

	/* Payload memory for rings and buffers, reused across vpmd_init(). */
	uint8_t *mem;
	uint64_t mem_size;
	uint8_t *rx_bufs;
	uint8_t *tx_bufs;
	uint16_t tx_free[VPMD_QUEUE_MAX];	/* stack of free TX buffer slots */
	uint16_t tx_nr_free;
	uint16_t rx_to_refill;			/* RX buffers consumed, not reposted */
	uint8_t *ctrl_buf;

	struct vpmd_stats stats;
};

/*
 * Defaults: VERSION_1 MAC STATUS CTRL_VQ CTRL_RX CTRL_VLAN CTRL_MAC_ADDR
 * wanted, VERSION_1 needed, split ring of 256, 2048-byte RX buffers.
 */
void vpmd_config_init(struct vpmd_config *cfg);
/*
 * Apply the command line: ring=split|packed, qsize=N (a power of two,
 * 2..256), mrg=on|off (MRG_RXBUF), rxbuf=BYTES, feat_add=MASK,
 * feat_del=MASK, pairs=N (MQ, 1..16: every pair's rings set up and the
 * count sent with VQ_PAIRS_SET; traffic stays on pair 0). Returns 0, or -1 after printing what was wrong.
 */
int vpmd_config_from_cmdline(struct vpmd_config *cfg);
/* "split" or "packed", as the config asks. */
const char *vpmd_config_ring(const struct vpmd_config *cfg);

/*
 * Scan PCI bus 0 for a virtio-net function (1af4:1041), read its
 * capabilities and enable memory decoding. Port I/O; done once.
 */
int vpmd_probe(struct vpmd_dev *d);
/* The same for the @nth virtio-net function (0 = the first); -1 quietly if none. */
int vpmd_probe_nth(struct vpmd_dev *d, unsigned int nth);
/* The @nth function of virtio device type @virtio_id (PCI 1af4:1040+id). */
int vpmd_probe_id(struct vpmd_dev *d, uint16_t virtio_id, unsigned int nth);

/*
 * Another kind of virtio function (virtio-rdma): reset and negotiate
 * (@need must be offered, @want is taken where it is), set up queue
 * @index with @size entries on rings from payload memory, DRIVER_OK.
 * 0 or -1 (printed).
 */
int vpmd_negotiate(struct vpmd_dev *d, uint64_t want, uint64_t need);
int vpmd_queue_setup(struct vpmd_dev *d, struct vpmd_queue *q, uint16_t index, uint16_t size);
int vpmd_driver_ok(struct vpmd_dev *d);
/*
 * Queue @index's interrupt as @vector (>= 32) to the boot CPU's local
 * APIC, through MSI-X table entry 0 (payload.h: payload_wait_irq()): 0,
 * or -1 (printed) if the function has no MSI-X or the device refuses.
 */
int vpmd_queue_irq(struct vpmd_dev *d, uint16_t index, uint8_t vector);

/*
 * Reset, negotiate, set up the queues, DRIVER_OK, post the receive
 * buffers. May be called again after vpmd_reset(). 0 or -1 (printed).
 */
int vpmd_init(struct vpmd_dev *d, const struct vpmd_config *cfg);
/* Write status 0 and wait until the device reads back 0. */
int vpmd_reset(struct vpmd_dev *d);
uint8_t vpmd_status(struct vpmd_dev *d);
void vpmd_set_status(struct vpmd_dev *d, uint8_t status);
static inline bool vpmd_has(const struct vpmd_dev *d, unsigned int bit)
{
	return d->features & VPMD_BIT(bit);
}

/* The MAC in the device configuration space (consistent by generation). */
void vpmd_read_mac(struct vpmd_dev *d, uint8_t mac[VPMD_ETH_ALEN]);
uint16_t vpmd_read_net_status(struct vpmd_dev *d);
uint8_t vpmd_config_generation(struct vpmd_dev *d);

/* Generic queue operations. */
int vpmd_queue_add(struct vpmd_queue *q, const struct vpmd_sg *sg,
		   unsigned int out, unsigned int in, void *cookie);
/* Publish what was added and ring the doorbell unless suppressed. */
void vpmd_queue_kick(struct vpmd_queue *q);
/* The next used buffer's cookie (its descriptors freed), or NULL. */
void *vpmd_queue_get_used(struct vpmd_queue *q, uint32_t *len);

/*
 * Send one Ethernet frame (a zeroed virtio_net_hdr_v1 is prepended).
 * 0, or -1 if every TX buffer is still owned by the device.
 */
int vpmd_tx(struct vpmd_dev *d, const void *frame, uint32_t len);
/*
 * A burst, as a DPDK PMD sends: vpmd_tx_queue() adds a frame without
 * handing it over (-1 if no slot is free); vpmd_tx_flush() hands over every
 * queued frame at once, with one doorbell if the device wants one.
 */
int vpmd_tx_queue(struct vpmd_dev *d, const void *frame, uint32_t len);
void vpmd_tx_flush(struct vpmd_dev *d);
/* Reap TX completions; returns how many. */
unsigned int vpmd_tx_reap(struct vpmd_dev *d);
/* TX buffers still owned by the device. */
unsigned int vpmd_tx_pending(const struct vpmd_dev *d);

/*
 * Poll once for a received frame: 1 with the frame (header stripped,
 * merged buffers joined) copied to @buf and *@len set; 0 if none yet;
 * -1 for a malformed completion.
 */
int vpmd_rx(struct vpmd_dev *d, void *buf, uint32_t cap, uint32_t *len);
/*
 * Take one used receive buffer and post it again without reading a byte
 * of it (a test that must not touch what the device wrote): 1, 0 if none,
 * -1 if the queue is broken. One used buffer is one frame (no MRG_RXBUF
 * merging is followed).
 */
int vpmd_rx_skip(struct vpmd_dev *d);

/*
 * Send a control command and poll for its ack: VIRTIO_NET_OK,
 * VIRTIO_NET_ERR (or whatever else the device wrote), or -1 on timeout.
 * vpmd_ctrl_raw() sends the out segments as given, for malformed commands.
 */
int vpmd_ctrl(struct vpmd_dev *d, uint8_t cls, uint8_t cmd, const void *data,
	      uint32_t len);
int vpmd_ctrl_raw(struct vpmd_dev *d, const struct vpmd_sg *out,
		  unsigned int nr_out);

/* Time, from the TSC. */
uint64_t vpmd_us_to_tsc(uint64_t us);
static inline uint64_t vpmd_deadline_us(uint64_t us)
{
	return rdtsc() + vpmd_us_to_tsc(us);
}

static inline bool vpmd_expired(uint64_t deadline)
{
	return (int64_t)(rdtsc() - deadline) >= 0;
}

/* Bump allocator over payload RAM above the image (zeroed, never freed). */
void *vpmd_alloc(uint64_t size, uint64_t align);

/* "52:54:00:12:34:56" to bytes; 0 or -1. */
int vpmd_parse_mac(const char *s, uint8_t mac[VPMD_ETH_ALEN]);

/*
 * Test frames: Ethernet header, optionally one 802.1Q tag, ethertype
 * 0x88b5 (IEEE 802 local experimental), struct vpmd_test_hdr, then a
 * pattern derived from seq and tag that the receiver can verify.
 */
#define VPMD_ETHERTYPE		0x88b5
#define VPMD_ETHERTYPE_VLAN	0x8100
#define VPMD_TEST_MAGIC		0x626c6176	/* "vlab" */
#define VPMD_NO_VLAN		(-1)

struct vpmd_test_hdr {
	uint32_t magic;
	uint32_t seq;
	uint64_t tsc;		/* sender's TSC when it sent this copy */
	uint32_t tag;		/* what the sender wants to tell frames apart by */
	uint32_t len;		/* pattern bytes that follow */
};

extern const uint8_t vpmd_bcast[VPMD_ETH_ALEN];

/* Build a test frame in @f (room for VPMD_FRAME_MAX); returns its length. */
uint32_t vpmd_frame_build(uint8_t *f, const uint8_t *dst, const uint8_t *src,
			  int vid, uint32_t seq, uint32_t tag, uint32_t pattern_len);
/*
 * The test header of @f, or NULL if it is not a well-formed test frame
 * (wrong ethertype, magic, length or pattern). *@vid gets the VLAN id or
 * VPMD_NO_VLAN.
 */
struct vpmd_test_hdr *vpmd_frame_parse(uint8_t *f, uint32_t len, int *vid);
/* Swap source and destination, putting @self as the new source. */
void vpmd_frame_reflect(uint8_t *f, const uint8_t *self);
/* "xx:xx:xx:xx:xx:xx" of @mac, in a buffer that lives until the next 4 calls. */
const char *vpmd_mac_str(const uint8_t *mac);

#endif
