// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net from inside the guest: the driver probed, the link is up, and
 * the commands the driver sends on the control queue (MAC set, rx mode,
 * multicast list, VLAN add, queue pairs) are not just acked but change
 * what the device lets through. With vlab's "--net loop" backend every
 * frame the guest sends comes back, so the receive filter can be probed
 * from here: send to an address and see whether it returns.
 *
 * With vlab_ktest.net_peer=MAC (two guests on one --net hub=DIR) the test
 * also exchanges frames with the other guest: each sends pings to the
 * peer and answers the peer's pings, until both directions have worked.
 * With vlab_ktest.net_hold_s=N it sets every filter, keeps traffic up
 * while the guest is migrated, and checks the filters again.
 */
#include <linux/delay.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/if_vlan.h>
#include <linux/jiffies.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/string.h>
#include <net/net_namespace.h>

#include "vlab_ktest.h"

#define KTEST_ETH_P	0x88b5		/* IEEE local experimental ethertype */
#define KTEST_MAGIC	0x766c6162	/* "vlab" */

enum { PROBE_ANY, PROBE_PING, PROBE_PONG };

struct ktest_probe {
	__be32 magic;
	__be32 kind;
	__be32 seq;
} __packed;

static struct net_device *net_dev;
static atomic_t seen_seq = ATOMIC_INIT(-1);	/* last probe seq received */
static atomic_t pings_rx = ATOMIC_INIT(0), pongs_rx = ATOMIC_INIT(0);
static u8 peer_mac[ETH_ALEN];
static bool have_peer;

/* A probe frame to @dst from us, ready for a transmit function. */
static struct sk_buff *ktest_probe_skb(const u8 *dst, u32 kind, u32 seq)
{
	struct ktest_probe *p;
	struct sk_buff *skb;
	struct ethhdr *eth;

	skb = alloc_skb(ETH_HLEN + VLAN_HLEN + 64 + NET_IP_ALIGN, GFP_KERNEL);
	if (!skb)
		return NULL;
	skb_reserve(skb, NET_IP_ALIGN + ETH_HLEN);
	p = skb_put_zero(skb, 46);	/* minimum Ethernet payload */
	p->magic = htonl(KTEST_MAGIC);
	p->kind = htonl(kind);
	p->seq = htonl(seq);
	eth = skb_push(skb, ETH_HLEN);
	ether_addr_copy(eth->h_dest, dst);
	ether_addr_copy(eth->h_source, net_dev->dev_addr);
	eth->h_proto = htons(KTEST_ETH_P);
	skb_reset_mac_header(skb);
	skb->protocol = htons(KTEST_ETH_P);
	skb->dev = net_dev;
	return skb;
}

static int ktest_send(const u8 *dst, u16 vid, u32 kind, u32 seq)
{
	struct sk_buff *skb = ktest_probe_skb(dst, kind, seq);

	if (!skb)
		return -ENOMEM;
	if (vid)
		__vlan_hwaccel_put_tag(skb, htons(ETH_P_8021Q), vid);
	return dev_queue_xmit(skb) == NET_XMIT_SUCCESS ? 0 : -EIO;
}

/* Sees every frame of every device, tagged ones included. */
static int ktest_rcv(struct sk_buff *skb, struct net_device *dev,
		     struct packet_type *pt, struct net_device *orig)
{
	const struct ktest_probe *p;
	const struct ethhdr *eth = eth_hdr(skb);
	u32 kind, seq;

	if (orig != net_dev || skb->pkt_type == PACKET_OUTGOING)
		goto out;
	/* The VLAN header may still be in the data, or already in skb->vlan_tci. */
	if (eth->h_proto == htons(ETH_P_8021Q) && skb->len >= VLAN_HLEN + sizeof(*p))
		p = (const void *)(skb->data + VLAN_HLEN);
	else if (eth->h_proto == htons(KTEST_ETH_P) && skb->len >= sizeof(*p))
		p = (const void *)skb->data;
	else
		goto out;
	if (p->magic != htonl(KTEST_MAGIC))
		goto out;
	kind = ntohl(p->kind);
	seq = ntohl(p->seq);
	atomic_set(&seen_seq, seq);
	if (kind == PROBE_PING) {
		atomic_inc(&pings_rx);
		/* Answer from process context would be nicer; GFP_ATOMIC is enough here. */
		if (have_peer) {
			struct sk_buff *r = skb_copy(skb, GFP_ATOMIC);

			if (r) {
				struct ethhdr *re;
				struct ktest_probe *rp;

				skb_push(r, ETH_HLEN);
				skb_reset_mac_header(r);
				re = eth_hdr(r);
				ether_addr_copy(re->h_dest, eth->h_source);
				ether_addr_copy(re->h_source, net_dev->dev_addr);
				rp = (void *)(r->data + ETH_HLEN);
				rp->kind = htonl(PROBE_PONG);
				r->dev = net_dev;
				dev_queue_xmit(r);
			}
		}
	} else if (kind == PROBE_PONG) {
		atomic_inc(&pongs_rx);
	}
out:
	kfree_skb(skb);
	return 0;
}

static struct packet_type ktest_ptype = {
	.type = cpu_to_be16(ETH_P_ALL),
	.func = ktest_rcv,
};

/* Did probe @seq come back within @ms? */
static bool ktest_seen_within(u32 seq, unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);

	while (time_before(jiffies, end)) {
		if (atomic_read(&seen_seq) == seq)
			return true;
		msleep(10);
	}
	return false;
}

static u32 probe_seq = 1000;

/* Send a probe and report whether it came back within @ms. */
static bool ktest_probe_returns(const u8 *dst, u16 vid, unsigned int ms)
{
	u32 seq = ++probe_seq;

	return !ktest_send(dst, vid, PROBE_ANY, seq) && ktest_seen_within(seq, ms);
}

static enum vlab_ktest_result net_probe(struct vlab_ktest *t)
{
	struct device *parent;
	int err;

	net_dev = dev_get_by_name(&init_net, "eth0");
	if (!net_dev)
		return vlab_ktest_skip(t, "no eth0 (run vlab with --net)");
	parent = net_dev->dev.parent;
	if (!parent || !parent->driver || strcmp(parent->driver->name, "virtio_net"))
		return vlab_ktest_fail(t, "eth0 is not driven by virtio_net");
	if (t->net_peer && t->net_peer[0]) {
		if (!mac_pton(t->net_peer, peer_mac))
			return vlab_ktest_fail(t, "vlab_ktest.net_peer=%s is not a MAC", t->net_peer);
		have_peer = true;
	}
	/*
	 * Probes carry sequence numbers from a base of our own, so a guest on
	 * the same hub running these tests at the same time cannot answer ours.
	 */
	probe_seq = (u32)net_dev->dev_addr[4] << 24 | (u32)net_dev->dev_addr[5] << 16;
	dev_add_pack(&ktest_ptype);
	rtnl_lock();
	err = dev_open(net_dev, NULL);
	rtnl_unlock();
	if (err)
		return vlab_ktest_fail(t, "dev_open: %d", err);
	vlab_ktest_diag(t, "eth0 %pM mtu %u, %u queue pair(s)", net_dev->dev_addr,
			net_dev->mtu, net_dev->real_num_rx_queues);
	return VLAB_KTEST_PASS;
}

static enum vlab_ktest_result net_link_up(struct vlab_ktest *t)
{
	if (!net_dev)
		return vlab_ktest_skip(t, "no virtio-net");
	if (!netif_carrier_ok(net_dev))
		return vlab_ktest_fail(t, "carrier down (STATUS_LINK_UP not seen)");
	return VLAB_KTEST_PASS;
}

static bool ktest_on_loop(void)
{
	/* On the loop backend our own broadcast comes back. */
	return ktest_probe_returns(net_dev->broadcast, 0, 2000);
}

static enum vlab_ktest_result net_rx_mode(struct vlab_ktest *t)
{
	static const u8 foreign[ETH_ALEN] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };
	bool promisc_on, promisc_off;

	if (!net_dev)
		return vlab_ktest_skip(t, "no virtio-net");
	if (have_peer || !ktest_on_loop())
		return vlab_ktest_skip(t, "needs the loop backend");
	rtnl_lock();
	dev_set_promiscuity(net_dev, 1);
	rtnl_unlock();
	promisc_on = ktest_probe_returns(foreign, 0, 2000);
	rtnl_lock();
	dev_set_promiscuity(net_dev, -1);
	rtnl_unlock();
	promisc_off = ktest_probe_returns(foreign, 0, 1000);
	if (!promisc_on)
		return vlab_ktest_fail(t, "promiscuous: frame to a foreign MAC not received");
	if (promisc_off)
		return vlab_ktest_fail(t, "not promiscuous: frame to a foreign MAC still received");
	if (!ktest_probe_returns(net_dev->dev_addr, 0, 2000))
		return vlab_ktest_fail(t, "frame to our own MAC not received");
	return VLAB_KTEST_PASS;
}

static enum vlab_ktest_result net_mac_set(struct vlab_ktest *t)
{
	u8 old[ETH_ALEN];
	struct sockaddr sa;
	int err;

	if (!net_dev)
		return vlab_ktest_skip(t, "no virtio-net");
	ether_addr_copy(old, net_dev->dev_addr);
	sa.sa_family = net_dev->type;
	ether_addr_copy((u8 *)sa.sa_data, old);
	sa.sa_data[5] ^= 0x5a;
	rtnl_lock();
	err = dev_set_mac_address(net_dev, &sa, NULL);
	rtnl_unlock();
	if (err)
		return vlab_ktest_fail(t, "MAC_ADDR_SET refused: %d", err);
	if (!have_peer && ktest_on_loop()) {
		if (!ktest_probe_returns((u8 *)sa.sa_data, 0, 2000))
			return vlab_ktest_fail(t, "frame to the new MAC not received");
		if (ktest_probe_returns(old, 0, 1000))
			return vlab_ktest_fail(t, "frame to the old MAC still received");
	}
	ether_addr_copy((u8 *)sa.sa_data, old);
	rtnl_lock();
	err = dev_set_mac_address(net_dev, &sa, NULL);
	rtnl_unlock();
	return err ? vlab_ktest_fail(t, "restoring the MAC: %d", err) : VLAB_KTEST_PASS;
}

static enum vlab_ktest_result net_multicast(struct vlab_ktest *t)
{
	static const u8 mc_in[ETH_ALEN] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x42 };
	static const u8 mc_out[ETH_ALEN] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x43 };
	bool in, out;
	int err;

	if (!net_dev)
		return vlab_ktest_skip(t, "no virtio-net");
	if (have_peer || !ktest_on_loop())
		return vlab_ktest_skip(t, "needs the loop backend");
	rtnl_lock();
	err = dev_mc_add(net_dev, mc_in);
	rtnl_unlock();
	if (err)
		return vlab_ktest_fail(t, "dev_mc_add: %d", err);
	in = ktest_probe_returns(mc_in, 0, 2000);
	out = ktest_probe_returns(mc_out, 0, 1000);
	rtnl_lock();
	dev_mc_del(net_dev, mc_in);
	rtnl_unlock();
	if (!in)
		return vlab_ktest_fail(t, "listed multicast group not received");
	if (out)
		return vlab_ktest_fail(t, "unlisted multicast group received");
	return VLAB_KTEST_PASS;
}

static enum vlab_ktest_result net_vlan(struct vlab_ktest *t)
{
	bool in, out;
	int err;

	if (!net_dev)
		return vlab_ktest_skip(t, "no virtio-net");
	if (!(net_dev->features & NETIF_F_HW_VLAN_CTAG_FILTER))
		return vlab_ktest_skip(t, "CTRL_VLAN not negotiated");
	if (have_peer || !ktest_on_loop())
		return vlab_ktest_skip(t, "needs the loop backend");
	rtnl_lock();
	err = vlan_vid_add(net_dev, htons(ETH_P_8021Q), 100);
	rtnl_unlock();
	if (err)
		return vlab_ktest_fail(t, "VLAN_ADD 100: %d", err);
	in = ktest_probe_returns(net_dev->dev_addr, 100, 2000);
	out = ktest_probe_returns(net_dev->dev_addr, 200, 1000);
	rtnl_lock();
	vlan_vid_del(net_dev, htons(ETH_P_8021Q), 100);
	rtnl_unlock();
	if (!in)
		return vlab_ktest_fail(t, "frame on VLAN 100 (added) not received");
	if (out)
		return vlab_ktest_fail(t, "frame on VLAN 200 (not added) received");
	return VLAB_KTEST_PASS;
}

static enum vlab_ktest_result net_queue_pairs(struct vlab_ktest *t)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	const struct ethtool_ops *ops;
	int err;

	if (!net_dev)
		return vlab_ktest_skip(t, "no virtio-net");
	ops = net_dev->ethtool_ops;
	if (!ops || !ops->get_channels || !ops->set_channels)
		return vlab_ktest_skip(t, "no channel ops");
	ops->get_channels(net_dev, &ch);
	if (ch.max_combined < 2)
		return vlab_ktest_skip(t, "one queue pair (use --net ...,queues=2)");
	rtnl_lock();
	ch.combined_count = 1;
	err = ops->set_channels(net_dev, &ch);
	if (!err) {
		ch.combined_count = ch.max_combined;
		err = ops->set_channels(net_dev, &ch);
	}
	rtnl_unlock();
	if (err)
		return vlab_ktest_fail(t, "VQ_PAIRS_SET refused: %d", err);
	if (!ktest_on_loop() && !have_peer)
		return vlab_ktest_fail(t, "no frames after changing queue pairs");
	return VLAB_KTEST_PASS;
}

static enum vlab_ktest_result net_peer_exchange(struct vlab_ktest *t)
{
	unsigned long end = jiffies + msecs_to_jiffies(180 * 1000);
	u32 seq = 0;

	if (!net_dev)
		return vlab_ktest_skip(t, "no virtio-net");
	if (!have_peer)
		return vlab_ktest_skip(t, "no vlab_ktest.net_peer");
	/* The peer may still be booting: keep pinging until both ways worked. */
	while (time_before(jiffies, end)) {
		if (atomic_read(&pongs_rx) && atomic_read(&pings_rx))
			break;
		ktest_send(peer_mac, 0, PROBE_PING, ++seq);
		msleep(200);
	}
	/* Give the peer a few more answers in case it still waits for ours. */
	for (seq = 0; seq < 10; seq++) {
		ktest_send(peer_mac, 0, PROBE_PING, 100000 + seq);
		msleep(100);
	}
	vlab_ktest_diag(t, "pings received %d, pongs received %d",
			atomic_read(&pings_rx), atomic_read(&pongs_rx));
	if (!atomic_read(&pongs_rx))
		return vlab_ktest_fail(t, "the peer never answered");
	if (!atomic_read(&pings_rx))
		return vlab_ktest_fail(t, "never heard the peer's pings");
	return VLAB_KTEST_PASS;
}

/* The same through transmit queue @q (not the one the stack would pick). */
static bool ktest_probe_returns_on(const u8 *dst, u16 q, unsigned int ms)
{
	u32 seq = ++probe_seq;
	struct sk_buff *skb = ktest_probe_skb(dst, PROBE_ANY, seq);

	return skb && __dev_direct_xmit(skb, q) == NET_XMIT_SUCCESS &&
	       ktest_seen_within(seq, ms);
}

static const u8 mig_mc_in[ETH_ALEN] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x52 };
static const u8 mig_mc_out[ETH_ALEN] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x53 };
static const u8 mig_foreign[ETH_ALEN] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xdd };

/* What the settings of net_migrate_settings() let through; NULL if all as set. */
static const char *mig_settings_broken(const u8 *old)
{
	if (!ktest_probe_returns(net_dev->dev_addr, 0, 3000))
		return "frame to the MAC set not received";
	if (ktest_probe_returns(old, 0, 1000))
		return "frame to the old MAC received";
	if (ktest_probe_returns(mig_foreign, 0, 1000))
		return "frame to a foreign MAC received: promiscuous again";
	if (!ktest_probe_returns(mig_mc_in, 0, 2000))
		return "listed multicast group not received";
	if (ktest_probe_returns(mig_mc_out, 0, 1000))
		return "unlisted multicast group received";
	if (net_dev->features & NETIF_F_HW_VLAN_CTAG_FILTER) {
		if (!ktest_probe_returns(net_dev->dev_addr, 100, 2000))
			return "frame on VLAN 100 (added) not received";
		if (ktest_probe_returns(net_dev->dev_addr, 200, 1000))
			return "frame on VLAN 200 (not added) received";
	}
	if (net_dev->real_num_tx_queues > 1 &&
	    !ktest_probe_returns_on(net_dev->dev_addr, 1, 2000))
		return "frame sent on the second queue pair not received";
	return NULL;
}

/*
 * With vlab_ktest.net_hold_s=N, on the loop backend, for a migration: set
 * a MAC, promiscuous mode off, a multicast group, VLAN 100 and every queue
 * pair, check each by what comes back, then keep frames going for N
 * seconds while the host moves the guest ("holding"), and check every
 * setting again: a destination device that lost one (not replayed into
 * it) shows here.
 */
static enum vlab_ktest_result net_migrate_settings(struct vlab_ktest *t)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	unsigned long end;
	unsigned int sent = 0, back = 0;
	const char *why;
	struct sockaddr sa;
	u8 old[ETH_ALEN];
	int err;

	if (!net_dev)
		return vlab_ktest_skip(t, "no virtio-net");
	if (!t->net_hold_s)
		return vlab_ktest_skip(t, "vlab_ktest.net_hold_s not given");
	if (have_peer || !ktest_on_loop())
		return vlab_ktest_skip(t, "needs the loop backend");
	ether_addr_copy(old, net_dev->dev_addr);
	sa.sa_family = net_dev->type;
	ether_addr_copy((u8 *)sa.sa_data, old);
	sa.sa_data[5] ^= 0x33;
	rtnl_lock();
	err = dev_set_mac_address(net_dev, &sa, NULL);
	if (!err)
		err = dev_mc_add(net_dev, mig_mc_in);
	if (!err && (net_dev->features & NETIF_F_HW_VLAN_CTAG_FILTER))
		err = vlan_vid_add(net_dev, htons(ETH_P_8021Q), 100);
	if (!err && net_dev->ethtool_ops && net_dev->ethtool_ops->get_channels &&
	    net_dev->ethtool_ops->set_channels) {
		net_dev->ethtool_ops->get_channels(net_dev, &ch);
		ch.combined_count = ch.max_combined;
		err = net_dev->ethtool_ops->set_channels(net_dev, &ch);
	}
	rtnl_unlock();
	if (err)
		return vlab_ktest_fail(t, "setting up: %d", err);
	why = mig_settings_broken(old);
	if (why)
		return vlab_ktest_fail(t, "before the move: %s", why);
	vlab_ktest_diag(t, "settings in place, %u queue pair(s); holding %u s",
			net_dev->real_num_tx_queues, t->net_hold_s);
	end = jiffies + t->net_hold_s * HZ;
	while (time_before(jiffies, end)) {
		sent++;
		if (ktest_probe_returns(net_dev->dev_addr, 0, 200))
			back++;
		msleep(50);
	}
	vlab_ktest_diag(t, "during the hold %u of %u frames came back", back, sent);
	if (!back)
		return vlab_ktest_fail(t, "no frame came back during the hold");
	why = mig_settings_broken(old);
	if (why)
		return vlab_ktest_fail(t, "after the hold: %s", why);
	return VLAB_KTEST_PASS;
}

static const struct vlab_ktest_case net_cases[] = {
	{ "net_probe", net_probe },
	{ "net_link_up", net_link_up },
	{ "net_rx_mode", net_rx_mode },
	{ "net_mac_set", net_mac_set },
	{ "net_multicast", net_multicast },
	{ "net_vlan", net_vlan },
	{ "net_queue_pairs", net_queue_pairs },
	{ "net_peer_exchange", net_peer_exchange },
	{ "net_migrate_settings", net_migrate_settings },
};

VLAB_KTEST_SUITE(ktest_net, net_cases);
