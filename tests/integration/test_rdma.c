// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-rdma under KVM: two vlab processes, each a guest with a NIC on a
 * shared hub and `--rdma net=0` on it, run the rdma_rc payload (a CPL3
 * driver, guest/payload/rdma_rc.c): an RC connection between their QPs 2
 * carries SENDs, 64 KiB RDMA WRITEs both ways, a zero-length
 * WRITE_WITH_IMM, a 64 KiB RDMA READ and 100 FETCH_ADDs, every byte and
 * every original value checked in guest memory. The client's NIC captures
 * its wire (pcap=): every frame in the file is RoCEv2, and tshark (when
 * installed; CI installs it) decodes them all as RRoCE with the opcodes
 * the exchange needs.
 *
 * A hostile driver (guest/payload/rdma_evil.c, one guest whose QP talks
 * to itself over a looping NIC) gets each bad control request refused
 * with its errno, each bad work request an error completion, a short
 * completion buffer and a descriptor outside RAM a device that wants a
 * reset, and a working device after each reset; the VMM runs on.
 *
 * Either guest migrated mid-stream (the device's QPs, MRs, CQs and
 * outstanding work moved, pre-copy tracking what the device writes):
 * every round of traffic right on both sides.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "vlab_run.h"

#define UP_TIMEOUT	30
#define RUN_TIMEOUT	60
#define MAC_S		"52:54:00:00:40:01"
#define MAC_C		"52:54:00:00:40:02"

static bool test_done;

/* At exit, passed or not: kill what runs, dump logs if the test failed. */
static void cleanup(void)
{
	vp_cleanup(!test_done);
}


/* The source's "migrate: done" line, for the log. */
static void echo_migration(const struct vp *p)
{
	double total = 0, down = 0, mb = 0;
	int rounds = 0;

	if (vp_migrate_done(p, &total, &down, &mb, &rounds))
		printf("rdma: %s migrated in %.0f ms, downtime %.1f ms, %.1f MB, %d round(s)\n",
		       p->name, total, down, mb, rounds);
}

/* How many lines of `tshark -r @pcap @args` output contain @needle. */
static unsigned long tshark_count(const char *pcap, const char *args, const char *needle)
{
	char cmd[PATH_MAX + 256], line[512];
	unsigned long n = 0;
	FILE *t;

	snprintf(cmd, sizeof(cmd), "/usr/bin/tshark -r '%s' %s 2>/dev/null", pcap, args);
	t = popen(cmd, "r");
	ck_assert_ptr_nonnull(t);
	while (fgets(line, sizeof(line), t))
		if (!needle || strstr(line, needle))
			n++;
	ck_assert_int_eq(pclose(t), 0);
	return n;
}

START_TEST(test_rdma_rc_between_two_guests)
{
	char hub[96], net_s[192], net_c[192], pcap[128];
	const char *elf;
	struct vp s, c;
	unsigned long frames, roce;

	VLAB_SKIP_UNLESS_RUNNABLE();
	elf = vlab_payload("payloads/rdma_rc.elf");
	vlab_tdir_create("vlab-rdma");
	test_done = false;
	atexit(cleanup);
	snprintf(hub, sizeof(hub), "%s/hub", vp_tdir);
	snprintf(pcap, sizeof(pcap), "%s/client.pcap", vp_tdir);
	snprintf(net_s, sizeof(net_s), "hub=%s,mac=" MAC_S, hub);
	snprintf(net_c, sizeof(net_c), "hub=%s,mac=" MAC_C ",pcap=%s", hub, pcap);
	/* A 4096-byte path MTU (make bench-rdma BENCH_MTU=4096); the other tests keep 1024. */
	vp_start(&s, "server", (const char *const []){ "--kernel", elf, "--mem", "64M",
			"--net", net_s, "--rdma", "net=0", "--cmdline",
			"role=server ip=10.0.0.1 peer_ip=10.0.0.2 peer_mac=" MAC_C " mtu=4096", NULL });
	vp_check(vp_wait_file_has(&s, s.con, "rdma_rc: server ready", UP_TIMEOUT),
		   "the server did not come up");
	/* The device's order on the command line does not matter: --rdma first here. */
	vp_start(&c, "client", (const char *const []){ "--kernel", elf, "--mem", "64M",
			"--rdma", "net=0", "--net", net_c, "--cmdline",
			"role=client ip=10.0.0.2 peer_ip=10.0.0.1 peer_mac=" MAC_S " mtu=4096 bench=10",
			NULL });
	vp_check(vp_wait(&c, RUN_TIMEOUT) == 0, "client exit status %d", c.status);
	vp_check(vp_wait(&s, RUN_TIMEOUT) == 0, "server exit status %d", s.status);
	vp_check(vlab_file_has(c.con, "rdma_rc: RDMA READ: 65536 bytes right") &&
		   vlab_file_has(c.con, "the server's RDMA WRITE: 65536 bytes right") &&
		   vlab_file_has(c.con, "100 FETCH_ADDs, each original value once") &&
		   /* make bench-rdma's lines, and its WRITEs' bytes read back */
		   vlab_file_has(c.con, "rdma_rc: bench write 64 bytes: p50 ") &&
		   vlab_file_has(c.con, "rdma_rc: bench write 4096 bytes: p50 ") &&
		   vlab_file_has(c.con, "rdma_rc: bench write 65536 bytes: p50 ") &&
		   /* the halted stream: completions and control answers by interrupt */
		   vlab_file_has(c.con, "rdma_rc: bench write-waiting 65536 bytes: ") &&
		   vlab_file_has(c.con, "the bench's WRITEs read back: 65536 bytes right") &&
		   vlab_file_has(c.con, "payload: rdma_rc ok"), "the client's checks");
	vp_check(vlab_file_has(s.con, "the client's RDMA WRITE: 65536 bytes right") &&
		   vlab_file_has(s.con, "payload: rdma_rc ok"), "the server's checks");
	if (access("/usr/bin/tshark", X_OK) == 0) {
		frames = tshark_count(pcap, "-T fields -e frame.number", NULL);
		roce = tshark_count(pcap, "-Y infiniband -T fields -e frame.number", NULL);
		printf("rdma: %lu frames captured, %lu of them RoCEv2\n", frames, roce);
		vp_check(frames > 300 && roce == frames, "%lu frames, %lu RoCEv2", frames, roce);
		/* tshark's names for the opcodes the exchange used. */
		vp_check(tshark_count(pcap, "", "RC Send Only") >= 4 &&
			   tshark_count(pcap, "", "RC RDMA Write First") >= 2 &&
			   tshark_count(pcap, "", "RC RDMA Write Only Immediate") == 1 &&
			   tshark_count(pcap, "", "RC RDMA Read Request") >= 2 &&
			   tshark_count(pcap, "", "RC RDMA Read Response First") >= 1 &&
			   tshark_count(pcap, "", "RC Fetch Add") == 100 &&
			   tshark_count(pcap, "", "RC Atomic Acknowledge") == 100,
			   "tshark does not see the exchange's opcodes");
	} else {
		printf("rdma: tshark not installed; the capture was not decoded\n");
	}
	test_done = true;
	cleanup();
}
END_TEST

/*
 * One of the two guests is live-migrated in the middle of a stream of
 * rounds (the client WRITEs 64 KiB into the server's MR, READs it back
 * and FETCH_ADDs a counter there, each checked), pre-copy slowed to 2 MB/s
 * so that the device keeps writing guest memory through several rounds
 * of it. The migrated guest's QPs, MR keys and outstanding work go with
 * it: every round right, the counter exact, both guests end well. The
 * rounds go on until the migration is over (a fixed number of them could
 * end first on a fast enough machine, and nothing would have moved).
 */
static void migrate_mid_stream(bool move_client, unsigned int rounds)
{
	char hub[96], net_s[192], net_c[192], uri[128], args_s[192], args_c[192], n[16];
	struct vp s, c, d, *moved;
	const char *elf;
	double t0;

	elf = vlab_payload("payloads/rdma_rc.elf");
	vlab_tdir_create("vlab-rdma");
	test_done = false;
	atexit(cleanup);
	snprintf(hub, sizeof(hub), "%s/hub", vp_tdir);
	snprintf(uri, sizeof(uri), "unix:%s/mig.sock", vp_tdir);
	snprintf(net_s, sizeof(net_s), "hub=%s,mac=" MAC_S, hub);
	snprintf(net_c, sizeof(net_c), "hub=%s,mac=" MAC_C, hub);
	snprintf(args_s, sizeof(args_s),
		 "role=server ip=10.0.0.1 peer_ip=10.0.0.2 peer_mac=" MAC_C);
	snprintf(args_c, sizeof(args_c),
		 "role=client ip=10.0.0.2 peer_ip=10.0.0.1 peer_mac=" MAC_S " until=request");
	vp_start(&s, "server", (const char *const []){ "--kernel", elf, "--mem", "64M",
			"--net", net_s, "--rdma", "net=0", "--cmdline", args_s, NULL });
	vp_check(vp_wait_file_has(&s, s.con, "rdma_rc: server ready", UP_TIMEOUT),
		   "the server did not come up");
	vp_start(&c, "client", (const char *const []){ "--kernel", elf, "--mem", "64M",
			"--net", net_c, "--rdma", "net=0", "--cmdline", args_c, NULL });
	moved = move_client ? &c : &s;
	vp_start(&d, "dst", (const char *const []){ "--incoming", uri, "--mem", "64M",
			"--net", move_client ? net_c : net_s, "--rdma", "net=0", NULL });
	vp_check(vp_dest_waiting(&d, UP_TIMEOUT), "the destination is not waiting");
	snprintf(n, sizeof(n), "round %u\n", rounds);
	vp_check(vp_wait_file_has(&c, c.con, n, RUN_TIMEOUT), "no traffic: %s", n);
	t0 = vlab__now();
	vp_check(vp_migrate(moved, uri, "max_bandwidth=2000000", NULL) == 0, "migrate: %s",
		   vp_ctl_out);
	vp_check(vp_wait_until(moved, t0 + RUN_TIMEOUT) == 0, "the source's exit status %d",
		   moved->status);
	vp_check(vlab_file_has(moved->out, "guest migrated"), "the source did not migrate");
	/* The client's rounds stop when asked, wherever it runs now. */
	vp_check(VP_CTL(move_client ? &d : &c, "test-request", "value=1") == 0,
		   "test-request: %s", vp_ctl_out);
	vp_check(vp_wait(move_client ? &s : &c, 2 * RUN_TIMEOUT) == 0, "the peer's exit status");
	vp_check(vp_wait(&d, RUN_TIMEOUT) == 0, "the destination's exit status %d", d.status);
	vp_check(vlab_file_has(d.con, "payload: rdma_rc ok") &&
		   vlab_file_has(move_client ? s.con : c.con, "payload: rdma_rc ok"),
		   "a guest did not end well");
	vp_check(vlab_file_has(move_client ? d.con : c.con, "rounds of WRITE, READ and "
				 "FETCH_ADD right"), "the rounds were not all right");
	echo_migration(moved);
	test_done = true;
	cleanup();
}

START_TEST(test_rdma_server_migrates_mid_stream)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	migrate_mid_stream(false, 300);
}
END_TEST

START_TEST(test_rdma_client_migrates_mid_stream)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	migrate_mid_stream(true, 300);
}
END_TEST

#define HOPS	20

/* Server and client on a fresh hub, the client's rounds going until asked. */
static void pair_start(struct vp *s, struct vp *c, char *net_s, size_t len, const char *elf)
{
	char hub[96], net_c[192];

	vlab_tdir_create("vlab-rdma");
	test_done = false;
	atexit(cleanup);
	snprintf(hub, sizeof(hub), "%s/hub", vp_tdir);
	snprintf(net_s, len, "hub=%s,mac=" MAC_S, hub);
	snprintf(net_c, sizeof(net_c), "hub=%s,mac=" MAC_C, hub);
	vp_start(s, "server", (const char *const []){ "--kernel", elf, "--mem", "64M",
			"--net", net_s, "--rdma", "net=0", "--cmdline",
			"role=server ip=10.0.0.1 peer_ip=10.0.0.2 peer_mac=" MAC_C, NULL });
	vp_check(vp_wait_file_has(s, s->con, "rdma_rc: server ready", UP_TIMEOUT),
		   "the server did not come up");
	vp_start(c, "client", (const char *const []){ "--kernel", elf, "--mem", "64M",
			"--net", net_c, "--rdma", "net=0", "--cmdline",
			"role=client ip=10.0.0.2 peer_ip=10.0.0.1 peer_mac=" MAC_S " until=request",
			NULL });
	vp_check(vp_wait_file_has(c, c->con, "rdma_rc: round 100\n", RUN_TIMEOUT),
		   "no rounds of traffic");
}

/* Stop the client's rounds; both guests end well, every round right. */
static void pair_finish(struct vp *s, struct vp *c)
{
	const char *r;
	char *con;

	vp_check(VP_CTL(c, "test-request", "value=1") == 0, "test-request: %s", vp_ctl_out);
	vp_check(vp_wait(c, RUN_TIMEOUT) == 0, "the client's exit status %d", c->status);
	vp_check(vp_wait(s, RUN_TIMEOUT) == 0, "the server's exit status %d", s->status);
	vp_check(vlab_file_has(c->con, "payload: rdma_rc ok") &&
		   vlab_file_has(s->con, "payload: rdma_rc ok"), "a guest did not end well");
	con = vlab__slurp(c->con);
	r = strstr(con, "rounds of WRITE, READ and FETCH_ADD right");
	vp_check(r != NULL, "the rounds were not all right");
	while (r > con && r[-1] != '\n')
		r--;
	printf("rdma: %.*s\n", (int)strcspn(r, "\n"), r);
	free(con);
}

/*
 * The server moves 20 times, back and forth between vlab processes, while
 * the client's rounds go on: its QP numbers, keys and memory go with it
 * each time, and every round stays right.
 */
START_TEST(test_rdma_server_hops)
{
	struct vp hops[HOPS + 1], c;
	char net_s[192], uri[128], name[16];
	double down, total, mb, worst = 0;
	int i, rounds;

	VLAB_SKIP_UNLESS_RUNNABLE();
	pair_start(&hops[0], &c, net_s, sizeof(net_s), vlab_payload("payloads/rdma_rc.elf"));
	for (i = 1; i <= HOPS; i++) {
		snprintf(uri, sizeof(uri), "unix:%s/mig-%d.sock", vp_tdir, i);
		snprintf(name, sizeof(name), "hop%02d", i);
		vp_start(&hops[i], name, (const char *const []){ "--incoming", uri, "--mem", "64M",
				"--net", net_s, "--rdma", "net=0", NULL });
		vp_check(vp_dest_waiting(&hops[i], UP_TIMEOUT), "%s is not waiting", name);
		vp_check(vp_migrate(&hops[i - 1], uri, NULL, NULL) == 0, "hop %d: %s", i,
			   vp_ctl_out);
		vp_check(vp_wait(&hops[i - 1], RUN_TIMEOUT) == 0 &&
			   vlab_file_has(hops[i - 1].out, "guest migrated"), "hop %d: the source", i);
		if (vp_migrate_done(&hops[i - 1], &total, &down, &mb, &rounds) && down > worst)
			worst = down;
	}
	printf("rdma: %d hops of the server, worst downtime %.1f ms\n", HOPS, worst);
	pair_finish(&hops[HOPS], &c);
	test_done = true;
	cleanup();
}
END_TEST

/* Wait until @p's migration is no longer active; its raw status into @raw. */
static void migration_over(struct vp *p, char *raw, size_t len)
{
	double deadline = vlab__now() + RUN_TIMEOUT;

	for (;;) {
		vp_check(VP_CTL(p, "--raw", "status") == 0, "status: %s", vp_ctl_out);
		snprintf(raw, len, "%s", vp_ctl_out);
		if (!strstr(raw, "\"active\""))
			return;
		vp_check(vlab__now() < deadline, "%s: the migration is still active", p->name);
		usleep(20000);
	}
}

/*
 * Faults: a migration cancelled in the middle, and one whose destination
 * is killed in the middle (pre-copy slowed to 100 kB/s so that both land
 * in it): the source's guest and its device carry on where they were,
 * and the traffic with the peer with them.
 */
static void migration_fails(bool kill_dst)
{
	char net_s[192], uri[128], raw[4096];
	struct vp s, c, d;

	pair_start(&s, &c, net_s, sizeof(net_s), vlab_payload("payloads/rdma_rc.elf"));
	snprintf(uri, sizeof(uri), "unix:%s/mig.sock", vp_tdir);
	vp_start(&d, "dst", (const char *const []){ "--incoming", uri, "--mem", "64M",
			"--net", net_s, "--rdma", "net=0", NULL });
	vp_check(vp_dest_waiting(&d, UP_TIMEOUT), "the destination is not waiting");
	vp_check(vp_migrate(&s, uri, "max_bandwidth=100000", NULL) == 0, "migrate: %s",
		   vp_ctl_out);
	usleep(500000);
	if (kill_dst)
		vp_kill_now(&d);
	else
		vp_check(VP_CTL(&s, "migrate-cancel") == 0, "migrate-cancel: %s", vp_ctl_out);
	migration_over(&s, raw, sizeof(raw));
	vp_check(strstr(raw, kill_dst ? "\"failed\"" : "\"cancelled\"") &&
		   strstr(raw, "\"running\""), "the source after the fault: %s", raw);
	/* The guest's traffic goes on from the source: more rounds, all right. */
	usleep(300000);
	pair_finish(&s, &c);
	if (!kill_dst)
		vp_kill_now(&d);
	test_done = true;
	cleanup();
}

START_TEST(test_rdma_migration_cancelled)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	migration_fails(false);
}
END_TEST

START_TEST(test_rdma_destination_killed)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	migration_fails(true);
}
END_TEST

/*
 * A destination without the same RDMA configuration refuses the stream,
 * saying what differs (no --rdma at all; another qps=), and the source's
 * guest and traffic carry on.
 */
START_TEST(test_rdma_config_mismatch_refused)
{
	static const struct {
		const char *rdma_opt, *rdma_arg, *says;
	} dsts[] = {
		{ NULL, NULL, "configuration mismatch: the source has 1 --rdma, this vlab 0" },
		{ "--rdma", "net=0,qps=4",
		  "configuration mismatch: RDMA device 0 has net=0 cqs=8 qps=8 at the source" },
	};
	char net_s[192], uri[128], name[16], raw[4096];
	struct vp s, c, d;
	unsigned int i;

	VLAB_SKIP_UNLESS_RUNNABLE();
	pair_start(&s, &c, net_s, sizeof(net_s), vlab_payload("payloads/rdma_rc.elf"));
	for (i = 0; i < sizeof(dsts) / sizeof(dsts[0]); i++) {
		snprintf(uri, sizeof(uri), "unix:%s/mig-%u.sock", vp_tdir, i);
		snprintf(name, sizeof(name), "dst%u", i);
		vp_start(&d, name, (const char *const []){ "--incoming", uri, "--mem", "64M",
				"--net", net_s, dsts[i].rdma_opt, dsts[i].rdma_arg, NULL });
		vp_check(vp_dest_waiting(&d, UP_TIMEOUT), "%s is not waiting", name);
		vp_check(vp_migrate(&s, uri, NULL, NULL) == 0, "migrate: %s", vp_ctl_out);
		vp_check(vp_wait(&d, RUN_TIMEOUT) != 0, "%s took a stream it should refuse", name);
		vp_check(vlab_file_has(d.out, dsts[i].says), "%s does not say \"%s\"", name,
			 dsts[i].says);
		/* The source sees the refusal; the next migration may start after that. */
		migration_over(&s, raw, sizeof(raw));
		vp_check(strstr(raw, "\"failed\"") && strstr(raw, "\"running\""),
			 "the source after a refused migration: %s", raw);
	}
	pair_finish(&s, &c);
	test_done = true;
	cleanup();
}
END_TEST

START_TEST(test_rdma_hostile_driver)
{
	static const char *const expect[] = {
		"rdma_evil: CREATE_CQ of 3 bytes: refused (22)",
		"rdma_evil: command 77: refused (95)",
		"rdma_evil: an MR page outside RAM: refused (22)",
		"rdma_evil: 100000 MR pages in 8 bytes: refused (22)",
		"rdma_evil: destroying the PD in use: refused (16)",
		"rdma_evil: RTS -> INIT: refused (22)",
		"rdma_evil: a key that is nobody's: error completion 4",
		"rdma_evil: an address beyond RAM: error completion 4",
		"rdma_evil: 9 SGEs: error completion 1",
		"rdma_evil: a WRITE across the MR's end: error completion 5",
		"rdma_evil: a READ through the local-only DMA MR: error completion 5",
		"rdma_evil: a completion buffer of 8 bytes: the device wants a reset",
		"rdma_evil: a descriptor outside RAM: the device wants a reset",
		"payload: rdma_evil ok",
	};
	const char *elf;
	unsigned int i;
	struct vp e;

	VLAB_SKIP_UNLESS_RUNNABLE();
	elf = vlab_payload("payloads/rdma_evil.elf");
	vlab_tdir_create("vlab-rdma");
	test_done = false;
	atexit(cleanup);
	vp_start(&e, "evil", (const char *const []){ "--kernel", elf, "--mem", "64M",
			"--net", "loop,mac=52:54:00:00:50:01", "--rdma", "net=0", "--cmdline",
			"mac=52:54:00:00:50:01", NULL });
	vp_check(vp_wait(&e, RUN_TIMEOUT) == 0, "exit status %d", e.status);
	for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
		vp_check(vlab_file_has(e.con, expect[i]), "the console lacks \"%s\"", expect[i]);
	vp_check(vlab_file_has(e.out, "virtio-rdma: device needs reset: a CQ buffer shorter"),
		   "vlab did not say why the device needs a reset");
	test_done = true;
	cleanup();
}
END_TEST

VLAB_SUITE_MAIN("rdma", "kvm", NULL, NULL, 4 * RUN_TIMEOUT + UP_TIMEOUT,
	test_rdma_rc_between_two_guests, test_rdma_hostile_driver,
	test_rdma_server_migrates_mid_stream, test_rdma_client_migrates_mid_stream,
	test_rdma_server_hops, test_rdma_migration_cancelled, test_rdma_destination_killed,
	test_rdma_config_mismatch_refused);
