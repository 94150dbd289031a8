// SPDX-License-Identifier: GPL-2.0
/* The saved-state tree: building, growing, checked reading, field tables, dump. */
#include <check.h>
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "vmm/migrate/state.h"

static struct state_buf sb;
static char err[256];

static void teardown(void)
{
	state_buf_free(&sb);
}

/* A small tree used by several tests. */
static void build_sample(void)
{
	static const uint8_t bytes[5] = { 1, 2, 3, 0xfe, 0xff };
	static const uint64_t arr[3] = { 1, 0x123456789abcdef0ULL, ~0ULL };

	ck_assert_int_eq(state_buf_init(&sb), 0);
	ck_assert_int_eq(state_begin_node(&sb, "dev", 2), 0);
	ck_assert_int_eq(state_put_u32(&sb, "a32", 0xdeadbeef), 0);
	ck_assert_int_eq(state_put_u64(&sb, "a64", 0x0123456789abcdefULL), 0);
	ck_assert_int_eq(state_put_bytes(&sb, "raw", bytes, sizeof(bytes)), 0);
	ck_assert_int_eq(state_put_string(&sb, "driver", "uart"), 0);
	ck_assert_int_eq(state_put_u64_array(&sb, "arr", arr, 3), 0);
	ck_assert_int_eq(state_put_bytes(&sb, "empty", NULL, 0), 0);
	ck_assert_int_eq(state_begin_nodef(&sb, 1, "queue@%d", 3), 0);
	ck_assert_int_eq(state_put_u32(&sb, "idx", 7), 0);
	ck_assert_int_eq(state_end_node(&sb), 0);
	ck_assert_int_eq(state_end_node(&sb), 0);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
}

static int dev_node(const void *fdt)
{
	int node = state_subnode(fdt, 0, "dev", 2, NULL, err, sizeof(err));

	ck_assert_msg(node >= 0, "%s", err);
	return node;
}

START_TEST(roundtrip)
{
	const void *fdt;
	uint64_t v64, arr[3];
	uint32_t v32, ver = 0;
	uint8_t raw[5];
	const char *s;
	size_t len;
	int node, q;

	build_sample();
	fdt = state_blob(&sb);
	ck_assert_uint_eq(state_blob_size(&sb), fdt_totalsize(fdt));
	ck_assert_int_eq(state_check(fdt, state_blob_size(&sb), err, sizeof(err)), 0);

	node = state_subnode(fdt, 0, "dev", 2, &ver, err, sizeof(err));
	ck_assert_int_ge(node, 0);
	ck_assert_uint_eq(ver, 2);
	ck_assert_int_eq(state_get_u32(fdt, node, "a32", &v32, err, sizeof(err)), 0);
	ck_assert_uint_eq(v32, 0xdeadbeef);
	ck_assert_int_eq(state_get_u64(fdt, node, "a64", &v64, err, sizeof(err)), 0);
	ck_assert_uint_eq(v64, 0x0123456789abcdefULL);
	ck_assert_int_eq(state_get_bytes(fdt, node, "raw", raw, sizeof(raw), err,
					 sizeof(err)), 0);
	ck_assert_uint_eq(raw[3], 0xfe);
	s = state_get_string(fdt, node, "driver", err, sizeof(err));
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "uart");
	ck_assert_int_eq(state_get_u64_array(fdt, node, "arr", arr, 3, err, sizeof(err)), 0);
	ck_assert_uint_eq(arr[1], 0x123456789abcdef0ULL);
	ck_assert_uint_eq(arr[2], ~0ULL);
	ck_assert_ptr_nonnull(state_get_blob(fdt, node, "empty", &len, err, sizeof(err)));
	ck_assert_uint_eq(len, 0);
	ck_assert(state_has(fdt, node, "a32"));
	ck_assert(!state_has(fdt, node, "nope"));

	q = state_subnode(fdt, node, "queue@3", 1, NULL, err, sizeof(err));
	ck_assert_int_ge(q, 0);
	ck_assert_int_eq(state_get_u32(fdt, q, "idx", &v32, err, sizeof(err)), 0);
	ck_assert_uint_eq(v32, 7);

	/* Root identification, as a future reader will look for it. */
	ck_assert_str_eq(fdt_getprop(fdt, 0, "vlab,compatible", NULL), STATE_COMPATIBLE);
	ck_assert_uint_eq(fdt32_to_cpu(*(const fdt32_t *)fdt_getprop(fdt, 0,
				       "vlab,state-version", NULL)), STATE_VERSION);
}
END_TEST

START_TEST(grows)
{
	static uint8_t big[20000];
	const void *fdt;
	uint8_t back[sizeof(big)];
	char name[16];
	int i, node;

	for (i = 0; i < (int)sizeof(big); i++)
		big[i] = i * 7;
	ck_assert_int_eq(state_buf_init(&sb), 0);
	/* 20 x 20 KB and 400 distinct names: well past the first buffer. */
	for (i = 0; i < 20; i++) {
		int j;

		state_begin_nodef(&sb, 1, "n@%d", i);
		big[0] = i;
		state_put_bytes(&sb, "blob", big, sizeof(big));
		for (j = 0; j < 20; j++) {
			snprintf(name, sizeof(name), "p%d", i * 20 + j);
			state_put_u32(&sb, name, i * 20 + j);
		}
		state_end_node(&sb);
	}
	ck_assert_int_eq(state_buf_finish(&sb), 0);
	ck_assert_uint_gt(state_blob_size(&sb), 20 * sizeof(big));
	fdt = state_blob(&sb);
	ck_assert_int_eq(state_check(fdt, state_blob_size(&sb), err, sizeof(err)), 0);
	for (i = 0; i < 20; i++) {
		uint32_t v;

		snprintf(name, sizeof(name), "n@%d", i);
		node = state_subnode(fdt, 0, name, 1, NULL, err, sizeof(err));
		ck_assert_int_ge(node, 0);
		ck_assert_int_eq(state_get_bytes(fdt, node, "blob", back, sizeof(back),
						 err, sizeof(err)), 0);
		big[0] = i;
		ck_assert_int_eq(memcmp(back, big, sizeof(big)), 0);
		snprintf(name, sizeof(name), "p%d", i * 20 + 19);
		ck_assert_int_eq(state_get_u32(fdt, node, name, &v, err, sizeof(err)), 0);
		ck_assert_int_eq(v, i * 20 + 19);
	}
}
END_TEST

START_TEST(type_and_length_errors)
{
	const void *fdt;
	uint64_t v64, arr[2];
	uint32_t v32;
	uint8_t raw[4];
	int node;

	build_sample();
	fdt = state_blob(&sb);
	node = dev_node(fdt);

	ck_assert_int_eq(state_get_u32(fdt, node, "a64", &v32, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/dev: property \"a64\" is 8 bytes, want 4 (u32)");
	ck_assert_int_eq(state_get_u64(fdt, node, "a32", &v64, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/dev: property \"a32\" is 4 bytes, want 8 (u64)");
	ck_assert_int_eq(state_get_bytes(fdt, node, "raw", raw, sizeof(raw), err,
					 sizeof(err)), -1);
	ck_assert_str_eq(err, "/dev: property \"raw\" is 5 bytes, want 4 (bytes)");
	ck_assert_int_eq(state_get_u64_array(fdt, node, "arr", arr, 2, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/dev: property \"arr\" is 24 bytes, want 16 (u64 array)");
	ck_assert_ptr_null(state_get_string(fdt, node, "raw", err, sizeof(err)));
	ck_assert_str_eq(err, "/dev: property \"raw\" is not a string");
	ck_assert_ptr_null(state_get_string(fdt, node, "empty", err, sizeof(err)));
	ck_assert_str_eq(err, "/dev: property \"empty\" is not a string");
	ck_assert_int_eq(state_get_u32(fdt, node, "missing", &v32, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/dev: missing property \"missing\"");
	ck_assert_int_eq(state_subnode(fdt, node, "nothere", 1, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/dev: no node \"nothere\"");
}
END_TEST

START_TEST(versions)
{
	const void *fdt;
	int node;

	build_sample();
	fdt = state_blob(&sb);
	/* "dev" is version 2: a reader that knows only version 1 refuses it. */
	ck_assert_int_eq(state_subnode(fdt, 0, "dev", 1, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/dev: version 2 is newer than this vlab understands (1)");
	node = dev_node(fdt);
	ck_assert_int_eq(state_node_version(fdt, node, 5, err, sizeof(err)), 2);
}
END_TEST

/* Trees that state.c would never write, made with libfdt directly. */
static void *raw_tree(const char *compat, uint32_t fmt, bool node_version,
		      uint32_t version)
{
	void *fdt = malloc(4096);

	ck_assert_int_eq(fdt_create(fdt, 4096), 0);
	ck_assert_int_eq(fdt_finish_reservemap(fdt), 0);
	ck_assert_int_eq(fdt_begin_node(fdt, ""), 0);
	if (fmt)
		ck_assert_int_eq(fdt_property_u32(fdt, "vlab,state-version", fmt), 0);
	if (compat)
		ck_assert_int_eq(fdt_property_string(fdt, "vlab,compatible", compat), 0);
	ck_assert_int_eq(fdt_begin_node(fdt, "dev"), 0);
	if (node_version)
		ck_assert_int_eq(fdt_property_u32(fdt, "version", version), 0);
	ck_assert_int_eq(fdt_end_node(fdt), 0);
	ck_assert_int_eq(fdt_end_node(fdt), 0);
	ck_assert_int_eq(fdt_finish(fdt), 0);
	return fdt;
}

START_TEST(missing_version)
{
	void *fdt = raw_tree(STATE_COMPATIBLE, STATE_VERSION, false, 0);

	ck_assert_int_eq(state_check(fdt, fdt_totalsize(fdt), err, sizeof(err)), 0);
	ck_assert_int_eq(state_subnode(fdt, 0, "dev", 1, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/dev: no \"version\" property");
	free(fdt);

	fdt = raw_tree(STATE_COMPATIBLE, STATE_VERSION, true, 0);
	ck_assert_int_eq(state_subnode(fdt, 0, "dev", 1, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/dev: version 0 is not valid");
	free(fdt);
}
END_TEST

START_TEST(check_root)
{
	void *fdt;

	fdt = raw_tree("acme,other", STATE_VERSION, true, 1);
	ck_assert_int_eq(state_check(fdt, fdt_totalsize(fdt), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "state blob is \"acme,other\", not \"vlab,vm-state\"");
	free(fdt);

	fdt = raw_tree(STATE_COMPATIBLE, STATE_VERSION + 1, true, 1);
	ck_assert_int_eq(state_check(fdt, fdt_totalsize(fdt), err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "state format version 2 is not supported"), "%s", err);
	free(fdt);

	fdt = raw_tree(NULL, STATE_VERSION, true, 1);
	ck_assert_int_eq(state_check(fdt, fdt_totalsize(fdt), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/: missing property \"vlab,compatible\"");
	free(fdt);

	fdt = raw_tree(STATE_COMPATIBLE, 0, true, 1);
	ck_assert_int_eq(state_check(fdt, fdt_totalsize(fdt), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/: missing property \"vlab,state-version\"");
	free(fdt);
}
END_TEST

START_TEST(check_damaged)
{
	uint8_t *copy;
	size_t size;

	build_sample();
	size = state_blob_size(&sb);
	ck_assert_int_eq(state_check(state_blob(&sb), size - 1, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "truncated"), "%s", err);
	ck_assert_int_eq(state_check(state_blob(&sb), 10, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "too short"), "%s", err);

	copy = malloc(size);
	memcpy(copy, state_blob(&sb), size);
	copy[0] ^= 0xff;
	ck_assert_int_eq(state_check(copy, size, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "bad magic"), "%s", err);
	copy[0] ^= 0xff;
	/* An old FDT layout: refused before libfdt's full check (which crashed on it). */
	((fdt32_t *)copy)[5] = cpu_to_fdt32(3);		/* version */
	((fdt32_t *)copy)[6] = cpu_to_fdt32(2);		/* last_comp_version */
	ck_assert_int_eq(state_check(copy, size, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "state blob has FDT version 3 (compatible back to 2); vlab reads 17");
	((fdt32_t *)copy)[5] = cpu_to_fdt32(17);
	((fdt32_t *)copy)[6] = cpu_to_fdt32(16);
	ck_assert_int_eq(state_check(copy, size, err, sizeof(err)), 0);
	/* Break the structure block: a bogus tag right after the root node's name. */
	memset(copy + fdt_off_dt_struct(copy) + 8, 0x5a, 4);
	ck_assert_int_eq(state_check(copy, size, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "corrupt state blob"), "%s", err);
	free(copy);
}
END_TEST

struct sample {
	uint8_t b;
	uint16_t w;
	uint32_t d;
	uint64_t q;
	uint8_t raw[6];
	uint64_t arr[2];
};

static const struct state_field sample_fields[] = {
	STATE_UINT(struct sample, b, "b"),
	STATE_UINT(struct sample, w, "w"),
	STATE_UINT(struct sample, d, "d"),
	STATE_UINT(struct sample, q, "q"),
	STATE_BYTES(struct sample, raw, "raw"),
	STATE_U64_ARRAY(struct sample, arr, "arr"),
};

START_TEST(field_tables)
{
	struct sample in, out;
	const void *fdt;
	uint32_t v;
	int node;

	/* memset first: the padding takes part in the memcmp below. */
	memset(&in, 0, sizeof(in));
	in.b = 0xab;
	in.w = 0xbeef;
	in.d = 0x12345678;
	in.q = 0xfedcba9876543210ULL;
	memcpy(in.raw, "hello", 6);
	in.arr[0] = 5;
	in.arr[1] = 1ULL << 63;

	ck_assert_int_eq(state_buf_init(&sb), 0);
	state_begin_node(&sb, "s", 1);
	ck_assert_int_eq(state_put_fields(&sb, &in, sample_fields, 6), 0);
	state_end_node(&sb);
	/* The same struct with a byte field out of range. */
	state_begin_node(&sb, "bad", 1);
	state_put_u32(&sb, "b", 0x100);
	state_end_node(&sb);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
	fdt = state_blob(&sb);

	node = state_subnode(fdt, 0, "s", 1, NULL, err, sizeof(err));
	/* Narrow integers are one u32 cell each. */
	ck_assert_int_eq(state_get_u32(fdt, node, "b", &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v, 0xab);
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(state_get_fields(fdt, node, &out, sample_fields, 6, err,
					  sizeof(err)), 0);
	ck_assert_int_eq(memcmp(&in, &out, sizeof(in)), 0);

	node = state_subnode(fdt, 0, "bad", 1, NULL, err, sizeof(err));
	ck_assert_int_eq(state_get_fields(fdt, node, &out, sample_fields, 1, err,
					  sizeof(err)), -1);
	ck_assert_str_eq(err, "/bad: \"b\" = 0x100 does not fit in 8 bits");
	/* A field the table names but the node lacks. */
	state_get_fields(fdt, node, &out, sample_fields + 1, 1, err, sizeof(err));
	ck_assert_str_eq(err, "/bad: missing property \"w\"");
	/* A field of the wrong width. */
	node = state_subnode(fdt, 0, "s", 1, NULL, err, sizeof(err));
	ck_assert_int_eq(state_get_fields(fdt, node, &out, &(struct state_field)
					  STATE_UINT(struct sample, q, "d"), 1, err,
					  sizeof(err)), -1);
	ck_assert_str_eq(err, "/s: property \"d\" is 4 bytes, want 8 (u64)");
}
END_TEST

struct arrays {
	uint16_t w[3];
	uint32_t d[2];
};

static const struct state_field array_fields[] = {
	STATE_UINT_ARRAY(struct arrays, w, "w"),
	STATE_UINT_ARRAY(struct arrays, d, "d"),
};

/* Narrow integer arrays: a big-endian cell per element, range-checked on load. */
START_TEST(uint_array_fields)
{
	static const uint8_t w_cells[] = { 0, 0, 0x12, 0x34, 0, 0, 0xff, 0xff, 0, 0, 0, 1 };
	struct arrays in = { { 0x1234, 0xffff, 1 }, { 0xdeadbeef, 7 } }, out;
	const void *fdt, *p;
	size_t len;
	int node;

	ck_assert_int_eq(state_buf_init(&sb), 0);
	state_begin_node(&sb, "s", 1);
	ck_assert_int_eq(state_put_fields(&sb, &in, array_fields, 2), 0);
	state_end_node(&sb);
	state_begin_node(&sb, "bad", 1);
	state_put_bytes(&sb, "w", (const uint8_t[]){ 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 2 }, 12);
	state_end_node(&sb);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
	fdt = state_blob(&sb);

	node = state_subnode(fdt, 0, "s", 1, NULL, err, sizeof(err));
	p = state_get_blob(fdt, node, "w", &len, err, sizeof(err));
	ck_assert_uint_eq(len, sizeof(w_cells));
	ck_assert_int_eq(memcmp(p, w_cells, len), 0);
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(state_get_fields(fdt, node, &out, array_fields, 2, err,
					  sizeof(err)), 0);
	ck_assert_int_eq(memcmp(&in, &out, sizeof(in)), 0);

	node = state_subnode(fdt, 0, "bad", 1, NULL, err, sizeof(err));
	ck_assert_int_eq(state_get_fields(fdt, node, &out, array_fields, 1, err,
					  sizeof(err)), -1);
	ck_assert_str_eq(err, "/bad: \"w\"[1] = 0x10000 does not fit in 16 bits");
}
END_TEST

struct counters {
	uint64_t packets;
	uint8_t flag;
	uint32_t drops;
};

static const struct state_field counter_fields[] = {
	STATE_UINT(struct counters, packets, "packets"),
	STATE_UINT(struct counters, flag, "flag"),
	STATE_UINT(struct counters, drops, "drops"),
};

/* Strided structs as one node of per-field arrays; the count must match. */
START_TEST(struct_arrays)
{
	struct counters in[3] = { { 1, 1, 10 }, { 2, 0, 20 }, { 1ULL << 40, 1, 30 } }, out[3];
	const void *fdt;
	size_t len;
	int node;

	ck_assert_int_eq(state_buf_init(&sb), 0);
	ck_assert_int_eq(state_put_struct_array(&sb, "q", 1, in, sizeof(in[0]), 3,
						counter_fields, 3), 0);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
	fdt = state_blob(&sb);
	node = state_subnode(fdt, 0, "q", 1, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(state_get_blob(fdt, node, "drops", &len, err, sizeof(err)));
	ck_assert_uint_eq(len, 3 * 4);
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(state_get_struct_array(fdt, 0, "q", 1, out, sizeof(out[0]), 3,
						counter_fields, 3, err, sizeof(err)), 0);
	ck_assert_uint_eq(out[2].packets, 1ULL << 40);
	ck_assert_uint_eq(out[1].drops, 20);
	ck_assert_uint_eq(out[0].flag, 1);
	ck_assert_int_eq(state_get_struct_array(fdt, 0, "q", 1, out, sizeof(out[0]), 2,
						counter_fields, 3, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/q: property \"packets\" is 24 bytes, want 16 (cell array)");
}
END_TEST

struct flags {
	bool on;
	bool off;
	uint8_t byte;
};

static const struct state_field flag_fields[] = {
	STATE_BOOL(struct flags, on, "on"),
	STATE_BOOL(struct flags, off, "off"),
	STATE_UINT(struct flags, byte, "byte"),
};

/* A bool holding anything but 0 or 1 is undefined: such values are refused. */
START_TEST(bool_fields)
{
	struct flags in = { .on = true, .off = false, .byte = 134 }, out;
	const void *fdt;
	uint32_t v;
	bool b;
	int node;

	ck_assert_int_eq(state_buf_init(&sb), 0);
	state_begin_node(&sb, "s", 1);
	ck_assert_int_eq(state_put_fields(&sb, &in, flag_fields, 3), 0);
	state_end_node(&sb);
	state_begin_node(&sb, "bad", 1);
	state_put_u32(&sb, "on", 134);
	state_put_u32(&sb, "off", 1);
	state_put_u32(&sb, "byte", 1);
	state_end_node(&sb);
	ck_assert_int_eq(state_buf_finish(&sb), 0);
	fdt = state_blob(&sb);

	node = state_subnode(fdt, 0, "s", 1, NULL, err, sizeof(err));
	ck_assert_int_eq(state_get_u32(fdt, node, "on", &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v, 1);
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(state_get_fields(fdt, node, &out, flag_fields, 3, err,
					  sizeof(err)), 0);
	ck_assert(out.on && !out.off);
	ck_assert_uint_eq(out.byte, 134);
	ck_assert_int_eq(state_get_bool(fdt, node, "on", &b, err, sizeof(err)), 0);
	ck_assert(b);

	node = state_subnode(fdt, 0, "bad", 1, NULL, err, sizeof(err));
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(state_get_fields(fdt, node, &out, flag_fields, 1, err,
					  sizeof(err)), -1);
	ck_assert_str_eq(err, "/bad: \"on\" = 134 is not a boolean (0 or 1)");
	ck_assert(!out.on);
	b = false;
	ck_assert_int_eq(state_get_bool(fdt, node, "on", &b, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/bad: \"on\" = 134 is not a boolean (0 or 1)");
	ck_assert(!b);
	/* A bool property is one u32 cell like any narrow integer. */
	ck_assert_int_eq(state_get_fields(fdt, node, &out, &(struct state_field)
					  STATE_BOOL(struct flags, off, "byte"), 1, err,
					  sizeof(err)), 0);
	ck_assert(out.off);
}
END_TEST

START_TEST(builder_errors)
{
	ck_assert_int_eq(state_buf_init(&sb), 0);
	/* The root is closed by state_buf_finish only. */
	ck_assert_int_eq(state_end_node(&sb), -EINVAL);
	/* Sticky: later calls fail the same way and nothing is written. */
	ck_assert_int_eq(state_put_u32(&sb, "x", 1), -EINVAL);
	ck_assert_int_eq(state_buf_finish(&sb), -EINVAL);
	ck_assert_uint_eq(state_blob_size(&sb), 0);
	state_buf_free(&sb);

	ck_assert_int_eq(state_buf_init(&sb), 0);
	state_begin_node(&sb, "open", 1);
	ck_assert_int_eq(state_buf_finish(&sb), -EINVAL);
	ck_assert_str_eq(state_buf_strerror(&sb), "unbalanced nodes (2 open)");
	state_buf_free(&sb);

	ck_assert_int_eq(state_buf_init(&sb), 0);
	ck_assert_int_eq(state_buf_fail(&sb, -ENOTTY, "vCPU %d: KVM_GET_XCRS: %s", 1,
					strerror(ENOTTY)), -ENOTTY);
	ck_assert_int_eq(state_buf_fail(&sb, -EIO, "second"), -ENOTTY);
	ck_assert_str_eq(state_buf_strerror(&sb),
			 "vCPU 1: KVM_GET_XCRS: Inappropriate ioctl for device");
	ck_assert_int_eq(state_buf_finish(&sb), -ENOTTY);

	/* Property names and nodes that libfdt rejects surface as errors too. */
	state_buf_free(&sb);
	ck_assert_int_eq(state_buf_init(&sb), 0);
	ck_assert_int_eq(state_begin_nodef(&sb, 1, "%0100d", 1), -ENAMETOOLONG);
	state_buf_free(&sb);

	/*
	 * A property after a child node: libfdt writes it, readers never see
	 * it. Refused; properties of the child itself, and of a sibling after
	 * it, are fine.
	 */
	ck_assert_int_eq(state_buf_init(&sb), 0);
	ck_assert_int_eq(state_begin_node(&sb, "parent", 1), 0);
	ck_assert_int_eq(state_begin_node(&sb, "child", 1), 0);
	ck_assert_int_eq(state_put_u32(&sb, "in-child", 1), 0);
	ck_assert_int_eq(state_end_node(&sb), 0);
	ck_assert_int_eq(state_begin_node(&sb, "sibling", 1), 0);
	ck_assert_int_eq(state_put_u64(&sb, "in-sibling", 2), 0);
	ck_assert_int_eq(state_end_node(&sb), 0);
	ck_assert_int_eq(state_put_u64_array(&sb, "late", (uint64_t[]){ 1 }, 1), -EINVAL);
	ck_assert_str_eq(state_buf_strerror(&sb), "a property after a child node");
}
END_TEST

static const char sample_dts[] =
	"/dts-v1/;\n"
	"\n"
	"/ {\n"
	"\tvlab,state-version = <0x01>;\n"
	"\tvlab,compatible = \"vlab,vm-state\";\n"
	"\n"
	"\tdev {\n"
	"\t\tversion = <0x02>;\n"
	"\t\ta32 = <0xdeadbeef>;\n"
	"\t\ta64 = <0x1234567 0x89abcdef>;\n"
	"\t\traw = [01 02 03 fe ff];\n"
	"\t\tdriver = \"uart\";\n"
	"\t\tarr = <0x00 0x01 0x12345678 0x9abcdef0 0xffffffff 0xffffffff>;\n"
	"\t\tempty;\n"
	"\n"
	"\t\tqueue@3 {\n"
	"\t\t\tversion = <0x01>;\n"
	"\t\t\tidx = <0x07>;\n"
	"\t\t};\n"
	"\t};\n"
	"};\n";

static char *dump_to_string(const void *fdt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	state_dump(fdt, f);
	fclose(f);
	return buf;
}

START_TEST(dump)
{
	char *out;

	build_sample();
	out = dump_to_string(state_blob(&sb));
	ck_assert_str_eq(out, sample_dts);
	free(out);
}
END_TEST

/* If dtc is installed, the dump must be exactly what it prints. */
START_TEST(dump_matches_dtc)
{
	char path[] = "/tmp/vlab-state-XXXXXX", cmd[128], *mine, *theirs = NULL;
	size_t cap = 0, len = 0, n;
	FILE *p;
	int fd;

	if (access("/usr/bin/dtc", X_OK)) {
		printf("SKIP: %s: no /usr/bin/dtc\n", __func__);
		return;
	}
	build_sample();
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, state_blob(&sb), state_blob_size(&sb)),
			 (ssize_t)state_blob_size(&sb));
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/dtc -q -I dtb -O dts %s", path);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	do {
		if (cap - len < 1024) {
			cap = cap ? cap * 2 : 4096;
			theirs = realloc(theirs, cap);
		}
		n = fread(theirs + len, 1, cap - len - 1, p);
		len += n;
	} while (n);
	theirs[len] = '\0';
	pclose(p);
	unlink(path);
	mine = dump_to_string(state_blob(&sb));
	ck_assert_str_eq(mine, theirs);
	free(mine);
	free(theirs);
}
END_TEST

VLAB_SUITE_MAIN("state", "fdt", NULL, teardown, 0,
	roundtrip, grows, type_and_length_errors, versions, missing_version, check_root,
	check_damaged, field_tables, uint_array_fields, struct_arrays, bool_fields,
	builder_errors, dump, dump_matches_dtc);
