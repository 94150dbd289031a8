// SPDX-License-Identifier: GPL-2.0
/* --vdpa: the option's grammar and its one-line refusals. */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "devices/vdpa/vdpa_net.h"

START_TEST(parse_good)
{
	struct vdpa_net_conf c;
	char err[256] = "";

	ck_assert_int_eq(vdpa_parse("hub=/tmp/h,model=full,queues=4,mac=52:54:00:00:00:07,"
				    "mtu=9000,fw-scale=0.5,fw-async", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.net.backend, "hub=/tmp/h");
	ck_assert_int_eq(c.model, VDPA_SIM_FULL);
	ck_assert_int_eq(c.net.queue_pairs, 4);
	ck_assert(c.net.mac_set);
	ck_assert_uint_eq(c.net.mac[5], 7);
	ck_assert_int_eq(c.net.mtu, 9000);
	ck_assert(c.fw_scale == 0.5);
	ck_assert(c.fw_async);
	ck_assert(!c.unsafe_migrate);
	/* Defaults: mlx5, one pair, calibrated firmware times, serial. */
	ck_assert_int_eq(vdpa_parse("null", &c, err, sizeof(err)), 0);
	ck_assert_int_eq(c.model, VDPA_SIM_MLX5);
	ck_assert_int_eq(c.net.queue_pairs, 1);
	ck_assert(c.fw_scale == 1.0);
	ck_assert(!c.fw_async);
	/* Every downtime step on unless turned off. */
	ck_assert(!c.switch_reset && !c.no_desc_asid && !c.late_map && !c.no_persist &&
		  !c.no_batch && !c.no_precreate && !c.no_ahead && !c.no_doorbell);
	ck_assert_uint_eq(c.svq_poll_us, 10);
	ck_assert_int_eq(vdpa_parse("null,switch=reset,no-desc-asid,late-map,no-persist,no-batch,"
				    "no-precreate,no-ahead,no-doorbell,svq-poll=0", &c, err,
				    sizeof(err)), 0);
	ck_assert(c.switch_reset && c.no_desc_asid && c.late_map && c.no_persist &&
		  c.no_batch && c.no_precreate && c.no_ahead && c.no_doorbell);
	ck_assert_uint_eq(c.svq_poll_us, 0);
	ck_assert_int_eq(vdpa_parse("null,svq-poll=1000", &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.svq_poll_us, 1000);
	ck_assert_int_eq(vdpa_parse("null,switch=reset,switch=suspend", &c, err, sizeof(err)), 0);
	ck_assert(!c.switch_reset);
	/* Shadowed queues: a thread per pair unless told one. */
	ck_assert(!c.svq_one_thread);
	ck_assert_int_eq(vdpa_parse("null,svq-threads=one", &c, err, sizeof(err)), 0);
	ck_assert(c.svq_one_thread);
}
END_TEST

static void refused(const char *arg, const char *msg)
{
	struct vdpa_net_conf c;
	char err[256] = "";

	ck_assert_int_eq(vdpa_parse(arg, &c, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, msg), "'%s': \"%s\" lacks \"%s\"", arg, err, msg);
}

START_TEST(parse_refused)
{
	refused("null,model=cx7", "--vdpa: unknown option 'model=cx7'");
	refused("null,queues=17", "--vdpa: queues '17' is not 1..16");
	refused("null,switch=fast", "--vdpa: unknown option 'switch=fast'");
	refused("null,svq-threads=4", "--vdpa: unknown option 'svq-threads=4'");
	refused("null,fw-scale=fast", "--vdpa: fw-scale 'fast' is not 0..100");
	refused("null,svq-poll=1001", "--vdpa: svq-poll '1001' is not 0..1000 (microseconds)");
	refused("null,svq-poll=", "--vdpa: svq-poll '' is not 0..1000");
	refused("null,svq-poll=-1", "--vdpa: svq-poll '-1' is not 0..1000");
	refused("null,fw-scale=-1", "--vdpa: fw-scale '-1' is not 0..100");
	refused("wire", "--vdpa: 'wire' is not hub=DIR, tap=NAME, loop or null");
	refused("", "--vdpa: needs a backend");
	refused("null,mac=01:00:00:00:00:01", "--vdpa: mac '01:00:00:00:00:01' is not a unicast");
}
END_TEST

VLAB_SUITE_MAIN("vdpa_net", "parse", NULL, NULL, 0, parse_good, parse_refused);
