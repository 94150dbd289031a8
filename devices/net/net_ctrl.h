/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-net control virtqueue: the device side of every command class,
 * applied to struct net_state. Works on plain byte buffers; the caller
 * gathers the descriptor chain and writes the ack back.
 */
#ifndef VLAB_VIRTIO_NET_CTRL_H
#define VLAB_VIRTIO_NET_CTRL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/net/net_state.h"

/* What the device must act on after a command succeeded. */
#define NET_CTRL_FX_RX_FILTER	(1u << 0)	/* rx mode, MAC or VLAN tables */
#define NET_CTRL_FX_CONFIG	(1u << 1)	/* config space (mac, status) */
#define NET_CTRL_FX_QUEUES	(1u << 2)	/* curr_queue_pairs or steering */
#define NET_CTRL_FX_HASH	(1u << 3)	/* hash types or key */
#define NET_CTRL_FX_OFFLOADS	(1u << 4)	/* guest_offloads */
#define NET_CTRL_FX_COAL	(1u << 5)	/* recheck notification conditions */

struct net_ctrl_reply {
	size_t len;		/* bytes written to the result buffer */
	unsigned int effects;	/* NET_CTRL_FX_*, 0 on error */
};

/*
 * net_ctrl_handle - execute one control virtqueue command
 * @st:      device state, changed only if the command succeeds
 * @cmd:     the driver's readable buffers concatenated: class, command and
 *           command-specific-data
 * @cmd_len: bytes in @cmd
 * @out:     room for command-specific-result: the driver's writable buffers
 *           after the ack byte (the ack comes first, see virtio 1.3
 *           "Control Virtqueue"); may be NULL when @out_cap is 0
 * @out_cap: bytes of room in @out
 * @reply:   optional; result length and effects
 *
 * Returns the ack byte, VIRTIO_NET_OK or VIRTIO_NET_ERR. A command that is
 * malformed, has bad values, or needs a feature that was not negotiated
 * gets VIRTIO_NET_ERR and leaves everything but the control queue counters
 * untouched. Any input is safe.
 */
uint8_t net_ctrl_handle(struct net_state *st, const void *cmd, size_t cmd_len,
			void *out, size_t out_cap, struct net_ctrl_reply *reply);

/* Statistics types this device reports under the negotiated features. */
uint64_t net_ctrl_stats_caps(const struct net_state *st);

/*
 * Carrying a device's counters across a move (a vDPA NIC's device is new
 * at the destination). net_ctrl_stats_query() writes into @cmd a STATS_GET
 * for every type data queue @vq has under the negotiated features; its
 * length, 0 if none (or @cap is short). net_ctrl_stats_merge() walks a
 * STATS_GET result @res and, for each data-queue reply, adds @st's
 * counters into the reply (@into_reply: the new device answers for the
 * whole run) or the reply's into @st; CVQ replies are left alone, and a
 * malformed reply ends the walk. net_state_stats_add() adds @src's queue
 * counters to @dst's.
 */
size_t net_ctrl_stats_query(const struct net_state *st, uint16_t vq, uint8_t *cmd, size_t cap);
void net_ctrl_stats_merge(struct net_state *st, uint8_t *res, size_t len, bool into_reply);
void net_state_stats_add(struct net_state *dst, const struct net_state *src);
/*
 * Save a NIC's @st (net_state_save()) as a copy taken under @lock, its
 * workers counting on meanwhile, with @extra's queue counters added (a
 * device's own; NULL: none). -ENOMEM, or the buffer's error (0).
 */
struct state_buf;
int net_state_save_locked(struct state_buf *sb, const struct net_state *st,
			  pthread_mutex_t *lock, const struct net_state *extra);

/*
 * Bytes of a command read from the control queue, and of a result written
 * (STATS GET for 16 pairs needs about 5 KiB; a short reply hangs Linux).
 */
#define NET_CTRL_MAX		(64 * 1024)
#define NET_CTRL_RESULT_MAX	(16 * 1024)

struct virtio_dev;
/*
 * Serve every command waiting on @vdev's control queue (index from @st)
 * with net_ctrl_handle() under @lock: the ack, then the result, a config
 * change notification if one changed, one used notification at the end.
 * A bad descriptor sets NEEDS_RESET. @cmd holds NET_CTRL_MAX bytes,
 * @result NET_CTRL_RESULT_MAX. For every NIC whose control queue vlab
 * serves itself (virtio-net, vhost-user).
 */
void net_ctrl_serve(struct virtio_dev *vdev, struct net_state *st, pthread_mutex_t *lock,
		    uint8_t *cmd, uint8_t *result);

/* The configuration space as the driver reads it, from @st under @lock. */
void net_config_read(const struct net_state *st, pthread_mutex_t *lock, uint32_t off,
		     void *buf, uint32_t len);
/* At a migration's destination: ask the guest to announce its new location. */
void net_announce_moved(struct virtio_dev *vdev, struct net_state *st, pthread_mutex_t *lock);

#endif
