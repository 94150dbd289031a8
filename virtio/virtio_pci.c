// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-pci modern transport (virtio 1.2 section 4.1): vendor capabilities
 * for the common, notify, ISR, device and PCI-config-access windows in
 * BAR0, MSI-X in BAR2 with one irqfd per vector, INTx as the fallback.
 * Doorbells are ioeventfds serviced by the worker the device names for the
 * queue (or the event loop); a notify write that still reaches us as an
 * MMIO exit is forwarded to the same eventfd, so device work never runs on
 * a vCPU thread.
 */
#include <errno.h>
#include <stdio.h>
#include <linux/virtio_pci.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/legacy/pci.h"
#include "virtio/virtio_pci.h"
#include "vmm/core/worker.h"
#include "vmm/core/irq.h"
#include "vmm/migrate/state.h"
#include "vmm/core/vm.h"

#define PCI_VENDOR_ID_REDHAT_QUMRANET	0x1af4
#define VIRTIO_PCI_DEVICE_ID_BASE	0x1040
#define PCI_CAP_ID_MSIX			0x11
#define PCI_CAP_ID_VNDR			0x09
#define MSIX_CTRL_ENABLE		0x8000
#define MSIX_CTRL_MASKALL		0x4000
#define MSIX_ENTRY_MASKED		0x1
#define VPCI_ISR_QUEUE			0x1
#define VPCI_ISR_CONFIG			0x2

/* Config-space layout of our capabilities. */
#define CAP_MSIX	0x40
#define CAP_COMMON	0x50
#define CAP_NOTIFY	0x60
#define CAP_ISR		0x78
#define CAP_DEVICE	0x88
#define CAP_PCICFG	0x98

struct vpci_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct vpci;

/* One doorbell: the eventfd KVM signals for a queue's notify address. */
struct vpci_notify {
	struct vpci *v;
	uint16_t q;
	int fd;
	struct worker *worker;	/* services @fd; NULL: the event loop */
	bool taken;		/* the device reads @fd itself */
};

struct vpci {
	struct vm *vm;
	struct virtio_dev *vdev;
	struct pci_device pci;
	pthread_mutex_t lock;		/* MSI-X table, ISR, INTx */
	uint8_t isr;
	bool intx_level;
	int intx_gsi;
	uint16_t msix_nr;
	struct vpci_msix_entry msix[VPCI_MSIX_MAX];
	uint64_t msix_pba[VPCI_MSIX_MAX / 64];
	int msix_gsi[VPCI_MSIX_MAX];	/* -1 until first used */
	int msix_fd[VPCI_MSIX_MAX];
	struct vpci_notify *notify;	/* per queue */
	bool ioeventfd_on;
	bool registered;		/* on the PCI bus */
	uint64_t bar0_addr;
	char state_name[16];		/* "virtio@SLOT" in snapshots */
};


static bool vpci_msix_enabled(struct vpci *v)
{
	uint16_t ctrl = v->pci.cfg[CAP_MSIX + 2] | v->pci.cfg[CAP_MSIX + 3] << 8;

	return ctrl & MSIX_CTRL_ENABLE;
}

static bool vpci_msix_masked(struct vpci *v, uint16_t vec)
{
	uint16_t ctrl = v->pci.cfg[CAP_MSIX + 2] | v->pci.cfg[CAP_MSIX + 3] << 8;

	return (ctrl & MSIX_CTRL_MASKALL) || (v->msix[vec].ctrl & MSIX_ENTRY_MASKED);
}

/* Make sure @vec has a GSI routed to its current message and an irqfd. */
static int vpci_msix_route(struct vpci *v, uint16_t vec)
{
	struct vpci_msix_entry *e = &v->msix[vec];
	uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;

	if (v->msix_gsi[vec] < 0) {
		int gsi = irq_msi_alloc(v->vm);

		if (gsi < 0)
			return gsi;
		v->msix_fd[vec] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->msix_fd[vec] < 0) {
			irq_msi_free(v->vm, gsi);
			return -errno;
		}
		v->msix_gsi[vec] = gsi;
		if (irq_msi_update(v->vm, gsi, addr, e->data) ||
		    irq_irqfd(v->vm, v->msix_fd[vec], gsi, true))
			return -EIO;
		return 0;
	}
	return irq_msi_update(v->vm, v->msix_gsi[vec], addr, e->data);
}

static void vpci_msix_fire(struct vpci *v, uint16_t vec)
{
	uint64_t one = 1;

	if (vec >= v->msix_nr)
		return;
	if (vpci_msix_masked(v, vec)) {
		v->msix_pba[vec / 64] |= 1ULL << (vec % 64);
		return;
	}
	if (v->msix_gsi[vec] < 0 && vpci_msix_route(v, vec))
		return;
	if (write(v->msix_fd[vec], &one, sizeof(one)) < 0)
		return;
}

static void vpci_intx_update(struct vpci *v)
{
	bool level = v->isr && !(v->pci.cfg[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8));

	if (level != v->intx_level) {
		v->intx_level = level;
		vm_irq_line(v->vm, v->intx_gsi, level);
	}
}

static void vpci_signal(struct vpci *v, uint16_t vec, uint8_t isr_bit)
{
	pthread_mutex_lock(&v->lock);
	if (vpci_msix_enabled(v)) {
		if (vec != VIRTIO_MSI_NO_VECTOR)
			vpci_msix_fire(v, vec);
	} else {
		v->isr |= isr_bit;
		vpci_intx_update(v);
	}
	pthread_mutex_unlock(&v->lock);
}

static void vpci_signal_queue(struct virtio_dev *vdev, uint16_t q)
{
	vpci_signal(vdev->transport_priv, vdev->queue_vector[q], VPCI_ISR_QUEUE);
}

static void vpci_signal_config(struct virtio_dev *vdev)
{
	vpci_signal(vdev->transport_priv, vdev->config_vector, VPCI_ISR_CONFIG);
}

static int vpci_queue_irqfd(struct virtio_dev *vdev, uint16_t q)
{
	struct vpci *v = vdev->transport_priv;
	uint16_t vec = q < vdev->nr_queues ? vdev->queue_vector[q] : VIRTIO_MSI_NO_VECTOR;
	int fd = -1;

	pthread_mutex_lock(&v->lock);
	if (vec < v->msix_nr && vpci_msix_enabled(v) && !vpci_msix_masked(v, vec) &&
	    (v->msix_gsi[vec] >= 0 || !vpci_msix_route(v, vec)))
		fd = v->msix_fd[vec];
	pthread_mutex_unlock(&v->lock);
	return fd;
}

static const struct virtio_transport_ops vpci_transport = {
	.signal_queue = vpci_signal_queue,
	.signal_config = vpci_signal_config,
	.queue_irqfd = vpci_queue_irqfd,
};

static void vpci_irq_changed(struct vpci *v)
{
	if (v->vdev->ops->irq_changed)
		v->vdev->ops->irq_changed(v->vdev);
}

/* A vector the driver writes is kept only if it exists (spec 4.1.5.1.2). */
static uint16_t vpci_check_vector(struct vpci *v, uint16_t vec)
{
	if (vec == VIRTIO_MSI_NO_VECTOR || vec >= v->msix_nr)
		return VIRTIO_MSI_NO_VECTOR;
	pthread_mutex_lock(&v->lock);
	/* Route now so the first interrupt needs no ioctl. */
	if (v->msix_gsi[vec] < 0)
		vpci_msix_route(v, vec);
	pthread_mutex_unlock(&v->lock);
	return vec;
}

static uint32_t vpci_common_read(struct vpci *v, uint32_t off, int len)
{
	struct virtio_dev *vdev = v->vdev;
	uint16_t q = vdev->queue_select;
	bool have_q = q < vdev->nr_queues;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return vdev->device_feature_select;
	case VIRTIO_PCI_COMMON_DF:
		return virtio_dev_read_device_features(vdev);
	case VIRTIO_PCI_COMMON_GFSELECT:
		return vdev->driver_feature_select;
	case VIRTIO_PCI_COMMON_GF:
		if (vdev->driver_feature_select > 1)
			return 0;
		return (uint32_t)(vdev->guest_features >> (32 * vdev->driver_feature_select));
	case VIRTIO_PCI_COMMON_MSIX:
		return vdev->config_vector;
	case VIRTIO_PCI_COMMON_NUMQ:
		return vdev->nr_queues;
	case VIRTIO_PCI_COMMON_STATUS:
		return __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE);
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return __atomic_load_n(&vdev->config_generation, __ATOMIC_ACQUIRE);
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return q;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		return virtio_dev_queue_size(vdev);
	case VIRTIO_PCI_COMMON_Q_MSIX:
		return have_q ? vdev->queue_vector[q] : VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		return have_q ? vdev->vqs[q].enabled : 0;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return have_q ? q : 0;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		return virtio_dev_queue_addr(vdev, 0, false);
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		return virtio_dev_queue_addr(vdev, 0, true);
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		return virtio_dev_queue_addr(vdev, 1, false);
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		return virtio_dev_queue_addr(vdev, 1, true);
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		return virtio_dev_queue_addr(vdev, 2, false);
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		return virtio_dev_queue_addr(vdev, 2, true);
	case 0x38:	/* queue_notify_data: no NOTIFICATION_DATA, reads 0 */
		return 0;
	case 0x3a:	/* queue_reset */
		return have_q ? vdev->queue_reset_done[q] : 0;
	}
	return 0;
}

static void vpci_common_write(struct vpci *v, uint32_t off, int len, uint32_t val)
{
	struct virtio_dev *vdev = v->vdev;
	uint16_t q = vdev->queue_select;
	bool have_q = q < vdev->nr_queues;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		vdev->device_feature_select = val;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		vdev->driver_feature_select = val;
		break;
	case VIRTIO_PCI_COMMON_GF:
		virtio_dev_write_driver_features(vdev, val);
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		vdev->config_vector = vpci_check_vector(v, val);
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		virtio_dev_set_status_locked(vdev, val);
		if (val == 0) {
			pthread_mutex_lock(&v->lock);
			v->isr = 0;
			vpci_intx_update(v);
			pthread_mutex_unlock(&v->lock);
		}
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		vdev->queue_select = val;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		virtio_dev_set_queue_size(vdev, val);
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (have_q) {
			vdev->queue_vector[q] = vpci_check_vector(v, val);
			vpci_irq_changed(v);
		}
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		/* Writing 0 is not allowed; queues stop only through a reset. */
		if (val == 1)
			virtio_dev_enable_queue(vdev);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		virtio_dev_set_queue_addr(vdev, 0, false, val);
		break;
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		virtio_dev_set_queue_addr(vdev, 0, true, val);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		virtio_dev_set_queue_addr(vdev, 1, false, val);
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		virtio_dev_set_queue_addr(vdev, 1, true, val);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		virtio_dev_set_queue_addr(vdev, 2, false, val);
		break;
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		virtio_dev_set_queue_addr(vdev, 2, true, val);
		break;
	case 0x3a:	/* queue_reset */
		if (val == 1)
			virtio_dev_reset_queue(vdev);
		break;
	}
}

static void vpci_kick(struct vpci *v, uint16_t q)
{
	uint64_t one = 1;

	if (q >= v->vdev->nr_queues)
		return;
	/* Through the eventfd: the event loop, not this vCPU, does the work. */
	if (write(v->notify[q].fd, &one, sizeof(one)) < 0)
		return;
}

/* BAR0 accesses that were not absorbed by an ioeventfd. */
static void vpci_bar0_access(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct vpci *v = opaque;
	struct virtio_dev *vdev = v->vdev;
	uint8_t *p = data;
	uint32_t val = is_write ? pci_get_le(p, len) : 0;

	if (len > 4) {		/* 64-bit accesses are split into two halves */
		if (!is_write)
			memset(data, 0, len);
		vpci_bar0_access(v, off, p, 4, is_write);
		vpci_bar0_access(v, off + 4, p + 4, 4, is_write);
		return;
	}
	if (off < VPCI_COMMON_OFF + VPCI_COMMON_LEN) {
		pthread_mutex_lock(&vdev->lock);
		if (is_write)
			vpci_common_write(v, off, len, val);
		else
			val = vpci_common_read(v, off, len);
		pthread_mutex_unlock(&vdev->lock);
	} else if (off >= VPCI_ISR_OFF && off < VPCI_ISR_OFF + VPCI_ISR_LEN) {
		if (!is_write) {
			/* Reading ISR acknowledges the INTx interrupt. */
			pthread_mutex_lock(&v->lock);
			val = off == VPCI_ISR_OFF ? v->isr : 0;
			if (off == VPCI_ISR_OFF)
				v->isr = 0;
			vpci_intx_update(v);
			pthread_mutex_unlock(&v->lock);
		}
	} else if (off >= VPCI_DEVICE_OFF && off < VPCI_DEVICE_OFF + VPCI_DEVICE_LEN) {
		uint32_t doff = off - VPCI_DEVICE_OFF;

		if (doff + len > vdev->ops->config_size) {
			val = 0;
		} else if (is_write) {
			if (vdev->ops->config_write)
				vdev->ops->config_write(vdev, doff, p, len);
			return;
		} else {
			if (vdev->ops->config_read)
				vdev->ops->config_read(vdev, doff, p, len);
			return;
		}
	} else if (off >= VPCI_NOTIFY_OFF) {
		if (is_write)
			vpci_kick(v, (off - VPCI_NOTIFY_OFF) / VPCI_NOTIFY_MULT);
		val = 0;
	}
	if (!is_write) {
		int i;

		for (i = 0; i < len; i++)
			p[i] = val >> (8 * i);
	}
}

static void vpci_msix_access(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct vpci *v = opaque;
	uint8_t *p = data;
	uint32_t val = is_write ? pci_get_le(p, len) : 0;
	bool mask_changed = false;
	int i;

	if (len > 4) {
		vpci_msix_access(v, off, p, 4, is_write);
		vpci_msix_access(v, off + 4, p + 4, 4, is_write);
		return;
	}
	pthread_mutex_lock(&v->lock);
	if (off >= VPCI_MSIX_PBA_OFF) {
		uint64_t word = (off - VPCI_MSIX_PBA_OFF) / 8;

		if (!is_write && word < VPCI_MSIX_MAX / 64)
			val = (uint32_t)(v->msix_pba[word] >> (8 * ((off & 7) & ~3)));
	} else if (off / 16 < v->msix_nr && (off & 3) == 0 && len == 4) {
		uint16_t vec = off / 16;
		struct vpci_msix_entry *e = &v->msix[vec];
		uint32_t *field = &e->addr_lo + (off % 16) / 4;

		if (!is_write) {
			val = *field;
		} else {
			bool was_masked = vpci_msix_masked(v, vec);

			*field = val;
			if (field != &e->ctrl && v->msix_gsi[vec] >= 0)
				vpci_msix_route(v, vec);
			mask_changed = was_masked != vpci_msix_masked(v, vec);
			/* Unmasking delivers what was held back (PBA). */
			if (was_masked && !vpci_msix_masked(v, vec) &&
			    (v->msix_pba[vec / 64] & (1ULL << (vec % 64)))) {
				v->msix_pba[vec / 64] &= ~(1ULL << (vec % 64));
				vpci_msix_fire(v, vec);
			}
		}
	}
	pthread_mutex_unlock(&v->lock);
	if (mask_changed)
		vpci_irq_changed(v);
	if (!is_write)
		for (i = 0; i < len; i++)
			p[i] = val >> (8 * i);
}

static void vpci_on_notify(int fd, void *opaque)
{
	struct vpci_notify *n = opaque;
	struct virtio_dev *vdev = n->v->vdev;
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) < 0)
		return;
	virtq_count(&vdev->vqs[n->q].stats.kicks, cnt);
	if (vdev->ops->queue_notify && (virtio_dev_status(vdev) & VIRTIO_CONFIG_S_DRIVER_OK))
		vdev->ops->queue_notify(vdev, n->q);
}

static void vpci_ioeventfds(struct vpci *v, uint64_t bar, bool on)
{
	uint16_t q;

	if (v->ioeventfd_on == on)
		return;
	for (q = 0; q < v->vdev->nr_queues; q++) {
		struct kvm_ioeventfd io = {
			.addr = bar + VPCI_NOTIFY_OFF + q * VPCI_NOTIFY_MULT,
			.len = 2,	/* drivers write the 16-bit queue index */
			.fd = v->notify[q].fd,
			.flags = on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
		};

		if (ioctl(v->vm->vm_fd, KVM_IOEVENTFD, &io) < 0 && on) {
			/* The MMIO exit path still works, only slower. */
			vlab_log("%s: no ioeventfd for queue %u: %s", v->vdev->ops->name,
				 q, strerror(errno));
			break;
		}
	}
	v->ioeventfd_on = on;
}

static void vpci_bar_mapped(struct pci_device *dev, int bar, uint64_t addr, bool on)
{
	struct vpci *v = dev->priv;

	if (bar != 0)
		return;
	vpci_ioeventfds(v, v->bar0_addr, false);
	v->bar0_addr = addr;
	if (on)
		vpci_ioeventfds(v, addr, true);
}

/* The PCI-config access capability: a window onto BAR0 through config space. */
static void vpci_cfg_window(struct vpci *v, bool is_write)
{
	uint8_t *cap = v->pci.cfg + CAP_PCICFG;
	uint32_t off = pci_get_le(cap + 8, 4), len = pci_get_le(cap + 12, 4);

	if (cap[4] != 0 || (len != 1 && len != 2 && len != 4) ||
	    off >= VPCI_BAR0_SIZE || off + len > VPCI_BAR0_SIZE)
		return;
	vpci_bar0_access(v, off, cap + 16, len, is_write);
}

static void vpci_cfg_read(struct pci_device *dev, uint32_t off, int len)
{
	if (off + len > CAP_PCICFG + 16 && off < CAP_PCICFG + 20)
		vpci_cfg_window(dev->priv, false);
}

static void vpci_cfg_written(struct pci_device *dev, uint32_t off, int len)
{
	struct vpci *v = dev->priv;

	if (off + len > CAP_PCICFG + 16 && off < CAP_PCICFG + 20)
		vpci_cfg_window(v, true);
	if (off <= CAP_MSIX + 3 && off + len > CAP_MSIX + 2) {
		uint16_t vec;

		/* Function mask cleared or MSI-X enabled: flush held-back vectors. */
		pthread_mutex_lock(&v->lock);
		for (vec = 0; vec < v->msix_nr; vec++) {
			if ((v->msix_pba[vec / 64] & (1ULL << (vec % 64))) &&
			    vpci_msix_enabled(v) && !vpci_msix_masked(v, vec)) {
				v->msix_pba[vec / 64] &= ~(1ULL << (vec % 64));
				vpci_msix_fire(v, vec);
			}
		}
		pthread_mutex_unlock(&v->lock);
		vpci_irq_changed(v);
	}
	if (off <= PCI_COMMAND + 1 && off + len > PCI_COMMAND) {
		pthread_mutex_lock(&v->lock);
		vpci_intx_update(v);
		pthread_mutex_unlock(&v->lock);
	}
}

/* ---- migration: transport state, then the device's own ---- */

static int vpci_save(void *opaque, struct state_buf *sb)
{
	struct vpci *v = opaque;
	struct virtio_dev *vdev = v->vdev;

	pthread_mutex_lock(&v->lock);
	state_put_u32(sb, "msix-entries", v->msix_nr);
	state_put_bytes(sb, "msix-table", v->msix, v->msix_nr * sizeof(v->msix[0]));
	state_put_bytes(sb, "msix-pba", v->msix_pba, sizeof(v->msix_pba));
	state_put_u32(sb, "isr", v->isr);
	pthread_mutex_unlock(&v->lock);
	return virtio_dev_save(vdev, sb);
}

static int vpci_load(void *opaque, const void *fdt, int node, char *err, size_t errlen)
{
	struct vpci *v = opaque;
	struct virtio_dev *vdev = v->vdev;
	struct vpci_msix_entry msix[VPCI_MSIX_MAX];
	uint64_t pba[VPCI_MSIX_MAX / 64];
	uint32_t n, isr;
	uint16_t vec;

	if (state_get_u32(fdt, node, "msix-entries", &n, err, errlen))
		return -1;
	if (n != v->msix_nr) {
		snprintf(err, errlen, "%s: the source has %u MSI-X vectors, this vlab %u",
			 vdev->ops->name, n, v->msix_nr);
		return -1;
	}
	if (state_get_bytes(fdt, node, "msix-table", msix, n * sizeof(msix[0]), err, errlen) ||
	    state_get_bytes(fdt, node, "msix-pba", pba, sizeof(pba), err, errlen) ||
	    state_get_u32(fdt, node, "isr", &isr, err, errlen))
		return -1;
	/* Only vectors that exist can be pending, and the ISR has two bits. */
	for (vec = n; vec < VPCI_MSIX_MAX; vec++) {
		if (pba[vec / 64] & (1ULL << (vec % 64))) {
			snprintf(err, errlen, "%s: msix-pba: vector %u pending, the device has %u",
				 vdev->ops->name, vec, n);
			return -1;
		}
	}
	if (isr & ~(VPCI_ISR_QUEUE | VPCI_ISR_CONFIG)) {
		snprintf(err, errlen, "%s: isr 0x%x has bits other than queue and config",
			 vdev->ops->name, isr);
		return -1;
	}
	/* The device's part is checked in full first; the transport's taken over last. */
	if (virtio_dev_load(vdev, fdt, node, err, errlen))
		return -1;
	pthread_mutex_lock(&v->lock);
	memcpy(v->msix, msix, n * sizeof(msix[0]));
	memcpy(v->msix_pba, pba, sizeof(pba));
	v->isr = isr;
	/* Route every programmed vector now, so the first interrupt needs no ioctl. */
	for (vec = 0; vec < v->msix_nr; vec++)
		if (v->msix[vec].addr_lo || v->msix[vec].addr_hi)
			vpci_msix_route(v, vec);
	v->intx_level = false;
	if (!vpci_msix_enabled(v))
		vpci_intx_update(v);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

int virtio_pci_state_save(struct virtio_dev *vdev, struct state_buf *sb)
{
	return vpci_save(vdev->transport_priv, sb);
}

int virtio_pci_state_load(struct virtio_dev *vdev, const void *fdt, int node, char *err,
			  size_t errlen)
{
	return vpci_load(vdev->transport_priv, fdt, node, err, errlen);
}

static int vpci_save_early(void *opaque, struct state_buf *sb)
{
	struct vpci *v = opaque;

	return v->vdev->ops->save_early(v->vdev, sb);
}

static void vpci_preload(void *opaque, const void *fdt, int node)
{
	struct vpci *v = opaque;

	v->vdev->ops->preload(v->vdev, fdt, node);
}

static void vpci_quiesce(void *opaque)
{
	struct vpci *v = opaque;

	virtio_dev_suspend(v->vdev);
}

static void vpci_unquiesce(void *opaque)
{
	struct vpci *v = opaque;

	virtio_dev_resume(v->vdev);
}

static void vpci_migrated(void *opaque)
{
	struct vpci *v = opaque;

	if (v->vdev->ops->migrated)
		v->vdev->ops->migrated(v->vdev);
}

static void vpci_put_cap(uint8_t *cfg, uint8_t at, uint8_t next, uint8_t len,
			 uint8_t type, uint8_t bar, uint32_t off, uint32_t size)
{
	cfg[at] = PCI_CAP_ID_VNDR;
	cfg[at + 1] = next;
	cfg[at + 2] = len;
	cfg[at + 3] = type;
	cfg[at + 4] = bar;
	put_le32(cfg + at + 8, off);
	put_le32(cfg + at + 12, size);
}

/*
 * Undo whatever part of virtio_pci_attach() got done: off the bus (BARs
 * unmapped, ioeventfds deassigned by vpci_bar_mapped), doorbells off the
 * event loop, MSI-X routes and irqfds released, state root unregistered.
 */
static void vpci_free(struct vpci *v)
{
	struct vm *vm = v->vm;
	uint16_t q;
	int i;

	if (v->registered)
		pci_unregister(vm->pci, &v->pci);
	if (v->state_name[0])
		vm_dev_state_unregister(vm, v->state_name);
	for (q = 0; v->notify && q < v->vdev->nr_queues; q++) {
		if (v->notify[q].fd < 0)
			continue;
		if (v->notify[q].worker)
			worker_del_fd(v->notify[q].worker, v->notify[q].fd);
		else if (!v->notify[q].taken)
			event_loop_del(&vm->loop, v->notify[q].fd);
		close(v->notify[q].fd);
	}
	free(v->notify);
	for (i = 0; i < VPCI_MSIX_MAX; i++) {
		if (v->msix_gsi[i] < 0)
			continue;
		if (v->msix_fd[i] >= 0) {
			irq_irqfd(vm, v->msix_fd[i], v->msix_gsi[i], false);
			close(v->msix_fd[i]);
		}
		irq_msi_free(vm, v->msix_gsi[i]);
	}
	if (v->intx_level)
		vm_irq_line(vm, v->intx_gsi, 0);
	v->vdev->transport = NULL;
	v->vdev->transport_priv = NULL;
	free(v);
}

void virtio_pci_detach(struct virtio_dev *vdev)
{
	if (vdev->transport_priv)
		vpci_free(vdev->transport_priv);
}

int virtio_pci_attach(struct vm *vm, struct virtio_dev *vdev)
{
	struct vpci *v = calloc(1, sizeof(*v));
	uint8_t *cfg;
	uint16_t q;
	int slot, ret, i;

	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->vdev = vdev;
	pthread_mutex_init(&v->lock, NULL);
	v->msix_nr = vdev->nr_queues + 1;
	if (v->msix_nr > VPCI_MSIX_MAX)
		v->msix_nr = VPCI_MSIX_MAX;
	for (i = 0; i < VPCI_MSIX_MAX; i++) {
		v->msix_gsi[i] = -1;
		v->msix_fd[i] = -1;
		v->msix[i].ctrl = MSIX_ENTRY_MASKED;
	}
	v->notify = calloc(vdev->nr_queues, sizeof(*v->notify));
	if (!v->notify) {
		ret = -ENOMEM;
		goto fail;
	}
	for (q = 0; q < vdev->nr_queues; q++)
		v->notify[q].fd = -1;
	for (q = 0; q < vdev->nr_queues; q++) {
		struct vpci_notify *n = &v->notify[q];

		n->v = v;
		n->q = q;
		n->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->fd < 0) {
			ret = -errno;
			goto fail;
		}
		if (vdev->ops->queue_kick_fd && !vdev->ops->queue_kick_fd(vdev, q, n->fd)) {
			n->taken = true;
			continue;
		}
		if (vdev->ops->queue_worker)
			n->worker = vdev->ops->queue_worker(vdev, q);
		if (n->worker)
			ret = worker_add_fd(n->worker, n->fd, vpci_on_notify, n);
		else
			ret = event_loop_add(&vm->loop, n->fd, vpci_on_notify, n);
		if (ret) {
			close(n->fd);
			n->fd = -1;
			goto fail;
		}
	}

	pci_device_init(&v->pci, vdev->ops->name, PCI_VENDOR_ID_REDHAT_QUMRANET,
			VIRTIO_PCI_DEVICE_ID_BASE + vdev->ops->device_id,
			vdev->ops->pci_class, 1);
	cfg = v->pci.cfg;
	put_le16(cfg + PCI_SUBSYSTEM_VENDOR_ID, PCI_VENDOR_ID_REDHAT_QUMRANET);
	put_le16(cfg + PCI_SUBSYSTEM_ID, 0x40 + vdev->ops->device_id);
	put_le16(cfg + PCI_STATUS, PCI_STATUS_CAP_LIST);
	cfg[PCI_CAPABILITY_LIST] = CAP_MSIX;
	cfg[PCI_INTERRUPT_PIN] = 1;	/* INTA */

	/* MSI-X: table size, enable and function-mask bits are the guest's. */
	cfg[CAP_MSIX] = PCI_CAP_ID_MSIX;
	cfg[CAP_MSIX + 1] = CAP_COMMON;
	put_le16(cfg + CAP_MSIX + 2, v->msix_nr - 1);
	put_le32(cfg + CAP_MSIX + 4, VPCI_MSIX_TABLE_OFF | 2);	/* in BAR2 */
	put_le32(cfg + CAP_MSIX + 8, VPCI_MSIX_PBA_OFF | 2);
	put_le16(v->pci.wmask + CAP_MSIX + 2, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);

	vpci_put_cap(cfg, CAP_COMMON, CAP_NOTIFY, 16, VIRTIO_PCI_CAP_COMMON_CFG, 0,
		     VPCI_COMMON_OFF, VPCI_COMMON_LEN);
	vpci_put_cap(cfg, CAP_NOTIFY, CAP_ISR, 20, VIRTIO_PCI_CAP_NOTIFY_CFG, 0,
		     VPCI_NOTIFY_OFF, VPCI_BAR0_SIZE - VPCI_NOTIFY_OFF);
	put_le32(cfg + CAP_NOTIFY + 16, VPCI_NOTIFY_MULT);
	vpci_put_cap(cfg, CAP_ISR, CAP_DEVICE, 16, VIRTIO_PCI_CAP_ISR_CFG, 0,
		     VPCI_ISR_OFF, VPCI_ISR_LEN);
	vpci_put_cap(cfg, CAP_DEVICE, CAP_PCICFG, 16, VIRTIO_PCI_CAP_DEVICE_CFG, 0,
		     VPCI_DEVICE_OFF, VPCI_DEVICE_LEN);
	vpci_put_cap(cfg, CAP_PCICFG, 0, 20, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);
	/* The window's bar/offset/length and data are the driver's to write. */
	v->pci.wmask[CAP_PCICFG + 4] = 0xff;
	memset(v->pci.wmask + CAP_PCICFG + 8, 0xff, 12);

	v->pci.priv = v;
	v->pci.cfg_read = vpci_cfg_read;
	v->pci.cfg_written = vpci_cfg_written;
	v->pci.bar_mapped = vpci_bar_mapped;
	ret = pci_device_set_bar(vm->pci, &v->pci, 0, VPCI_BAR0_SIZE, false, true,
				 vpci_bar0_access, v);
	if (!ret)
		ret = pci_device_set_bar(vm->pci, &v->pci, 2, VPCI_BAR1_SIZE, false, false,
					 vpci_msix_access, v);
	if (ret)
		goto fail;

	slot = pci_register(vm->pci, &v->pci);
	if (slot < 0) {
		ret = slot;
		goto fail;
	}
	v->registered = true;
	v->intx_gsi = virtio_pci_intx_gsi(slot);
	cfg[PCI_INTERRUPT_LINE] = v->intx_gsi;
	vdev->transport = &vpci_transport;
	vdev->transport_priv = v;
	vdev->nr_vectors = v->msix_nr;
	snprintf(v->state_name, sizeof(v->state_name), "virtio@%d", slot);
	ret = vm_dev_state_register(vm, &(struct vm_dev_state){
		.name = v->state_name, .version = 1, .opaque = v,
		.save = vpci_save, .load = vpci_load, .quiesce = vpci_quiesce,
		.unquiesce = vpci_unquiesce, .migrated = vpci_migrated,
		.save_early = vdev->ops->save_early ? vpci_save_early : NULL,
		.preload = vdev->ops->preload ? vpci_preload : NULL,
	});
	if (!ret)
		return 0;
	v->state_name[0] = '\0';
fail:
	vpci_free(v);
	return ret;
}
