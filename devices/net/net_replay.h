/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A device's receive-side state as control-queue commands: what a driver
 * would have sent to bring a freshly reset device (FEATURES_OK with the
 * same features) to @st. A VMM replays them into a device it cannot load
 * state into any other way (a vDPA NIC at the migration destination)
 * before the data queues start.
 *
 * Deltas from the reset defaults only, in an order that keeps every
 * command valid: MAC address; multiqueue (RSS, or hash reporting and the
 * queue pairs); guest offloads; RX modes; MAC tables; VLANs; notification
 * coalescing (global, then per queue). Not replayed: an announcement in
 * progress (transient) and statistics (no command sets them).
 */
#ifndef VLAB_NET_REPLAY_H
#define VLAB_NET_REPLAY_H

#include "devices/net/net_state.h"

/* One command; 0 to go on, <0 to stop the replay with that value. */
typedef int (*net_replay_fn)(void *opaque, uint8_t cls, uint8_t cmd, const void *data,
			     size_t len);

/* Emit the commands for @st; how many, or the first error @emit returned. */
int net_replay(const struct net_state *st, net_replay_fn emit, void *opaque);

#endif
