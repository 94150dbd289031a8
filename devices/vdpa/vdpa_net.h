/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --vdpa: the guest's virtio-net PCI function in front of a vDPA NIC (the
 * simulated one), in passthrough. The guest sees the device's features
 * and configuration; at DRIVER_OK the VMM maps guest RAM GPA -> host in
 * address space 0 in one batch, hands the device the guest's ring
 * addresses and the queues' doorbell eventfds (KVM's ioeventfds, read by
 * the device's own thread), and turns the device's call eventfds into the
 * queues' interrupts. The control queue is always shadowed: the VMM pops
 * the guest's command, copies it into a bounce buffer (no TOCTOU),
 * forwards it on a shadow ring in address space 1, and changes its own
 * copy of the device state (net_state) only if the device acked it.
 *
 * The device's DMA is not dirty-tracked, so while a migration logs dirty
 * pages the data queues go through shadow virtqueues (virtio/svq.h), and
 * back to passthrough when it ends; stop-and-copy carries each vq's ring
 * base. The test-only switch unsafe-migrate migrates without the shadows,
 * to show why they exist: the destination misses pages.
 */
#ifndef VLAB_VDPA_NET_H
#define VLAB_VDPA_NET_H

#include "devices/net/virtio_net.h"
#include "devices/vdpa/sim_net.h"

struct vdpa_net_conf {
	struct net_config net;		/* backend, mac, queues, mtu */
	enum vdpa_sim_model model;
	double fw_scale;
	bool fw_async;
	bool unsafe_migrate;
	bool svq_one_thread;		/* shadowed queues all on one thread */
	bool no_doorbell;		/* the SVQ kicks by eventfd, not the notify area */
	uint32_t svq_poll_us;		/* a shadow thread polls this long before sleeping */
	/* Each downtime step can be turned off, to measure it (make bench-vdpa). */
	bool no_desc_asid;		/* shadow rings in address space 0 */
	bool late_map;			/* map guest RAM at DRIVER_OK, not at start-up */
	bool no_persist;		/* a device reset drops the maps (no IOTLB_PERSIST) */
	bool no_batch;			/* IOTLB messages one by one, a key rebuild each */
	bool no_precreate;		/* vq objects made at DRIVER_OK, not ahead */
	bool no_ahead;			/* destination: no start from the early state */
	bool switch_reset;		/* switch to shadows as QEMU does: reset, start again */
};

int vdpa_parse(const char *arg, struct vdpa_net_conf *c, char *err, size_t errlen);

extern struct device_kind vdpa_net_kind;

#endif
