/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tests of device state loaders: save a device into a tree,
 * corrupt one property in place, and check that a refused load said why
 * and left the device as it was (its state saves to the same bytes).
 */
#ifndef VLAB_TESTS_STATE_TEST_H
#define VLAB_TESTS_STATE_TEST_H

#include <check.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/migrate/state.h"

typedef int (*state_test_save_fn)(void *dev, struct state_buf *sb);
typedef int (*state_test_load_fn)(void *dev, const void *fdt, int node, char *err,
				  size_t errlen);

/* A finished tree with the device's properties in node "/dev". */
static inline void state_test_save(struct state_buf *sb, state_test_save_fn save, void *dev)
{
	ck_assert_int_eq(state_buf_init(sb), 0);
	state_begin_node(sb, "dev", 1);
	ck_assert_int_eq(save(dev, sb), 0);
	state_end_node(sb);
	ck_assert_int_eq(state_buf_finish(sb), 0);
}

static inline int state_test_node(const struct state_buf *sb, const char *path)
{
	int node = fdt_path_offset(sb->fdt, path);

	ck_assert_msg(node >= 0, "%s: %s", path, fdt_strerror(node));
	return node;
}

/* Overwrite a property in place: same width as saved, or any bytes for @raw. */
static inline void state_test_patch(struct state_buf *sb, const char *path, const char *prop,
				    uint64_t val)
{
	int len, node = state_test_node(sb, path);

	ck_assert_msg(fdt_getprop(sb->fdt, node, prop, &len), "no property %s", prop);
	if (len == 8)
		ck_assert_int_eq(fdt_setprop_inplace_u64(sb->fdt, node, prop, val), 0);
	else if (len == 4)
		ck_assert_int_eq(fdt_setprop_inplace_u32(sb->fdt, node, prop, val), 0);
	else
		ck_abort_msg("property %s is %d bytes: patch it by hand", prop, len);
}

static inline bool state_test_same(const struct state_buf *a, const struct state_buf *b)
{
	return state_blob_size(a) == state_blob_size(b) &&
	       !memcmp(state_blob(a), state_blob(b), state_blob_size(a));
}

/*
 * Save @dev, set @prop of node @path (under /dev) to @val, load: it must
 * fail with @msg in the message and @dev must still save to the bytes it
 * saved to before.
 */
static inline void state_test_refused_at(state_test_save_fn save, state_test_load_fn load,
					 void *dev, const char *path, const char *prop,
					 uint64_t val, const char *msg)
{
	struct state_buf good, bad, after;
	char err[256] = "";

	state_test_save(&good, save, dev);
	state_test_save(&bad, save, dev);
	state_test_patch(&bad, path, prop, val);
	ck_assert_int_eq(load(dev, bad.fdt, state_test_node(&bad, "/dev"), err, sizeof(err)),
			 -1);
	ck_assert_msg(strstr(err, msg), "%s = %llu: message \"%s\" lacks \"%s\"", prop,
		      (unsigned long long)val, err, msg);
	state_test_save(&after, save, dev);
	ck_assert_msg(state_test_same(&good, &after), "%s = %llu changed the device", prop,
		      (unsigned long long)val);
	state_buf_free(&good);
	state_buf_free(&bad);
	state_buf_free(&after);
}

static inline void state_test_refused(state_test_save_fn save, state_test_load_fn load,
				      void *dev, const char *prop, uint64_t val,
				      const char *msg)
{
	state_test_refused_at(save, load, dev, "/dev", prop, val, msg);
}

/* Save, load into the same device, save again: the same bytes. */
static inline void state_test_roundtrip(state_test_save_fn save, state_test_load_fn load,
					void *dev)
{
	struct state_buf a, b;
	char err[256] = "";

	state_test_save(&a, save, dev);
	ck_assert_msg(!load(dev, a.fdt, state_test_node(&a, "/dev"), err, sizeof(err)),
		      "%s", err);
	state_test_save(&b, save, dev);
	ck_assert(state_test_same(&a, &b));
	state_buf_free(&a);
	state_buf_free(&b);
}

#endif
