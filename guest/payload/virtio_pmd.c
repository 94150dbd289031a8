// SPDX-License-Identifier: GPL-2.0
/*
 * Polling virtio-net driver for test payloads; see virtio_pmd.h.
 *
 * Ordering: x86 keeps stores in order and loads in order, so publishing a
 * descriptor before the index or flags that hand it over, and reading a
 * used entry after the index or flags that announce it, need only
 * compiler barriers (the release/acquire atomics below). The one place
 * the CPU itself may reorder is a store followed by a load: publishing
 * buffers and then reading whether the device wants a doorbell, which
 * takes a full fence.
 */
#include "virtio_pmd.h"
#include "vmm/core/bytes.h"

#define  PCI_COMMAND_MASTER	0x0004
#define  PCI_COMMAND_INTX_OFF	0x0400
#define PCI_STATUS_CAP_LIST	0x0010
#define PCI_CAP_PTR		0x34
#define PCI_CAP_ID_MSIX		0x11
#define PCI_CAP_ID_VNDR		0x09

#define VIRTIO_PCI_VENDOR	0x1af4
#define VIRTIO_PCI_NET_MODERN	0x1041

/* virtio_pci_cap.cfg_type (virtio 1.2, 4.1.4) */
#define VIRTIO_PCI_CAP_COMMON	1
#define VIRTIO_PCI_CAP_NOTIFY	2
#define VIRTIO_PCI_CAP_ISR	3
#define VIRTIO_PCI_CAP_DEVICE	4

/* struct virtio_pci_common_cfg (virtio 1.2, 4.1.4.3) */
#define COMMON_DFSELECT		0x00
#define COMMON_DF		0x04
#define COMMON_GFSELECT		0x08
#define COMMON_GF		0x0c
#define COMMON_MSIX		0x10
#define COMMON_NUMQ		0x12
#define COMMON_STATUS		0x14
#define COMMON_CFGGEN		0x15
#define COMMON_Q_SELECT		0x16
#define COMMON_Q_SIZE		0x18
#define COMMON_Q_MSIX		0x1a
#define COMMON_Q_ENABLE		0x1c
#define COMMON_Q_NOFF		0x1e
#define COMMON_Q_DESC		0x20
#define COMMON_Q_DRIVER		0x28
#define COMMON_Q_DEVICE		0x30
#define COMMON_LEN_MIN		0x38

#define VIRTIO_MSI_NO_VECTOR	0xffff

/* struct virtio_net_config */
#define NETCFG_MAC		0
#define NETCFG_STATUS		6

#define TX_BUF_LEN		2048
#define CTRL_BUF_LEN		4096
#define CTRL_ACK_OFF		(CTRL_BUF_LEN - 64)
#define CTRL_DATA_MAX		(CTRL_ACK_OFF - 2)
#define CTRL_TIMEOUT_US		2000000
#define RESET_TIMEOUT_US	1000000
#define MERGE_TIMEOUT_US	100000

#define ARENA_FLOOR		(2ULL << 20)	/* as memwrite: below is the VMM's */

/* Each queue: descriptors, driver area, device area, a page each. */
#define QUEUE_AREA		4096
#define QUEUE_MEM		(3 * QUEUE_AREA)
_Static_assert(VPMD_QUEUE_MAX * sizeof(struct vring_desc) <= QUEUE_AREA &&
	       4 + VPMD_QUEUE_MAX * sizeof(struct vring_used_elem) + 2 <= QUEUE_AREA,
	       "a ring area of the largest queue fits a page");

#define load_acquire(p)		__atomic_load_n(p, __ATOMIC_ACQUIRE)
#define store_release(p, v)	__atomic_store_n(p, v, __ATOMIC_RELEASE)

/* ---- time and memory ---- */

uint64_t vpmd_us_to_tsc(uint64_t us)
{
	uint64_t khz = payload_tsc_khz();

	/* Unknown TSC rate: assume a fast one, so timeouts only get longer. */
	if (!khz)
		khz = 4000000;
	return us * khz / 1000;
}

static uint64_t arena_next, arena_end;

void *vpmd_alloc(uint64_t size, uint64_t align)
{
	const struct hvm_memmap_table_entry *map;
	unsigned int i, nr;
	uint64_t p;

	if (!arena_next) {
		/* The RAM entry that holds the image's end (or the floor). */
		arena_next = (payload_image_end() + 4095) & ~4095ULL;
		if (arena_next < ARENA_FLOOR)
			arena_next = ARENA_FLOOR;
		map = payload_memmap(&nr);
		for (i = 0; i < nr; i++) {
			if (map[i].type == HVM_MEMMAP_TYPE_RAM &&
			    map[i].addr <= arena_next &&
			    map[i].addr + map[i].size > arena_next)
				arena_end = map[i].addr + map[i].size;
		}
		if (arena_end > PAYLOAD_MAPPED_LIMIT)
			arena_end = PAYLOAD_MAPPED_LIMIT;
	}
	if (!align)
		align = 8;
	p = (arena_next + align - 1) & ~(align - 1);
	if (p + size > arena_end || p + size < p) {
		printf("vpmd: out of memory: %lu bytes at 0x%lx, RAM ends 0x%lx\n",
		       size, p, arena_end);
		return NULL;
	}
	arena_next = p + size;
	memset((void *)p, 0, size);
	return (void *)p;
}

/* ---- configuration ---- */

void vpmd_config_init(struct vpmd_config *cfg)
{
	cfg->want = VPMD_BIT(VIRTIO_F_VERSION_1) | VPMD_BIT(VIRTIO_NET_F_MAC) |
		    VPMD_BIT(VIRTIO_NET_F_STATUS) | VPMD_BIT(VIRTIO_NET_F_CTRL_VQ) |
		    VPMD_BIT(VIRTIO_NET_F_CTRL_RX) | VPMD_BIT(VIRTIO_NET_F_CTRL_VLAN) |
		    VPMD_BIT(VIRTIO_NET_F_CTRL_MAC_ADDR);
	cfg->need = VPMD_BIT(VIRTIO_F_VERSION_1);
	cfg->queue_size = VPMD_QUEUE_MAX;
	cfg->rx_buf_len = 2048;
}

static bool arg_bool(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "yes")) {
		*out = true;
		return true;
	}
	if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no")) {
		*out = false;
		return true;
	}
	return false;
}

int vpmd_config_from_cmdline(struct vpmd_config *cfg)
{
	const uint64_t packed = VPMD_BIT(VIRTIO_F_RING_PACKED);
	const char *v;
	uint64_t n;
	bool on;

	v = payload_arg("ring");
	if (v) {
		if (!strcmp(v, "packed")) {
			/* Asked for by name: a device without it is a failure. */
			cfg->want |= packed;
			cfg->need |= packed;
		} else if (!strcmp(v, "split")) {
			cfg->want &= ~packed;
			cfg->need &= ~packed;
		} else {
			printf("vpmd: ring=%s is not split or packed\n", v);
			return -1;
		}
	}
	n = payload_arg_u64("qsize", cfg->queue_size);
	if (n < 2 || n > VPMD_QUEUE_MAX || (n & (n - 1))) {
		printf("vpmd: qsize=%lu is not a power of two in 2..%u\n", n,
		       VPMD_QUEUE_MAX);
		return -1;
	}
	cfg->queue_size = n;
	v = payload_arg("mrg");
	if (v) {
		if (!arg_bool(v, &on)) {
			printf("vpmd: mrg=%s is not on or off\n", v);
			return -1;
		}
		if (on)
			cfg->want |= VPMD_BIT(VIRTIO_NET_F_MRG_RXBUF);
		else
			cfg->want &= ~VPMD_BIT(VIRTIO_NET_F_MRG_RXBUF);
	}
	n = payload_arg_u64("rxbuf", cfg->rx_buf_len);
	if (n < sizeof(struct virtio_net_hdr_v1) + VPMD_ETH_HLEN || n > 65536) {
		printf("vpmd: rxbuf=%lu is not %zu..65536\n", n,
		       sizeof(struct virtio_net_hdr_v1) + VPMD_ETH_HLEN);
		return -1;
	}
	cfg->rx_buf_len = n;
	n = payload_arg_u64("pairs", 1);
	if (n < 1 || n > VPMD_MAX_PAIRS) {
		printf("vpmd: pairs=%lu is not 1..%u\n", n, VPMD_MAX_PAIRS);
		return -1;
	}
	cfg->pairs = n;
	if (n > 1)
		cfg->need |= VPMD_BIT(VIRTIO_NET_F_MQ);
	cfg->want |= payload_arg_u64("feat_add", 0);
	cfg->want &= ~payload_arg_u64("feat_del", 0);
	return 0;
}

const char *vpmd_config_ring(const struct vpmd_config *cfg)
{
	return cfg->want & VPMD_BIT(VIRTIO_F_RING_PACKED) ? "packed" : "split";
}

int vpmd_parse_mac(const char *s, uint8_t mac[VPMD_ETH_ALEN])
{
	int i, j;

	for (i = 0; i < VPMD_ETH_ALEN; i++) {
		unsigned int b = 0;

		for (j = 0; j < 2; j++, s++) {
			unsigned int d;

			if (*s >= '0' && *s <= '9')
				d = *s - '0';
			else if (*s >= 'a' && *s <= 'f')
				d = *s - 'a' + 10;
			else if (*s >= 'A' && *s <= 'F')
				d = *s - 'A' + 10;
			else
				return -1;
			b = b << 4 | d;
		}
		mac[i] = b;
		if (i < VPMD_ETH_ALEN - 1 && *s++ != ':')
			return -1;
	}
	return *s ? -1 : 0;
}


struct vpmd_cap {
	bool found;
	uint8_t bar;
	uint32_t off, len;
};

int vpmd_probe(struct vpmd_dev *d)
{
	return vpmd_probe_nth(d, 0);
}

int vpmd_probe_nth(struct vpmd_dev *d, unsigned int nth)
{
	return vpmd_probe_id(d, VIRTIO_PCI_NET_MODERN - 0x1040, nth);
}

int vpmd_probe_id(struct vpmd_dev *d, uint16_t virtio_id, unsigned int nth)
{
	uint16_t pci_id = 0x1040 + virtio_id;
	struct vpmd_cap caps[VIRTIO_PCI_CAP_DEVICE + 1];
	uint64_t bars[6];
	bool bar_read[6];
	unsigned int guard;
	uint32_t id = 0, v;
	uint16_t cmd;
	uint8_t slot, pos;
	unsigned int skip = nth;
	int t;

	memset(d, 0, sizeof(*d));
	memset(caps, 0, sizeof(caps));
	memset(bar_read, 0, sizeof(bar_read));
	for (slot = 0; slot < PCI_SLOTS; slot++) {
		id = pci_read32(slot, PCI_ID);
		if (id == ((uint32_t)pci_id << 16 | VIRTIO_PCI_VENDOR) && !skip--)
			break;
	}
	if (slot == PCI_SLOTS) {
		if (nth)
			return -1;
		printf("vpmd: no virtio function %04x:%04x on bus 0\n", VIRTIO_PCI_VENDOR,
		       pci_id);
		return -1;
	}
	d->slot = slot;
	v = pci_read32(slot, PCI_COMMAND);
	if (!((v >> 16) & PCI_STATUS_CAP_LIST)) {
		printf("vpmd: 00:%02x.0 has no capability list\n", slot);
		return -1;
	}

	/*
	 * Walk the list; a guard stops a list that loops. The first
	 * capability of each type wins (virtio 1.2, 4.1.4.1).
	 */
	pos = pci_read32(slot, PCI_CAP_PTR) & 0xfc;
	for (guard = 0; pos && guard < 48; guard++) {
		uint32_t hdr = pci_read32(slot, pos);
		uint8_t type = hdr >> 24;

		if ((hdr & 0xff) == PCI_CAP_ID_VNDR && type >= VIRTIO_PCI_CAP_COMMON &&
		    type <= VIRTIO_PCI_CAP_DEVICE && !caps[type].found) {
			caps[type].found = true;
			caps[type].bar = pci_read32(slot, pos + 4) & 0xff;
			caps[type].off = pci_read32(slot, pos + 8);
			caps[type].len = pci_read32(slot, pos + 12);
			if (type == VIRTIO_PCI_CAP_NOTIFY)
				d->notify_mult = pci_read32(slot, pos + 16);
		}
		pos = (hdr >> 8) & 0xfc;
	}
	for (t = VIRTIO_PCI_CAP_COMMON; t <= VIRTIO_PCI_CAP_DEVICE; t++) {
		struct vpmd_cap *c = &caps[t];

		if (!c->found || c->bar > 5) {
			printf("vpmd: 00:%02x.0: virtio capability type %d %s\n",
			       slot, t, c->found ? "names no BAR" : "missing");
			return -1;
		}
		if (!bar_read[c->bar]) {
			bars[c->bar] = pci_bar_addr(slot, c->bar);
			bar_read[c->bar] = true;
		}
		if (!bars[c->bar] || bars[c->bar] + c->off >= PAYLOAD_MAPPED_LIMIT) {
			printf("vpmd: 00:%02x.0: BAR%u (0x%lx) is not a usable memory BAR\n",
			       slot, c->bar, bars[c->bar]);
			return -1;
		}
	}
	if (caps[VIRTIO_PCI_CAP_COMMON].len < COMMON_LEN_MIN) {
		printf("vpmd: common configuration window is only %u bytes\n",
		       caps[VIRTIO_PCI_CAP_COMMON].len);
		return -1;
	}
	d->common = bars[caps[VIRTIO_PCI_CAP_COMMON].bar] + caps[VIRTIO_PCI_CAP_COMMON].off;
	d->notify_base = bars[caps[VIRTIO_PCI_CAP_NOTIFY].bar] + caps[VIRTIO_PCI_CAP_NOTIFY].off;
	d->isr = bars[caps[VIRTIO_PCI_CAP_ISR].bar] + caps[VIRTIO_PCI_CAP_ISR].off;
	d->device = bars[caps[VIRTIO_PCI_CAP_DEVICE].bar] + caps[VIRTIO_PCI_CAP_DEVICE].off;
	d->device_len = caps[VIRTIO_PCI_CAP_DEVICE].len;

	/*
	 * Map the BARs. Bus mastering for the rings; INTx off because
	 * nothing here takes interrupts, so the device never needs to raise
	 * the line.
	 */
	cmd = v & 0xffff;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_OFF;
	pci_write16(slot, PCI_COMMAND, cmd);

	printf("vpmd: virtio %s at 00:%02x.0: common 0x%lx notify 0x%lx (x%u) isr 0x%lx device 0x%lx\n",
	       virtio_id == 1 ? "net" : "function", slot, d->common, d->notify_base, d->notify_mult, d->isr, d->device);
	return 0;
}

/* ---- common configuration (MMIO) ---- */

uint8_t vpmd_status(struct vpmd_dev *d)
{
	return mmio_read8(d->common + COMMON_STATUS);
}

void vpmd_set_status(struct vpmd_dev *d, uint8_t status)
{
	mmio_write8(d->common + COMMON_STATUS, status);
}

uint8_t vpmd_config_generation(struct vpmd_dev *d)
{
	return mmio_read8(d->common + COMMON_CFGGEN);
}

int vpmd_reset(struct vpmd_dev *d)
{
	uint64_t deadline = vpmd_deadline_us(RESET_TIMEOUT_US);

	vpmd_set_status(d, 0);
	/* 4.1.4.3.2: the reset is complete when status reads back 0. */
	while (vpmd_status(d)) {
		if (vpmd_expired(deadline)) {
			printf("vpmd: reset: status still 0x%x\n", vpmd_status(d));
			return -1;
		}
	}
	return 0;
}

void vpmd_read_mac(struct vpmd_dev *d, uint8_t mac[VPMD_ETH_ALEN])
{
	uint8_t gen;
	int i;

	/* 4.1.4.3.1 / 2.5.1: retry until the generation is stable around the read. */
	do {
		gen = vpmd_config_generation(d);
		for (i = 0; i < VPMD_ETH_ALEN; i++)
			mac[i] = mmio_read8(d->device + NETCFG_MAC + i);
	} while (gen != vpmd_config_generation(d));
}

uint16_t vpmd_read_net_status(struct vpmd_dev *d)
{
	return mmio_read16(d->device + NETCFG_STATUS);
}

static uint64_t read_device_features(struct vpmd_dev *d)
{
	uint64_t f;

	mmio_write32(d->common + COMMON_DFSELECT, 0);
	f = mmio_read32(d->common + COMMON_DF);
	mmio_write32(d->common + COMMON_DFSELECT, 1);
	f |= (uint64_t)mmio_read32(d->common + COMMON_DF) << 32;
	return f;
}

static void write_driver_features(struct vpmd_dev *d, uint64_t f)
{
	mmio_write32(d->common + COMMON_GFSELECT, 0);
	mmio_write32(d->common + COMMON_GF, (uint32_t)f);
	mmio_write32(d->common + COMMON_GFSELECT, 1);
	mmio_write32(d->common + COMMON_GF, (uint32_t)(f >> 32));
}

static void write_addr(struct vpmd_dev *d, uint32_t off, const void *p)
{
	uint64_t a = (uintptr_t)p;

	/* Two halves: the spec allows 64-bit fields to be written as 32-bit pairs. */
	mmio_write32(d->common + off, (uint32_t)a);
	mmio_write32(d->common + off + 4, (uint32_t)(a >> 32));
}

/* ---- virtqueues ---- */

static int queue_setup(struct vpmd_dev *d, struct vpmd_queue *q, uint16_t index,
		       uint16_t want, bool packed, uint8_t *mem)
{
	uint16_t max, noff;

	mmio_write16(d->common + COMMON_Q_SELECT, index);
	max = mmio_read16(d->common + COMMON_Q_SIZE);
	if (!max) {
		printf("vpmd: queue %u does not exist\n", index);
		return -1;
	}
	memset(q, 0, sizeof(*q));
	q->index = index;
	q->packed = packed;
	q->size = want < max ? want : max;
	/* A split ring must be a power of two; round a device maximum down. */
	while (!packed && (q->size & (q->size - 1)))
		q->size &= q->size - 1;
	{
		struct vdrv_rings r = {
			.desc = mem, .driver = mem + QUEUE_AREA, .device = mem + 2 * QUEUE_AREA,
			.desc_addr = (uintptr_t)mem,
			.driver_addr = (uintptr_t)(mem + QUEUE_AREA),
			.device_addr = (uintptr_t)(mem + 2 * QUEUE_AREA),
		};

		/* The ring's rules as negotiated: IN_ORDER changes which ids come back. */
		vdrv_setup(&q->vr, &r, q->aux, q->size,
			   (packed ? VDRV_F(VIRTIO_F_RING_PACKED) : 0) |
			   (d->features & VDRV_F(VIRTIO_F_IN_ORDER)));
	}
	/*
	 * We poll, so ask for no used-buffer notifications: an interrupt
	 * nobody takes is only work for the device.
	 */
	vdrv_disable_cb(&q->vr);

	mmio_write16(d->common + COMMON_Q_SIZE, q->size);
	write_addr(d, COMMON_Q_DESC, mem);
	write_addr(d, COMMON_Q_DRIVER, mem + QUEUE_AREA);
	write_addr(d, COMMON_Q_DEVICE, mem + 2 * QUEUE_AREA);
	mmio_write16(d->common + COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
	noff = mmio_read16(d->common + COMMON_Q_NOFF);
	q->notify = d->notify_base + (uint64_t)noff * d->notify_mult;
	mmio_write16(d->common + COMMON_Q_ENABLE, 1);
	if (mmio_read16(d->common + COMMON_Q_ENABLE) != 1) {
		printf("vpmd: queue %u (size %u) was not enabled; status 0x%x\n",
		       index, q->size, vpmd_status(d));
		return -1;
	}
	return 0;
}

int vpmd_queue_add(struct vpmd_queue *q, const struct vpmd_sg *sg,
		   unsigned int out, unsigned int in, void *cookie)
{
	struct vdrv_buf b[VPMD_MAX_SG];
	unsigned int n = out + in, k;

	if (!n || n > VPMD_MAX_SG || !cookie)
		return -1;
	for (k = 0; k < n; k++) {
		b[k].addr = (uintptr_t)sg[k].addr;
		b[k].len = sg[k].len;
	}
	return vdrv_add(&q->vr, b, out, in, false, (uintptr_t)cookie) < 0 ? -1 : 0;
}

void vpmd_queue_kick(struct vpmd_queue *q)
{
	bool added;

	vdrv_publish(&q->vr);
	added = vdrv_added_since_kick(&q->vr);
	if (!vdrv_kick_needed(&q->vr)) {
		if (added)
			q->kicks_suppressed++;
		return;
	}
	/* Lands on the device's ioeventfd: no exit to the VMM process. */
	mmio_write16(q->notify, q->index);
	q->kicks++;
}

/*
 * The device returned a buffer we do not own: nothing after it can be
 * trusted, so the queue yields nothing more until the next vpmd_init().
 */
void *vpmd_queue_get_used(struct vpmd_queue *q, uint32_t *len)
{
	uint64_t cookie;
	uint32_t l;
	int r;

	if (q->broken)
		return NULL;
	r = vdrv_get_used(&q->vr, &cookie, &l);
	if (r < 0) {
		printf("vpmd: queue %u: device used an id it does not own\n", q->index);
		q->broken = true;
	}
	if (r <= 0)
		return NULL;
	if (len)
		*len = l;
	return (void *)(uintptr_t)cookie;
}

/* ---- device set-up ---- */

static void rx_post(struct vpmd_dev *d, uint8_t *buf)
{
	struct vpmd_sg sg = { buf, d->rx_buf_len };

	vpmd_queue_add(&d->rx, &sg, 0, 1, buf);
	/*
	 * Kick in batches: with most of the ring still posted the device is
	 * never short of buffers, and each doorbell wakes a device thread.
	 */
	if (++d->rx_to_refill >= d->rx.size / 8) {
		vpmd_queue_kick(&d->rx);
		d->rx_to_refill = 0;
	}
}

/* ---- any virtio function: negotiate, set up queues, go live ---- */

int vpmd_negotiate(struct vpmd_dev *d, uint64_t want, uint64_t need)
{
	if (vpmd_reset(d))
		return -1;
	vpmd_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	vpmd_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	d->offered = read_device_features(d);
	if (need & ~d->offered) {
		printf("vpmd: device features 0x%lx lack needed 0x%lx\n", d->offered,
		       need & ~d->offered);
		return -1;
	}
	d->features = (want | need) & d->offered;
	write_driver_features(d, d->features);
	vpmd_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			VIRTIO_STATUS_FEATURES_OK);
	if (!(vpmd_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
		printf("vpmd: the device did not accept features 0x%lx\n", d->features);
		return -1;
	}
	d->num_queues = mmio_read16(d->common + COMMON_NUMQ);
	return 0;
}

int vpmd_queue_setup(struct vpmd_dev *d, struct vpmd_queue *q, uint16_t index, uint16_t size)
{
	uint8_t *mem = vpmd_alloc(QUEUE_MEM, 4096);

	if (!mem)
		return -1;
	return queue_setup(d, q, index, size, vpmd_has(d, VIRTIO_F_RING_PACKED), mem);
}

int vpmd_queue_irq(struct vpmd_dev *d, uint16_t index, uint8_t vector)
{
	uint8_t pos = pci_read32(d->slot, PCI_CAP_PTR) & 0xfc;
	unsigned int guard;
	uint64_t bar, entry;
	uint32_t hdr, table;

	for (guard = 0; pos && guard < 48; guard++) {
		hdr = pci_read32(d->slot, pos);
		if ((hdr & 0xff) == PCI_CAP_ID_MSIX)
			break;
		pos = (hdr >> 8) & 0xfc;
	}
	if (!pos || guard == 48) {
		printf("vpmd: 00:%02x.0 has no MSI-X\n", d->slot);
		return -1;
	}
	table = pci_read32(d->slot, pos + 4);
	bar = (table & 7) < 6 ? pci_bar_addr(d->slot, table & 7) : 0;
	entry = bar + (table & ~7u);
	if (!bar || entry >= PAYLOAD_MAPPED_LIMIT) {
		printf("vpmd: 00:%02x.0: MSI-X table at 0x%lx\n", d->slot, entry);
		return -1;
	}
	/* Fixed delivery, edge, to APIC ID 0; unmasked. */
	mmio_write32(entry + 0, (uint32_t)PAYLOAD_LAPIC_BASE);
	mmio_write32(entry + 4, 0);
	mmio_write32(entry + 8, vector);
	mmio_write32(entry + 12, 0);
	/* Enable, not all masked. */
	pci_write16(d->slot, pos + 2, (uint16_t)(((hdr >> 16) | 0x8000) & ~0x4000));
	mmio_write16(d->common + COMMON_Q_SELECT, index);
	mmio_write16(d->common + COMMON_Q_MSIX, 0);
	if (mmio_read16(d->common + COMMON_Q_MSIX) != 0) {
		printf("vpmd: queue %u refused MSI-X vector 0\n", index);
		return -1;
	}
	return 0;
}

int vpmd_driver_ok(struct vpmd_dev *d)
{
	uint8_t status;

	vpmd_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	status = vpmd_status(d);
	if (!(status & VIRTIO_STATUS_DRIVER_OK) || (status & VIRTIO_STATUS_NEEDS_RESET)) {
		printf("vpmd: the device did not go live (status 0x%x)\n", status);
		return -1;
	}
	return 0;
}

static int vpmd_fail(struct vpmd_dev *d, const char *what)
{
	printf("vpmd: %s (status 0x%x)\n", what, vpmd_status(d));
	vpmd_set_status(d, vpmd_status(d) | VIRTIO_STATUS_FAILED);
	return -1;
}

int vpmd_init(struct vpmd_dev *d, const struct vpmd_config *cfg)
{
	bool packed = cfg->want & VPMD_BIT(VIRTIO_F_RING_PACKED);
	uint64_t missing, need, size;
	uint16_t qsize = cfg->queue_size, ctrl_index;
	uint8_t *mem, status;
	unsigned int i;

	if (vpmd_reset(d))
		return -1;
	/* 3.1.1: acknowledge, driver, then features. */
	vpmd_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	vpmd_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);

	d->offered = read_device_features(d);
	missing = cfg->need & ~d->offered;
	if (missing) {
		printf("vpmd: device features 0x%lx lack needed 0x%lx\n",
		       d->offered, missing);
		return vpmd_fail(d, "feature negotiation failed");
	}
	d->features = (cfg->want | cfg->need) & d->offered;
	packed = d->features & VPMD_BIT(VIRTIO_F_RING_PACKED);
	write_driver_features(d, d->features);
	vpmd_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			VIRTIO_STATUS_FEATURES_OK);
	status = vpmd_status(d);
	if (!(status & VIRTIO_STATUS_FEATURES_OK))
		return vpmd_fail(d, "device did not accept the features (FEATURES_OK clear)");

	d->num_queues = mmio_read16(d->common + COMMON_NUMQ);
	/* Without MQ the control queue follows the single pair (5.1.2). */
	ctrl_index = 2;
	d->pairs = 1;
	if (vpmd_has(d, VIRTIO_NET_F_MQ)) {
		/* virtio_net_config.max_virtqueue_pairs, after mac and status */
		uint16_t max = mmio_read16(d->device + 8);

		if (max < cfg->pairs)
			return vpmd_fail(d, "fewer queue pairs than pairs= asks");
		ctrl_index = 2 * max;
		d->pairs = cfg->pairs;
	}
	need = vpmd_has(d, VIRTIO_NET_F_CTRL_VQ) ? ctrl_index + 1 : 2;
	if (d->num_queues < need)
		return vpmd_fail(d, "too few queues");
	/* With VERSION_1 the header always has num_buffers (5.1.6). */
	d->hdr_len = sizeof(struct virtio_net_hdr_v1);
	d->rx_buf_len = cfg->rx_buf_len;

	/* Rings, then buffers; the same region again on a re-init. */
	size = 3 * QUEUE_MEM + (uint64_t)qsize * d->rx_buf_len +
	       (uint64_t)qsize * TX_BUF_LEN + CTRL_BUF_LEN;
	if (!d->mem || d->mem_size < size) {
		d->mem = vpmd_alloc(size, 4096);
		if (!d->mem)
			return vpmd_fail(d, "no memory for the rings");
		d->mem_size = size;
	}
	mem = d->mem;
	if (queue_setup(d, &d->rx, 0, qsize, packed, mem) ||
	    queue_setup(d, &d->tx, 1, qsize, packed, mem + QUEUE_MEM))
		return vpmd_fail(d, "data queue set-up failed");
	if (vpmd_has(d, VIRTIO_NET_F_CTRL_VQ) &&
	    queue_setup(d, &d->ctrl, ctrl_index, qsize, packed,
			mem + 2 * QUEUE_MEM))
		return vpmd_fail(d, "control queue set-up failed");
	if (d->pairs > 1 && !d->extra) {
		d->extra = vpmd_alloc(2 * (VPMD_MAX_PAIRS - 1) * sizeof(*d->extra), 64);
		d->extra_mem = vpmd_alloc(2 * (VPMD_MAX_PAIRS - 1) * QUEUE_MEM, 4096);
		if (!d->extra || !d->extra_mem)
			return vpmd_fail(d, "no memory for the other pairs' rings");
	}
	for (i = 0; i + 2 < 2u * d->pairs; i++)
		if (queue_setup(d, &d->extra[i], i + 2, qsize, packed,
				d->extra_mem + (uint64_t)i * QUEUE_MEM))
			return vpmd_fail(d, "queue set-up of another pair failed");
	mem += 3 * QUEUE_MEM;
	d->rx_bufs = mem;
	mem += (uint64_t)qsize * d->rx_buf_len;
	d->tx_bufs = mem;
	mem += (uint64_t)qsize * TX_BUF_LEN;
	d->ctrl_buf = mem;

	for (i = 0; i < d->tx.size; i++)
		d->tx_free[i] = d->tx.size - 1 - i;
	d->tx_nr_free = d->tx.size;
	memset(&d->stats, 0, sizeof(d->stats));

	if (vpmd_has(d, VIRTIO_NET_F_MAC))
		vpmd_read_mac(d, d->mac);

	/* 3.1.1 step 7: populate the receive queue before DRIVER_OK. */
	d->rx_to_refill = 0;
	for (i = 0; i < d->rx.size; i++)
		rx_post(d, d->rx_bufs + (uint64_t)i * d->rx_buf_len);
	vpmd_queue_kick(&d->rx);
	d->rx_to_refill = 0;

	vpmd_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	status = vpmd_status(d);
	if (!(status & VIRTIO_STATUS_DRIVER_OK) || (status & VIRTIO_STATUS_NEEDS_RESET))
		return vpmd_fail(d, "device did not go live after DRIVER_OK");
	if (d->pairs > 1) {
		uint16_t n = d->pairs;

		if (vpmd_ctrl(d, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &n,
			      sizeof(n)) != VIRTIO_NET_OK)
			return vpmd_fail(d, "the device refused VQ_PAIRS_SET");
	}
	return 0;
}

/* ---- data path ---- */

unsigned int vpmd_tx_reap(struct vpmd_dev *d)
{
	unsigned int n = 0;
	void *c;

	while ((c = vpmd_queue_get_used(&d->tx, NULL))) {
		d->tx_free[d->tx_nr_free++] = (uint16_t)((uintptr_t)c - 1);
		n++;
	}
	return n;
}

unsigned int vpmd_tx_pending(const struct vpmd_dev *d)
{
	return d->tx.size - d->tx_nr_free;
}

int vpmd_tx(struct vpmd_dev *d, const void *frame, uint32_t len)
{
	if (vpmd_tx_queue(d, frame, len))
		return -1;
	vpmd_tx_flush(d);
	return 0;
}

void vpmd_tx_flush(struct vpmd_dev *d)
{
	vpmd_queue_kick(&d->tx);
}

int vpmd_tx_queue(struct vpmd_dev *d, const void *frame, uint32_t len)
{
	struct vpmd_sg sg;
	uint16_t slot;
	uint8_t *buf;

	if (len > TX_BUF_LEN - (uint32_t)d->hdr_len)
		return -1;
	if (!d->tx_nr_free)
		vpmd_tx_reap(d);
	if (!d->tx_nr_free) {
		d->stats.tx_full++;
		return -1;
	}
	slot = d->tx_free[--d->tx_nr_free];
	buf = d->tx_bufs + (uint64_t)slot * TX_BUF_LEN;
	/* No offloads negotiated: an all-zero header (GSO_NONE, no csum). */
	memset(buf, 0, d->hdr_len);
	memcpy(buf + d->hdr_len, frame, len);
	sg.addr = buf;
	sg.len = d->hdr_len + len;
	/* Cookie slot + 1: a cookie must not be NULL. */
	vpmd_queue_add(&d->tx, &sg, 1, 0, (void *)(uintptr_t)(slot + 1));
	d->stats.tx_frames++;
	return 0;
}

int vpmd_rx(struct vpmd_dev *d, void *out, uint32_t cap, uint32_t *out_len)
{
	const struct virtio_net_hdr_v1 *hdr;
	uint32_t len, copied = 0, n;
	uint16_t nbufs, k;
	uint8_t *buf;
	int ret = 1;

	buf = vpmd_queue_get_used(&d->rx, &len);
	if (!buf)
		return 0;
	if (len < d->hdr_len || len > d->rx_buf_len) {
		printf("vpmd: rx: used length %u with a %u-byte buffer\n", len,
		       d->rx_buf_len);
		d->stats.rx_bad++;
		rx_post(d, buf);
		return -1;
	}
	hdr = (const void *)buf;
	nbufs = vpmd_has(d, VIRTIO_NET_F_MRG_RXBUF) ? hdr->num_buffers : 1;
	n = len - d->hdr_len < cap ? len - d->hdr_len : cap;
	memcpy(out, buf + d->hdr_len, n);
	copied = n;
	if (nbufs < 1) {
		printf("vpmd: rx: num_buffers 0\n");
		d->stats.rx_bad++;
		ret = -1;
	}
	rx_post(d, buf);

	/* 5.1.6.4: the rest of a merged frame follows in the next used buffers. */
	for (k = 1; k < nbufs; k++) {
		uint64_t deadline = vpmd_deadline_us(MERGE_TIMEOUT_US);

		while (!(buf = vpmd_queue_get_used(&d->rx, &len))) {
			if (vpmd_expired(deadline)) {
				printf("vpmd: rx: buffer %u of %u never came\n", k, nbufs);
				d->stats.rx_bad++;
				return -1;
			}
		}
		if (len > d->rx_buf_len)
			len = d->rx_buf_len;
		n = len < cap - copied ? len : cap - copied;
		memcpy((uint8_t *)out + copied, buf, n);
		copied += n;
		rx_post(d, buf);
	}
	if (nbufs > 1)
		d->stats.rx_merged++;
	if (ret > 0) {
		d->stats.rx_frames++;
		d->stats.rx_bytes += copied;
	}
	*out_len = copied;
	return ret;
}

int vpmd_rx_skip(struct vpmd_dev *d)
{
	uint8_t *buf = vpmd_queue_get_used(&d->rx, NULL);

	if (!buf)
		return d->rx.broken ? -1 : 0;
	rx_post(d, buf);
	return 1;
}

/* ---- control queue ---- */

int vpmd_ctrl_raw(struct vpmd_dev *d, const struct vpmd_sg *out, unsigned int nr_out)
{
	uint8_t *ack = d->ctrl_buf + CTRL_ACK_OFF;
	struct vpmd_sg sg[VPMD_MAX_SG];
	uint64_t deadline;
	unsigned int i;
	void *c;

	if (!vpmd_has(d, VIRTIO_NET_F_CTRL_VQ) || nr_out >= VPMD_MAX_SG)
		return -1;
	for (i = 0; i < nr_out; i++)
		sg[i] = out[i];
	/* Neither OK nor ERR, so an ack the device never wrote shows. */
	*ack = 0xa5;
	sg[nr_out].addr = ack;
	sg[nr_out].len = 1;
	if (vpmd_queue_add(&d->ctrl, sg, nr_out, 1, d->ctrl_buf))
		return -1;
	vpmd_queue_kick(&d->ctrl);
	d->stats.ctrl_cmds++;
	deadline = vpmd_deadline_us(CTRL_TIMEOUT_US);
	while (!(c = vpmd_queue_get_used(&d->ctrl, NULL))) {
		if (vpmd_expired(deadline)) {
			printf("vpmd: control command not completed; status 0x%x\n",
			       vpmd_status(d));
			return -1;
		}
	}
	/* The device wrote it before publishing the used entry we just read. */
	return __atomic_load_n(ack, __ATOMIC_RELAXED);
}

int vpmd_ctrl(struct vpmd_dev *d, uint8_t cls, uint8_t cmd, const void *data,
	      uint32_t len)
{
	struct vpmd_sg sg[2];
	uint8_t *b = d->ctrl_buf;

	if (len > CTRL_DATA_MAX)
		return -1;
	/* 5.1.6.5: class and command, then the data, then the ack byte. */
	b[0] = cls;
	b[1] = cmd;
	memcpy(b + 2, data, len);
	sg[0].addr = b;
	sg[0].len = 2;
	sg[1].addr = b + 2;
	sg[1].len = len;
	return vpmd_ctrl_raw(d, sg, len ? 2 : 1);
}

/* ---- test frames ---- */

const uint8_t vpmd_bcast[VPMD_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };



static uint8_t pattern_byte(uint32_t seq, uint32_t tag, uint32_t i)
{
	return (uint8_t)(seq * 31 + tag * 13 + i * 7 + (i >> 8));
}

uint32_t vpmd_frame_build(uint8_t *f, const uint8_t *dst, const uint8_t *src,
			  int vid, uint32_t seq, uint32_t tag, uint32_t pattern_len)
{
	struct vpmd_test_hdr h = {
		.magic = VPMD_TEST_MAGIC, .seq = seq, .tag = tag,
	};
	uint32_t off = 12, max, i;

	memcpy(f, dst, VPMD_ETH_ALEN);
	memcpy(f + VPMD_ETH_ALEN, src, VPMD_ETH_ALEN);
	if (vid != VPMD_NO_VLAN) {
		put_be16(f + off, VPMD_ETHERTYPE_VLAN);
		put_be16(f + off + 2, vid & 0xfff);
		off += 4;
	}
	put_be16(f + off, VPMD_ETHERTYPE);
	off += 2;
	max = VPMD_FRAME_MAX - off - sizeof(h);
	if (pattern_len > max)
		pattern_len = max;
	h.len = pattern_len;
	for (i = 0; i < pattern_len; i++)
		f[off + sizeof(h) + i] = pattern_byte(seq, tag, i);
	/* The timestamp last, as close to the send as the caller allows. */
	h.tsc = rdtsc();
	memcpy(f + off, &h, sizeof(h));
	return off + sizeof(h) + pattern_len;
}

struct vpmd_test_hdr *vpmd_frame_parse(uint8_t *f, uint32_t len, int *vid)
{
	struct vpmd_test_hdr *h;
	uint32_t off = 12, i;

	*vid = VPMD_NO_VLAN;
	if (len < off + 2)
		return NULL;
	if (get_be16(f + off) == VPMD_ETHERTYPE_VLAN) {
		if (len < off + 6)
			return NULL;
		*vid = get_be16(f + off + 2) & 0xfff;
		off += 4;
	}
	if (get_be16(f + off) != VPMD_ETHERTYPE || len < off + 2 + sizeof(*h))
		return NULL;
	off += 2;
	h = (struct vpmd_test_hdr *)(f + off);
	if (h->magic != VPMD_TEST_MAGIC || h->len != len - off - sizeof(*h))
		return NULL;
	for (i = 0; i < h->len; i++)
		if (f[off + sizeof(*h) + i] != pattern_byte(h->seq, h->tag, i))
			return NULL;
	return h;
}

void vpmd_frame_reflect(uint8_t *f, const uint8_t *self)
{
	memcpy(f, f + VPMD_ETH_ALEN, VPMD_ETH_ALEN);
	memcpy(f + VPMD_ETH_ALEN, self, VPMD_ETH_ALEN);
}

const char *vpmd_mac_str(const uint8_t *mac)
{
	static const char hex[] = "0123456789abcdef";
	static char bufs[4][18];
	static unsigned int next;
	char *s = bufs[next++ % 4];
	int i;

	for (i = 0; i < VPMD_ETH_ALEN; i++) {
		s[3 * i] = hex[mac[i] >> 4];
		s[3 * i + 1] = hex[mac[i] & 15];
		s[3 * i + 2] = i < VPMD_ETH_ALEN - 1 ? ':' : '\0';
	}
	return s;
}
