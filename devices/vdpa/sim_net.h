/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The simulated mlx5-like vDPA NIC: its hardware (hw.c) behind the
 * vhost-vdpa vocabulary (virtio/vdpa.h), a data path on its own worker
 * thread that reaches the network through vlab's backends (hub, tap,
 * loop, null), and a control queue handled as mlx5_vdpa's driver does
 * (model=mlx5: MAC address, queue pairs, VLAN) or completely (model=full).
 *
 * The VMM programs it as it would /dev/vhost-vdpa-N: features and status,
 * ring sizes, IOVAs and bases, kick and call eventfds, IOTLB messages.
 * At DRIVER_OK every enabled vq becomes a RDY object; each kick eventfd is
 * read by the device's worker, which pops, moves frames, pushes and writes
 * the call eventfd (the irqfd, with passthrough) when the driver wants an
 * interrupt.
 */
#ifndef VLAB_VDPA_SIM_NET_H
#define VLAB_VDPA_SIM_NET_H

#include <linux/virtio_net.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/net/net_backend.h"
#include "devices/net/net_state.h"
#include "devices/vdpa/hw.h"
#include "virtio/vdpa.h"
#include "vmm/core/worker.h"

enum vdpa_sim_model {
	VDPA_SIM_MLX5,		/* what mlx5_vdpa offers and handles */
	VDPA_SIM_FULL,		/* every control queue class */
};

struct vdpa_sim_net_config {
	enum vdpa_sim_model model;
	uint16_t queue_pairs;		/* 1..VDPA_HW_MAX_PAIRS */
	uint8_t mac[6];
	uint16_t mtu;			/* 0: not offered */
	char backend[256];		/* as --net: hub=DIR, tap=NAME, loop, null */
	char pcap[256];			/* capture file, "" for none */
	uint32_t pcap_max_mb;		/* where it stops; 0: the default */
	double fw_scale;		/* 1.0 calibrated, 0 no waiting */
	bool fw_parallel;		/* async firmware commands */
	bool defer_backend;		/* not on the wire until vdpa_sim_net_attach() */
	bool precreate;			/* vq objects made at device add and after reset */
};

struct vdpa_sim_vq {
	uint16_t num;
	uint64_t desc, driver, device;
	uint16_t base;
	bool enabled;
	int kick_fd, call_fd;		/* -1: none */
	struct vdpa_sim_net *sim;	/* for the kick handler */
	uint16_t idx;
	uint16_t notify_reg;		/* the vq's doorbell register */
};

struct vdpa_sim_net {
	struct vdpa_dev dev;
	pthread_mutex_t lock;		/* st and status: worker against the VMM */
	struct vdpa_sim_net_config cfg;
	struct vdpa_hw hw;
	struct net_state st;		/* the device's own view: config, CVQ state */
	uint64_t offered, backend_offered, backend_features;
	uint8_t status;
	uint16_t nr_vqs;
	struct vdpa_sim_vq vqs[VDPA_HW_MAX_VQS];
	struct net_backend be;
	struct worker worker;
	bool worker_running, be_watched;
	bool suspended;			/* since suspend, until resume or reset */
	int config_fd;			/* -1: none */
	uint8_t *frame;			/* scratch: one frame with its header */
	size_t held;			/* a received frame waiting for an RX buffer */
	uint8_t *held_frame;
	uint64_t tx_frames, rx_frames, rx_dropped;
};

/* NULL with a message in @err. */
struct vdpa_sim_net *vdpa_sim_net_new(const struct vdpa_sim_net_config *cfg, char *err,
				      size_t errlen);
void vdpa_sim_net_free(struct vdpa_sim_net *sim);
/*
 * Put a device made with defer_backend on its wire (cfg->backend), before
 * it starts. A migration destination waits until the source has let go:
 * on a hub, an endpoint opened earlier collects copies of the source's
 * frames, which the device would deliver a second time after the switch.
 */
int vdpa_sim_net_attach(struct vdpa_sim_net *sim, char *err, size_t errlen);

#endif
