// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net under real KVM, driven by the payload kit's polling driver
 * (guest/payload/virtio_pmd.c) through MMIO exits and ioeventfd doorbells:
 *
 * - ping/pong: two vlab processes on a fresh hub directory exchange
 *   frames; every echo is checked (split, packed, and packed with
 *   mergeable receive buffers small enough that each frame spans several);
 * - net_cvq: every control command the driver uses and the receive filter
 *   it implies, through --net loop;
 * - net_evil: a descriptor loop and an out-of-RAM buffer must give
 *   DEVICE_NEEDS_RESET, and a reset must bring the device back.
 */
#include <dirent.h>
#include <check.h>

#include "check_main.h"
#include "vlab_run.h"

/*
 * vlab is killed after this; the payloads give up on their own earlier
 * (timeout=20). A passing test takes well under a second on an idle
 * 2-CPU host; with two CPU hogs beside it, ping/pong of 500 frames takes
 * about 7 s (both vCPUs poll, so device threads wait for a CPU).
 */
#define RUN_TIMEOUT	40
#define PAYLOAD_GIVE_UP	"timeout=20"
#define MAC_PING	"52:54:00:00:10:01"
#define MAC_PONG	"52:54:00:00:10:02"

static void payload_elf(char *buf, size_t len, const char *name)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "payloads/%s.elf", name);
	vlab_build_path(buf, len, rel);
	ck_assert_msg(!access(buf, R_OK), "%s: %s (run make payloads)", buf,
		      strerror(errno));
}

/* Did @r end well and say all of @expect? Dumps it for the log if not. */
static bool check_result(const struct vlab_result *r, const char *what,
			 const char *const expect[])
{
	bool ok = true;
	int i;

	if (r->timed_out) {
		fprintf(stderr, "%s: killed (timeout or failed peer)\n", what);
		ok = false;
	} else if (r->status != 0) {
		fprintf(stderr, "%s: exit status %d signal %d\n", what, r->status,
			r->signal);
		ok = false;
	}
	for (i = 0; expect[i]; i++) {
		if (!strstr(r->console, expect[i])) {
			fprintf(stderr, "%s: console lacks \"%s\"\n", what, expect[i]);
			ok = false;
		}
	}
	if (!ok)
		vlab_result_dump(r, what);
	return ok;
}

/* A fresh hub directory, removed with whatever sockets are left in it. */
static void hub_remove(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dh = opendir(dir);

	if (dh) {
		while ((d = readdir(dh))) {
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
			unlink(path);
		}
		closedir(dh);
	}
	rmdir(dir);
}

/*
 * Ping and pong on one hub. @opts (vpmd options) go to both guests,
 * @ping_opts only to the pinger, whose NIC is @ping_kind ("--net", or
 * "--vdpa" with @ping_nic_opts) while the ponger always has a virtio-net.
 */
static void pingpong_on(const char *what, unsigned int count, const char *opts,
			const char *ping_opts, const char *ping_kind, const char *ping_nic_opts)
{
	char elf[PATH_MAX], hub[] = "/tmp/vlab-hub-XXXXXX";
	char net_ping[PATH_MAX], net_pong[PATH_MAX];
	char cmd_ping[512], cmd_pong[512], want_echoes[64], name[2][64];
	struct vlab_result r[2];
	bool ok;

	payload_elf(elf, sizeof(elf), "net_pmd");
	ck_assert_msg(mkdtemp(hub), "mkdtemp: %s", strerror(errno));
	snprintf(net_ping, sizeof(net_ping), "hub=%s,mac=" MAC_PING "%s", hub, ping_nic_opts);
	snprintf(net_pong, sizeof(net_pong), "hub=%s,mac=" MAC_PONG, hub);
	snprintf(cmd_ping, sizeof(cmd_ping),
		 "role=ping peer=" MAC_PONG " count=%u " PAYLOAD_GIVE_UP " %s %s",
		 count, opts, ping_opts);
	snprintf(cmd_pong, sizeof(cmd_pong),
		 "role=pong count=%u " PAYLOAD_GIVE_UP " %s", count, opts);
	snprintf(want_echoes, sizeof(want_echoes), "net_pmd: ping: %u/%u echoes ok",
		 count, count);
	snprintf(name[0], sizeof(name[0]), "%s pong", what);
	snprintf(name[1], sizeof(name[1]), "%s ping", what);

	/* Pong first: the pinger's warm-up waits for it anyway. */
	vlab_run_pair(r, RUN_TIMEOUT,
		      (const char *[]){ "--kernel", elf, "--mem", "64M",
					"--net", net_pong, "--cmdline", cmd_pong, NULL },
		      (const char *[]){ "--kernel", elf, "--mem", "64M",
					ping_kind, net_ping, "--cmdline", cmd_ping, NULL });
	hub_remove(hub);

	ok = check_result(&r[0], name[0], (const char *const[]){
				"net_pmd: pong: echoed ", "payload: net_pmd ok", NULL });
	ok &= check_result(&r[1], name[1], (const char *const[]){
				want_echoes, " 0 bad", "payload: net_pmd ok", NULL });
	printf("%s:\n", what);
	vlab_console_echo(&r[1], "net_pmd: ping: ");
	vlab_console_echo(&r[0], "net_pmd: pong: echoed");
	printf("%s: vlab ran %.2f s and %.2f s\n", what, r[0].seconds, r[1].seconds);
	vlab_result_free(&r[0]);
	vlab_result_free(&r[1]);
	ck_assert_msg(ok, "%s: see the log above", what);
}

static void pingpong(const char *what, unsigned int count, const char *opts,
		     const char *ping_opts)
{
	pingpong_on(what, count, opts, ping_opts, "--net", "");
}

/* One guest with NIC @kind @spec (on the loop backend) running @payload with @cmdline. */
static void loop_payload_on(const char *what, const char *payload, const char *cmdline,
			    const char *const expect[], const char *echo, const char *kind,
			    const char *spec)
{
	char elf[PATH_MAX];
	struct vlab_result r;
	bool ok;

	payload_elf(elf, sizeof(elf), payload);
	ck_assert_msg(!vlab_run(&r, RUN_TIMEOUT,
				(const char *[]){ "--kernel", elf, "--mem", "64M",
						  kind, spec, "--cmdline", cmdline,
						  NULL }),
		      "%s: cannot run vlab", what);
	ok = check_result(&r, what, expect);
	printf("%s:\n", what);
	vlab_console_echo(&r, echo);
	printf("%s: vlab ran %.2f s\n", what, r.seconds);
	vlab_result_free(&r);
	ck_assert_msg(ok, "%s: see the log above", what);
}

static void loop_payload(const char *what, const char *payload, const char *cmdline,
			 const char *const expect[], const char *echo)
{
	loop_payload_on(what, payload, cmdline, expect, echo, "--net", "loop");
}

START_TEST(test_pingpong_split)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	pingpong("pingpong split", 500, "ring=split", "");
}
END_TEST

/*
 * The pinger's NIC is the simulated vDPA NIC in passthrough (firmware
 * times not waited for): its own thread moves the frames between the
 * guest's rings and the hub, where a virtio-net guest answers.
 */
START_TEST(test_vdpa_pingpong_split)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	pingpong_on("vdpa pingpong split", 500, "ring=split", "", "--vdpa", ",fw-scale=0");
}
END_TEST

START_TEST(test_vdpa_pingpong_packed)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	pingpong_on("vdpa pingpong packed", 500, "ring=packed", "", "--vdpa",
		    ",model=full,fw-scale=0");
}
END_TEST

START_TEST(test_pingpong_packed)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	pingpong("pingpong packed", 500, "ring=packed", "");
}
END_TEST

/*
 * 1038-byte frames into 256-byte receive buffers: every frame is merged
 * from five buffers on both sides; 64-entry rings wrap many times, and a
 * window of 8 keeps several frames in flight. (The hub's unix sockets
 * hold 10 datagrams by default, net.unix.max_dgram_qlen, so a wider
 * window mostly measures drops.)
 */
START_TEST(test_pingpong_mrg)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	pingpong("pingpong packed mrg", 1000,
		 "ring=packed qsize=64 mrg=on rxbuf=256", "size=1000 window=8");
}
END_TEST

static const char *const cvq_expect[] = {
	"net_cvq: RX PROMISC off: OK",
	"net_cvq: promisc off: foreign dropped, own in, bcast in, group dropped, vlan100 dropped",
	"net_cvq: mac table: foreign in, foreign2 dropped, group in, group2 dropped",
	"net_cvq: nobcast: bcast dropped",
	"net_cvq: new station address: old-mac dropped, new-mac in",
	"net_cvq: vlan 100 added: vlan100 in, vlan200 dropped, untagged in",
	"net_cvq: MAC TABLE_SET counting 1000 entries in 12 bytes: ERR",
	"net_cvq: after malformed: foreign dropped, own in",
	" checks, 0 failed",
	"payload: net_cvq ok",
	NULL
};

START_TEST(test_cvq_split)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	loop_payload("net_cvq split", "net_cvq", "ring=split", cvq_expect,
		     "net_cvq: ");
}
END_TEST

START_TEST(test_cvq_packed)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	loop_payload("net_cvq packed", "net_cvq", "ring=packed", cvq_expect,
		     "net_cvq: ");
}
END_TEST

static const char *const evil_expect[] = {
	"net_evil: before: round trip ok",
	"net_evil: descriptor loop: DEVICE_NEEDS_RESET",
	"net_evil: after loop + reset: round trip ok",
	"net_evil: address outside RAM: DEVICE_NEEDS_RESET",
	"net_evil: features without VERSION_1 refused",
	"net_evil: after bad address + reset: round trip ok",
	"net_evil: final: round trip ok",
	"payload: net_evil ok",
	NULL
};

/* 64 entries: below the device's segment limit, so its loop detector fires. */
START_TEST(test_evil_split)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	loop_payload("net_evil split", "net_evil", "ring=split qsize=64", evil_expect,
		     "net_evil: ");
}
END_TEST

START_TEST(test_evil_packed)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	loop_payload("net_evil packed", "net_evil", "ring=packed", evil_expect,
		     "net_evil: ");
}
END_TEST

/*
 * The same hostile driver on the simulated vDPA NIC: the fault is the
 * device's (its vq object goes to ERR); it reports NEEDS_RESET through
 * its config eventfd and vlab passes it on to the guest, which resets.
 */
START_TEST(test_vdpa_evil_split)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	loop_payload_on("vdpa net_evil split", "net_evil", "ring=split qsize=64", evil_expect,
			"net_evil: ", "--vdpa", "loop,model=full,fw-scale=0");
}
END_TEST

START_TEST(test_vdpa_evil_packed)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	loop_payload_on("vdpa net_evil packed", "net_evil", "ring=packed", evil_expect,
			"net_evil: ", "--vdpa", "loop,model=full,fw-scale=0");
}
END_TEST

/* Every control-queue class through the shadowed CVQ, checked on the receive filter. */
START_TEST(test_vdpa_cvq)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	loop_payload_on("vdpa net_cvq split", "net_cvq", "ring=split", cvq_expect, "net_cvq: ",
			"--vdpa", "loop,model=full,fw-scale=0");
}
END_TEST

/*
 * pcap=FILE on --net and --vdpa: the net_dma guest's frames through the
 * loop backend, each written when sent and when received, in a file whose
 * every record is one of its frames (ethertype 0x88b5, lengths whole),
 * and which tshark reads, frame for frame, when it is installed (CI
 * installs it).
 */
static void capture_on(const char *kind, const char *spec_fmt)
{
	char elf[PATH_MAX], path[PATH_MAX], spec[PATH_MAX + 64], cmd[PATH_MAX + 64];
	unsigned long frames = 0, records = 0;
	struct vlab_result r;
	uint32_t hdr[6], rec[4];
	uint8_t buf[2048];
	const char *line;
	FILE *f;

	payload_elf(elf, sizeof(elf), "net_dma");
	snprintf(path, sizeof(path), "/tmp/vlab-pcap-%d-%s.pcap", (int)getpid(), kind + 2);
	snprintf(spec, sizeof(spec), spec_fmt, path);
	ck_assert_msg(!vlab_run(&r, RUN_TIMEOUT, (const char *[]){ "--kernel", elf, "--mem", "64M",
								  kind, spec, "--cmdline", "secs=1",
								  NULL }),
		      "%s: cannot run vlab", kind);
	line = strstr(r.console, "net_dma: ");
	while (line && sscanf(line, "net_dma: %lu frames", &frames) != 1)
		line = strstr(line + 1, "net_dma: ");
	vlab_result_free(&r);
	ck_assert_msg(frames > 100, "%s: the guest sent %lu frames", kind, frames);
	f = fopen(path, "rb");
	ck_assert_msg(f, "%s: no capture at %s", kind, path);
	ck_assert_uint_eq(fread(hdr, 4, 6, f), 6);
	ck_assert_uint_eq(hdr[0], 0xa1b2c3d4);
	ck_assert_uint_eq(hdr[1], 2 | 4u << 16);
	ck_assert_uint_eq(hdr[5], 1);
	while (fread(rec, 4, 4, f) == 4) {
		ck_assert_uint_eq(rec[2], rec[3]);
		ck_assert_msg(rec[2] >= 14 && rec[2] <= sizeof(buf), "record of %u bytes", rec[2]);
		ck_assert_uint_eq(fread(buf, 1, rec[2], f), rec[2]);
		ck_assert_msg(buf[12] == 0x88 && buf[13] == 0xb5, "record %lu: ethertype %02x%02x",
			      records, buf[12], buf[13]);
		records++;
	}
	fclose(f);
	/* Each frame sent is captured going out, and coming back unless lost. */
	ck_assert_msg(records >= frames && records <= 4 * frames, "%s: %lu records for %lu frames",
		      kind, records, frames);
	printf("%s: %lu frames, %lu records in %s\n", kind, frames, records, path);
	if (access("/usr/bin/tshark", X_OK) == 0) {
		unsigned long n = 0;
		FILE *t;

		snprintf(cmd, sizeof(cmd), "/usr/bin/tshark -r '%s' -T fields -e frame.len 2>/dev/null",
			 path);
		t = popen(cmd, "r");
		ck_assert_ptr_nonnull(t);
		while (fgets((char *)buf, sizeof(buf), t))
			n++;
		ck_assert_int_eq(pclose(t), 0);
		ck_assert_msg(n == records, "tshark read %lu frames of %lu", n, records);
		printf("%s: tshark read all %lu\n", kind, n);
	} else {
		printf("%s: tshark not installed: the file was checked here only\n", kind);
	}
	unlink(path);
}

START_TEST(test_pcap_capture)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	capture_on("--net", "loop,pcap=%s");
	capture_on("--vdpa", "loop,fw-scale=0,pcap=%s");
}
END_TEST

/*
 * role=blast (make bench-net's transmit rate) into --net null with a
 * capture: every frame reaches the backend exactly once and intact (the
 * device hands the backend guest memory itself, no copy of its own), with
 * the worker polling the queue (poll-us, the default) and without.
 */
static void blast_on(const char *poll)
{
	char elf[PATH_MAX], path[PATH_MAX], spec[PATH_MAX + 64];
	unsigned long records = 0;
	uint32_t hdr[6], rec[4];
	struct vlab_result r;
	uint8_t buf[2048];
	bool ok;
	FILE *f;

	payload_elf(elf, sizeof(elf), "net_pmd");
	snprintf(path, sizeof(path), "/tmp/vlab-blast-%d.pcap", (int)getpid());
	snprintf(spec, sizeof(spec), "null,mac=" MAC_PING ",pcap=%s,poll-us=%s", path, poll);
	ck_assert_msg(!vlab_run(&r, RUN_TIMEOUT, (const char *[]){ "--kernel", elf, "--mem", "64M",
		      "--net", spec, "--cmdline",
		      "role=blast peer=" MAC_PONG " count=5000 size=26 burst=32", NULL }),
		      "cannot run vlab");
	ok = check_result(&r, "blast", (const char *const []){
		"net_pmd: blast: 5000 frames in ", "payload: net_pmd ok", NULL });
	vlab_console_echo(&r, "net_pmd: blast: ");
	vlab_result_free(&r);
	ck_assert_msg(ok, "blast with poll-us=%s failed", poll);
	f = fopen(path, "rb");
	ck_assert_msg(f, "no capture at %s", path);
	ck_assert_uint_eq(fread(hdr, 4, 6, f), 6);
	while (fread(rec, 4, 4, f) == 4) {
		ck_assert_uint_eq(rec[2], 64);
		ck_assert_uint_eq(fread(buf, 1, rec[2], f), rec[2]);
		ck_assert_msg(!memcmp(buf, "\x52\x54\x00\x00\x10\x02\x52\x54\x00\x00\x10\x01", 12) &&
			      buf[12] == 0x88 && buf[13] == 0xb5,
			      "record %lu: not the blast frame", records);
		records++;
	}
	fclose(f);
	unlink(path);
	ck_assert_msg(records == 5000, "poll-us=%s: %lu frames captured of 5000", poll, records);
}

START_TEST(test_blast_null)
{
	VLAB_SKIP_UNLESS_RUNNABLE();
	blast_on("50");
	blast_on("0");
}
END_TEST

static Suite *virtio_net_suite(void)
{
	Suite *s = suite_create("virtio_net");
	TCase *tc = tcase_create("pmd");

	/* Each run has its own deadline; leave Check room above it. */
	tcase_set_timeout(tc, RUN_TIMEOUT + 15);
	tcase_add_test(tc, test_pingpong_split);
	tcase_add_test(tc, test_pingpong_packed);
	tcase_add_test(tc, test_vdpa_pingpong_split);
	tcase_add_test(tc, test_vdpa_pingpong_packed);
	tcase_add_test(tc, test_pingpong_mrg);
	tcase_add_test(tc, test_cvq_split);
	tcase_add_test(tc, test_cvq_packed);
	tcase_add_test(tc, test_evil_split);
	tcase_add_test(tc, test_evil_packed);
	tcase_add_test(tc, test_vdpa_evil_split);
	tcase_add_test(tc, test_pcap_capture);
	tcase_add_test(tc, test_blast_null);
	tcase_add_test(tc, test_vdpa_evil_packed);
	tcase_add_test(tc, test_vdpa_cvq);
	suite_add_tcase(s, tc);
	return s;
}

VLAB_TEST_MAIN(virtio_net_suite)
