// SPDX-License-Identifier: GPL-2.0
/*
 * Live migration with virtio-net traffic through a hub (issue 4's proof:
 * "no frame the device acknowledged is lost or duplicated in guest
 * memory"). Two net_count guests share a fresh hub: a sender streams
 * numbered frames at a steady 2000 frames/s to a receiver, and one of
 * them is live-migrated to a new `vlab run --incoming` while they flow.
 *
 * The receiver counts every sequence number it takes from its RX used
 * ring in guest memory, so what the destination checks is the migrated
 * copy of that memory. At the end it requires no number twice, at least
 * half of all frames and of the tail (the last 500, which the sender holds
 * back until the migrated guest has announced itself from the
 * destination, so they are sent after the switch), and the device's own
 * count of frames it put in the RX ring (DEVICE_STATS, migrated with the
 * device) equal to the frames the driver took out: an acknowledged frame
 * missing from the guest, or one seen twice, fails. A moved receiver also
 * wants half a tail's worth of frames taken from its ring after the move.
 * Frames sent while the receiver is moving may be lost on the wire, as on
 * any network; they are counted and printed.
 *
 * The migrated guest must also see STATUS_ANNOUNCE (raised by the
 * destination), announce itself on the hub and ack it; the source must
 * exit 0 saying it migrated, the destination must exit 0.
 */
#include <check.h>

#include "check_main.h"
#include "vlab_run.h"

#define TEST_TIMEOUT	300	/* Check's limit per test */
#define UP_TIMEOUT	60	/* a guest to start streaming */
#define END_TIMEOUT	120	/* everything to finish after the switch */
#define MAC_SEND	"52:54:00:00:30:01"
#define MAC_RECV	"52:54:00:00:30:02"
/*
 * 8500 frames at 2000/s: 4 s of main stream, the migration about 1 s in,
 * then the 500-frame tail once the switch has been seen.
 */
#define RATE		2000
#define STREAM		"count=8500 tail=500 rate=2000 timeout=30"

static bool test_done;

/* At exit, passed or not: kill what runs, dump logs if the test failed. */
static void cleanup(void)
{
	vp_cleanup(!test_done);
}

static void test_begin(void)
{
	vlab_tdir_create("vlab-mignet");
	test_done = false;
	atexit(cleanup);
}

static void test_end(void)
{
	test_done = true;
	cleanup();
}


#define ck_file_has(p, f, needle) \
	vp_check(vlab_file_has((p)->f, needle), "%s: " #f " lacks \"%s\"", (p)->name, needle)

/* Print the console lines of @p that start with @prefix. */
static void echo_lines(const struct vp *p, const char *prefix)
{
	struct vlab_result r = { .console = vlab__slurp(p->con) };

	printf("  [%s]\n", p->name);
	vlab_console_echo(&r, prefix);
	free(r.console);
}

#define NET_COUNT_ELF	"payloads/net_count.elf"

enum move {
	MOVE_RECV,		/* the receiver is migrated */
	MOVE_SEND,		/* the sender is migrated */
	MOVE_SEND_STALLED,	/* the sender, while the receiver is paused */
};

/*
 * With the receiver paused (vCPU stopped, device still filling its ring),
 * its hub socket is full within a few hundred ms; from then on each frame
 * the sender's device sends waits HUB_WAIT_MS for it, and the sender's TX
 * ring fills up. Migrating the sender then must not wait for that ring to
 * drain: that would be 256 x 5 ms of downtime.
 */
#define STALL_US	800000
#define STALL_DOWNTIME_MS 300

/*
 * The moved guest's NIC: the emulated one, or (the vDPA tests) a
 * simulated vDPA NIC, whose device is new at the destination: its
 * counters go on from the source's because the front end carries them.
 */
static const char *moved_opt = "--net", *moved_suffix = "", *moved_cmd = "";
/* A line the moved guest's source must log, or NULL; a migrate argument, or NULL. */
static const char *moved_log, *moved_mig_arg;

/*
 * Sender and receiver on a fresh hub, one of them (@move) migrated to a
 * destination started beside them. @opts (vpmd options) go to both guests.
 */
static void migrate_under_traffic(const char *what, enum move move, const char *opts)
{
	bool move_recv = move == MOVE_RECV, stall = move == MOVE_SEND_STALLED;
	struct vp recv, send, dst, *src, *peer, *sender;
	char hub[96], net_recv[160], net_send[160], uri[128];
	char cmd_recv[256], cmd_send[256], *out;
	double total = 0, down = 0, mb = 0, t0, seen_exit;
	const char *elf = vlab_payload(NET_COUNT_ELF), *s;
	unsigned int sent_before = 0, ms_before = 0, rate;
	int rounds = 0;

	test_begin();
	snprintf(hub, sizeof(hub), "%s/hub", vp_tdir);
	snprintf(uri, sizeof(uri), "unix:%s/mig.sock", vp_tdir);
	snprintf(net_recv, sizeof(net_recv), "hub=%s,mac=" MAC_RECV "%s", hub,
		 move_recv ? moved_suffix : "");
	snprintf(net_send, sizeof(net_send), "hub=%s,mac=" MAC_SEND "%s", hub,
		 move_recv ? "" : moved_suffix);
	snprintf(cmd_recv, sizeof(cmd_recv), "role=recv " STREAM " %s %s %s",
		 move_recv ? "moved=1" : "", opts, move_recv ? moved_cmd : "");
	snprintf(cmd_send, sizeof(cmd_send), "role=send peer=" MAC_RECV " " STREAM " %s %s %s",
		 move_recv ? "gate=peer" : "gate=self moved=1", opts, move_recv ? "" : moved_cmd);

	vp_start(&recv, "recv", (const char *const []){ "--kernel", elf, "--mem", "64M",
			move_recv ? moved_opt : "--net", net_recv, "--cmdline", cmd_recv, NULL });
	vp_start(&send, "send", (const char *const []){ "--kernel", elf, "--mem", "64M",
			move_recv ? "--net" : moved_opt, net_send, "--cmdline", cmd_send, NULL });
	src = move_recv ? &recv : &send;
	peer = move_recv ? &send : &recv;
	/* The same --mem, --cpus and NIC (MAC included) as the source. */
	vp_start(&dst, "dst", (const char *const []){ "--incoming", uri, "--mem", "64M",
			moved_opt, move_recv ? net_recv : net_send, NULL });
	/* Where the sender's guest runs at the end. */
	sender = move_recv ? &send : &dst;

	vp_check(vp_wait_file_has(&send, send.con, "net_count: send: streaming", UP_TIMEOUT),
		   "%s: the sender never started streaming", what);
	vp_check(vp_dest_waiting(&dst, UP_TIMEOUT), "%s: the destination is not waiting", what);
	/* About 2000 frames into the stream. */
	usleep(1000000);
	if (stall) {
		vp_check(VP_CTL(&recv, "pause") == 0, "%s: pause: %s", what, vp_ctl_out);
		usleep(STALL_US);
	}

	t0 = vlab__now();
	vp_check(vp_migrate(src, uri, moved_mig_arg, NULL) == 0, "%s: migrate: %s", what,
		   vp_ctl_out);

	/* The source lets go of its guest at the switch and ends. */
	vp_check(vp_wait_until(src, t0 + 20) == 0, "%s: source exit status %d", what,
		   src->status);
	seen_exit = vlab__now();
	if (stall)
		vp_check(VP_CTL(&recv, "resume") == 0, "%s: resume: %s", what, vp_ctl_out);
	ck_file_has(src, out, "guest migrated");
	if (moved_log)
		ck_file_has(src, out, moved_log);
	vp_check(vp_migrate_done(src, &total, &down, &mb, &rounds),
		   "%s: no \"migrate: done\" line", what);
	printf("%s: migrated in %.0f ms, downtime %.1f ms, %.1f MB, %d round(s); "
	       "the source ended %.0f ms after the request\n", what, total, down, mb, rounds,
	       (seen_exit - t0) * 1e3);
	if (stall)
		vp_check(down < STALL_DOWNTIME_MS,
			   "%s: downtime %.1f ms: stop-and-copy waited for a stalled TX queue",
			   what, down);

	vp_check(vp_wait_until(&dst, seen_exit + END_TIMEOUT) == 0,
		   "%s: destination exit status %d", what, dst.status);
	vp_check(vp_wait_until(peer, seen_exit + END_TIMEOUT) == 0,
		   "%s: %s exit status %d", what, peer->name, peer->status);
	ck_file_has(&dst, out, "incoming: ");
	ck_file_has(&dst, con, "payload: net_count ok");
	ck_file_has(peer, con, "payload: net_count ok");
	ck_file_has(&dst, con, "announced the move and acked STATUS_ANNOUNCE");
	ck_file_has(move_recv ? &dst : &recv, con, " 0 duplicates, 0 bad");
	if (move_recv)
		ck_file_has(&dst, con, "frames taken from the RX ring after the move");

	out = vlab__slurp(sender->con);
	s = strstr(out, "net_count: send: switch seen after ");
	vp_check(s && sscanf(s, "net_count: send: switch seen after %u frames, %u ms in",
			       &sent_before, &ms_before) == 2 && ms_before > 0,
		   "%s: the sender did not say when it saw the switch", what);
	free(out);
	rate = sent_before * 1000 / ms_before;
	printf("%s: %u frames in the %u ms before the switch: %u frames/s\n", what, sent_before,
	       ms_before, rate);
	/*
	 * Steady until the switch: a hub endpoint nobody reads (say, the
	 * destination's before it runs) holds every sender to one frame per
	 * HUB_WAIT_MS, 200/s.
	 */
	if (!stall)
		vp_check(rate >= RATE / 4, "%s: the sender managed %u frames/s of %u before the switch",
			   what, rate, RATE);

	echo_lines(&recv, "net_count: ");
	echo_lines(&send, "net_count: send: ");
	echo_lines(&dst, "net_count: ");
	test_end();
}

/* The same pair without a migration: the counting itself is right. */
START_TEST(test_no_migration)
{
	struct vp recv, send;
	char hub[96], net_recv[160], net_send[160];
	const char *elf;
	double deadline;

	VLAB_SKIP_UNLESS_RUNNABLE();
	elf = vlab_payload(NET_COUNT_ELF);
	test_begin();
	snprintf(hub, sizeof(hub), "%s/hub", vp_tdir);
	snprintf(net_recv, sizeof(net_recv), "hub=%s,mac=" MAC_RECV, hub);
	snprintf(net_send, sizeof(net_send), "hub=%s,mac=" MAC_SEND, hub);
	vp_start(&recv, "recv", (const char *const []){ "--kernel", elf, "--mem", "64M",
			"--net", net_recv, "--cmdline",
			"role=recv count=4000 tail=500 rate=2000 timeout=30", NULL });
	vp_start(&send, "send", (const char *const []){ "--kernel", elf, "--mem", "64M",
			"--net", net_send, "--cmdline",
			"role=send peer=" MAC_RECV " count=4000 tail=500 rate=2000 timeout=30 gate=none",
			NULL });
	deadline = vlab__now() + END_TIMEOUT;
	vp_check(vp_wait_until(&send, deadline) == 0, "sender exit status %d", send.status);
	vp_check(vp_wait_until(&recv, deadline) == 0, "receiver exit status %d",
		      recv.status);
	ck_file_has(&recv, con, " 0 duplicates, 0 bad");
	ck_file_has(&recv, con, "payload: net_count ok");
	ck_file_has(&send, con, "payload: net_count ok");
	printf("no migration:\n");
	echo_lines(&recv, "net_count: recv: ");
	echo_lines(&send, "net_count: send: ");
	test_end();
}
END_TEST

START_TEST(test_migrate_receiver)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	migrate_under_traffic("receiver moves (split ring)", MOVE_RECV, "ring=split");
}
END_TEST

START_TEST(test_migrate_receiver_packed)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	migrate_under_traffic("receiver moves (packed ring)", MOVE_RECV, "ring=packed");
}
END_TEST

START_TEST(test_migrate_sender)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	migrate_under_traffic("sender moves (split ring)", MOVE_SEND, "ring=split");
}
END_TEST

START_TEST(test_migrate_sender_stalled)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	migrate_under_traffic("sender moves, receiver paused", MOVE_SEND_STALLED, "ring=split");
}
END_TEST

/*
 * The same with the moved guest on a simulated vDPA NIC (model=full, for
 * GUEST_ANNOUNCE): the data path goes through shadow virtqueues during
 * the migration and starts from the carried ring bases at the
 * destination. Every frame counted once, the tail flowing after the move,
 * the announcement raised by the destination's front end and acked, and
 * the device's count (DEVICE_STATS, the source device's carried over)
 * equal to what the driver took. The shadows run on a thread per queue
 * pair or all on one, and kick the device by its doorbell or by eventfd;
 * pre-copy is slowed so that frames flow through them for a while.
 */
static void vdpa_moves(const char *what, enum move move, const char *opts, const char *svq)
{
	static char suffix[96];

	snprintf(suffix, sizeof(suffix), ",model=full,fw-scale=0%s%s", *svq ? "," : "", svq);
	moved_opt = "--vdpa";
	moved_suffix = suffix;
	moved_cmd = "";
	moved_log = strstr(svq, "no-doorbell") ? "kicks by eventfd" : "kicks by doorbell";
	/* 2 MB/s: pre-copy takes ~0.4 s, some 800 frames through the shadows. */
	moved_mig_arg = "max_bandwidth=2000000";
	migrate_under_traffic(what, move, opts);
}

START_TEST(test_vdpa_receiver)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	vdpa_moves("vdpa receiver moves", MOVE_RECV, "ring=split", "");
}
END_TEST

START_TEST(test_vdpa_sender_packed)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	vdpa_moves("vdpa sender moves, packed", MOVE_SEND, "ring=packed", "");
}
END_TEST

START_TEST(test_vdpa_receiver_packed_one_thread_eventfd)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	vdpa_moves("vdpa receiver moves, packed, one SVQ thread, eventfd kicks", MOVE_RECV,
		   "ring=packed", "svq-threads=one,no-doorbell");
}
END_TEST

START_TEST(test_vdpa_sender_one_thread)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	vdpa_moves("vdpa sender moves, one SVQ thread", MOVE_SEND, "ring=split",
		   "svq-threads=one");
}
END_TEST

START_TEST(test_vdpa_receiver_eventfd)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	vdpa_moves("vdpa receiver moves, eventfd kicks", MOVE_RECV, "ring=split", "no-doorbell");
}
END_TEST

VLAB_SUITE_MAIN("migrate_net", "hub", NULL, NULL, TEST_TIMEOUT,
	test_no_migration, test_migrate_receiver, test_migrate_receiver_packed,
	test_migrate_sender, test_migrate_sender_stalled, test_vdpa_receiver,
	test_vdpa_sender_packed, test_vdpa_receiver_packed_one_thread_eventfd,
	test_vdpa_sender_one_thread, test_vdpa_receiver_eventfd);
