/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A virtio device, independent of its transport. A device fills a
 * struct virtio_dev_ops and owns its state; virtio_pci_attach() (or a
 * test) connects it to a transport, which calls the virtio_dev_* helpers
 * below for the common configuration rules of the virtio 1.2 spec.
 */
#ifndef VLAB_VIRTIO_H
#define VLAB_VIRTIO_H

#include <linux/virtio_config.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/virtq.h"
#include "vmm/mem/guest_mem.h"

#define VIRTIO_MSI_NO_VECTOR	0xffff

struct virtio_dev;
struct state_buf;

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

struct worker;

struct virtio_dev_ops {
	const char *name;
	uint16_t device_id;		/* VIRTIO_ID_* */
	uint32_t pci_class;		/* class code for the PCI transport */
	uint32_t config_size;
	/* Device-specific feature bits (transport and ring bits are added). */
	uint64_t (*get_features)(struct virtio_dev *vdev);
	/* Driver features about to be accepted (FEATURES_OK); <0 refuses. */
	int (*set_features)(struct virtio_dev *vdev, uint64_t features);
	void (*config_read)(struct virtio_dev *vdev, uint32_t off, void *buf, uint32_t len);
	void (*config_write)(struct virtio_dev *vdev, uint32_t off, const void *buf, uint32_t len);
	/*
	 * The worker that services queue @q (optional). The transport then
	 * hangs the queue's doorbell eventfd on it, so a kick goes from KVM
	 * straight to that worker; the worker must be stopped before the
	 * transport is detached, and outlive it.
	 */
	struct worker *(*queue_worker)(struct virtio_dev *vdev, uint16_t q);
	/*
	 * Take queue @q's doorbell eventfd (optional): 0 if the device reads
	 * @fd itself from now on (a vDPA device polls it directly), and the
	 * transport then neither watches nor reads it; it still closes it,
	 * after detaching.
	 */
	int (*queue_kick_fd)(struct virtio_dev *vdev, uint16_t q, int fd);
	/*
	 * The driver kicked queue @q. Runs on queue_worker(q), or on the
	 * event loop thread for a device without one: hand the work to a
	 * device worker, never do it there.
	 */
	void (*queue_notify)(struct virtio_dev *vdev, uint16_t q);
	/* DRIVER_OK was set: start workers. <0 sets DEVICE_NEEDS_RESET. */
	int (*start)(struct virtio_dev *vdev);
	/* Device reset: stop workers and return to power-on state. */
	void (*reset)(struct virtio_dev *vdev);
	/*
	 * A queue is about to be reset (VIRTIO_F_RING_RESET) or re-enabled:
	 * queue_stop() returns only once no worker can touch queue @q (nor
	 * its vector); the core then changes the queue and calls
	 * queue_restart(), which lets the workers run again. Neither is
	 * called when the device has no DRIVER_OK workers to stop, i.e. the
	 * device decides itself whether anything runs.
	 */
	void (*queue_stop)(struct virtio_dev *vdev, uint16_t q);
	void (*queue_restart)(struct virtio_dev *vdev, uint16_t q);
	/* Queue @q was reset while stopped: drop what the device held for it. */
	void (*queue_reset)(struct virtio_dev *vdev, uint16_t q);

	/* Migration (all optional): device-specific state and workers. */
	int (*save)(struct virtio_dev *vdev, struct state_buf *sb);
	int (*load)(struct virtio_dev *vdev, const void *fdt, int node, char *err,
		    size_t errlen);
	void (*quiesce)(struct virtio_dev *vdev);
	void (*unquiesce)(struct virtio_dev *vdev);
	void (*migrated)(struct virtio_dev *vdev);
	/* Early state during pre-copy (see struct vm_dev_state): source, destination. */
	int (*save_early)(struct virtio_dev *vdev, struct state_buf *sb);
	void (*preload)(struct virtio_dev *vdev, const void *fdt, int node);
	/*
	 * How the queues' interrupts reach the guest changed (a vector
	 * assigned, masked or unmasked, MSI-X switched on or off): a device
	 * that hands transport->queue_irqfd() to someone else re-asks now.
	 * Called on the thread that made the change, no transport lock held.
	 */
	void (*irq_changed)(struct virtio_dev *vdev);
};

struct virtio_transport_ops {
	void (*signal_queue)(struct virtio_dev *vdev, uint16_t q);
	void (*signal_config)(struct virtio_dev *vdev);
	/*
	 * An eventfd that injects queue @q's interrupt in the guest by itself
	 * (a KVM irqfd), or -1 while it must go through signal_queue()
	 * (masked, INTx, no vector). Owned by the transport; valid until
	 * irq_changed() or detach.
	 */
	int (*queue_irqfd)(struct virtio_dev *vdev, uint16_t q);
};

/* Transport-independent state: plain fields, serializable. */
struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *priv;
	struct guest_mem *mem;
	pthread_mutex_t lock;		/* status, features, queue configuration */

	uint64_t host_features;
	uint64_t guest_features;
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint8_t status;
	uint8_t config_generation;
	uint16_t queue_select;
	uint16_t nr_queues;
	struct virtq *vqs;
	uint16_t *queue_vector;		/* per queue MSI-X vector */
	bool *queue_reset_done;		/* RING_RESET: reads 1 until re-enabled */
	uint16_t config_vector;
	/* MSI-X vectors the transport has (0: none); set by the transport. */
	uint16_t nr_vectors;

	const struct virtio_transport_ops *transport;
	void *transport_priv;
};

/*
 * Initialise @vdev with @nr_queues queues of at most @queue_max entries.
 * Features offered = device features | VERSION_1 | ring features.
 */
int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops,
		    void *priv, struct guest_mem *mem, uint16_t nr_queues,
		    uint16_t queue_max);
void virtio_dev_exit(struct virtio_dev *vdev);

/*
 * Common configuration, as a transport sees it. Except for the two that
 * say otherwise, the caller holds vdev->lock.
 */
uint32_t virtio_dev_read_device_features(struct virtio_dev *vdev);
void virtio_dev_write_driver_features(struct virtio_dev *vdev, uint32_t val);
void virtio_dev_set_status_locked(struct virtio_dev *vdev, uint8_t status);
/* These two take vdev->lock themselves. */
void virtio_dev_set_status(struct virtio_dev *vdev, uint8_t status);
void virtio_dev_reset(struct virtio_dev *vdev);
/* Queue registers for queue_select; reads of a missing queue give 0. */
uint16_t virtio_dev_queue_size(struct virtio_dev *vdev);
void virtio_dev_set_queue_size(struct virtio_dev *vdev, uint16_t size);
void virtio_dev_set_queue_addr(struct virtio_dev *vdev, int which, bool hi, uint32_t val);
uint32_t virtio_dev_queue_addr(struct virtio_dev *vdev, int which, bool hi);
void virtio_dev_enable_queue(struct virtio_dev *vdev);
void virtio_dev_reset_queue(struct virtio_dev *vdev);

/* Device side: a queue's used ring advanced; interrupt if the driver wants one. */
void virtio_dev_notify_used(struct virtio_dev *vdev, uint16_t q);
/* Queue @q's interrupt, unconditionally (the suppression was decided elsewhere). */
void virtio_dev_signal_queue(struct virtio_dev *vdev, uint16_t q);
/* Device configuration changed (bumps config_generation, interrupts). */
void virtio_dev_config_changed(struct virtio_dev *vdev);
/* The driver broke the protocol: DEVICE_NEEDS_RESET, config interrupt. */
void virtio_dev_needs_reset(struct virtio_dev *vdev, const char *why);

/*
 * For the control socket's watch: "queues":[{"q":0,"size":256,"fill":3,
 * "kicks":..,"irqs":..,"used":..},...] of the enabled queues, into the open
 * object @w. virtio_watch_queue() opens one such object (the caller adds
 * members of its own and closes it), for devices whose counters live
 * elsewhere (a vDPA NIC's own engine). "fill" is omitted when unknown
 * (packed rings, @fill < 0).
 */
struct json_writer;
void virtio_dev_watch_queues(struct virtio_dev *vdev, struct json_writer *w);
void virtio_watch_queue(struct json_writer *w, uint16_t q, uint16_t size, int fill,
			const struct virtq_stats *stats);

/* Common state and every queue, as properties of the current node. */
int virtio_dev_state_save(struct virtio_dev *vdev, struct state_buf *sb);
/*
 * Restore it and re-enable the queues that were enabled. Every value is
 * checked against the device's configuration before any of it is used
 * (virtq_state_check() for the rings, vectors against nr_vectors); on
 * error nothing of @vdev changes and @err names the device, the queue and
 * the field. Safe with any tree: fuzz targets may call it directly.
 */
int virtio_dev_state_load(struct virtio_dev *vdev, const void *fdt, int node, char *err,
			  size_t errlen);

/*
 * The whole device, whatever its transport: the common state in child node
 * "virtio" and the device's own (ops->save) in "device". Loading is all or
 * nothing: if the device refuses its part, the common part goes back to
 * what it was. The one contract every virtio device passes (tests/
 * virtio_dev_test.h): suspend, save, load into a fresh device, resume.
 */
int virtio_dev_save(struct virtio_dev *vdev, struct state_buf *sb);
int virtio_dev_load(struct virtio_dev *vdev, const void *fdt, int node, char *err,
		    size_t errlen);
/* Stop every worker: no ring or guest memory is touched until resume. */
void virtio_dev_suspend(struct virtio_dev *vdev);
void virtio_dev_resume(struct virtio_dev *vdev);

/*
 * The status byte: device workers set NEEDS_RESET (virtio_dev_needs_reset())
 * and read it while the transport changes it, so every access is atomic.
 */
static inline uint8_t virtio_dev_status(const struct virtio_dev *vdev)
{
	return __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE);
}

static inline void virtio_dev_store_status(struct virtio_dev *vdev, uint8_t status)
{
	__atomic_store_n(&vdev->status, status, __ATOMIC_RELEASE);
}

static inline bool virtio_dev_has(const struct virtio_dev *vdev, unsigned int bit)
{
	return vdev->guest_features & (1ULL << bit);
}

#endif
