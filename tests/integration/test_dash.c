// SPDX-License-Identifier: GPL-2.0
/*
 * `vlab dash SOCK --screenshot FILE` against a real guest: the dirty
 * payload live-migrating (slowly: a bandwidth cap below its dirty rate),
 * two screenshots a second apart. Both show the migration panel (its
 * frame in the panel's colour where the layout puts it), and the RAM grid
 * differs between them. No display: the screenshot is drawn off-screen.
 * Skipped where the dashboard was not built (no SDL2; CI installs it).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "vlab_run.h"
#include "vmm/dash/layout.h"

#define UP_TIMEOUT	60
#define SHOT_TIMEOUT	60

struct bmp {
	uint8_t *data;
	long size;
	uint32_t off;
	int32_t w, h;
};

static void bmp_load(struct bmp *b, const char *path)
{
	FILE *f = fopen(path, "rb");

	ck_assert_msg(f != NULL, "%s: not written", path);
	fseek(f, 0, SEEK_END);
	b->size = ftell(f);
	rewind(f);
	b->data = malloc(b->size);
	ck_assert_int_eq(fread(b->data, 1, b->size, f), (size_t)b->size);
	fclose(f);
	ck_assert_msg(b->size > 54 && b->data[0] == 'B' && b->data[1] == 'M', "%s: not a BMP",
		      path);
	memcpy(&b->off, b->data + 10, 4);
	memcpy(&b->w, b->data + 18, 4);
	memcpy(&b->h, b->data + 22, 4);
	ck_assert_int_eq(b->w, DASH_W);
	ck_assert_int_eq(b->h < 0 ? -b->h : b->h, DASH_H);
	ck_assert_int_eq(b->data[28], 24);
}

/* 0xRRGGBB at (x, y), y from the top. */
static uint32_t bmp_pixel(const struct bmp *b, int x, int y)
{
	long row = (b->w * 3 + 3) & ~3L, line = b->h > 0 ? b->h - 1 - y : y;
	const uint8_t *p = b->data + b->off + line * row + 3 * x;

	ck_assert_int_le(b->off + line * row + 3 * x + 3, b->size);
	return (uint32_t)p[2] << 16 | p[1] << 8 | p[0];
}

/* Pixels of the colour @rgb in the rectangle. */
static int bmp_count(const struct bmp *b, int x0, int y0, int w, int h, uint32_t rgb)
{
	int x, y, n = 0;

	for (y = y0; y < y0 + h; y++)
		for (x = x0; x < x0 + w; x++)
			n += bmp_pixel(b, x, y) == rgb;
	return n;
}

static bool ram_grid_differs(const struct bmp *a, const struct bmp *b)
{
	int x, y;

	for (y = DASH_RAM_Y; y < DASH_RAM_Y + DASH_RAM_SIZE; y++)
		for (x = DASH_RAM_X; x < DASH_RAM_X + DASH_RAM_SIZE; x++)
			if (bmp_pixel(a, x, y) != bmp_pixel(b, x, y))
				return true;
	return false;
}

/* `vlab dash SOCK --screenshot FILE`: its exit status, its output in @out. */
static int screenshot(const struct vp *p, const char *file, char *out, size_t len)
{
	const char *argv[] = { NULL, "dash", p->sock, "--screenshot", file, NULL };

	return vlab_exec_capture(argv, out, len);
}

static bool migration_active(struct vp *src)
{
	return !VP_CTL(src, "status") && strstr(vp_ctl_out, "state: active");
}

START_TEST(test_dash_screenshots_during_migration)
{
	char dash[PATH_MAX], uri[256], shot1[256], shot2[256], out[4096];
	const char *elf;
	struct vp src, dst;
	struct bmp a, b;
	double deadline;

	VLAB_SKIP_UNLESS_RUNNABLE();
	vlab_build_path(dash, sizeof(dash), "vlab-dash");
	if (access(dash, X_OK)) {
		printf("test_dash: skipped: %s was not built (needs SDL2: make deps)\n", dash);
		return;
	}
	setenv("SDL_VIDEODRIVER", "offscreen", 1);
	elf = vlab_payload("payloads/dirty.elf");
	vlab_tdir_create("vlab-dash");
	snprintf(uri, sizeof(uri), "unix:%s/mig.sock", vp_tdir);
	snprintf(shot1, sizeof(shot1), "%s/one.bmp", vp_tdir);
	snprintf(shot2, sizeof(shot2), "%s/two.bmp", vp_tdir);

	/* It dirties faster than the stream may go: the migration lasts. */
	vp_start(&src, "src", (const char *const []){ "--kernel", elf, "--mem", "128M",
		 "--cmdline", "rate=40 secs=600 until=request", NULL });
	vp_check(vp_wait_file_has(&src, src.con, "dirty: ", UP_TIMEOUT), "the guest did not start");
	vp_start(&dst, "dst", (const char *const []){ "--incoming", uri, "--mem", "128M", NULL });
	vp_check(vp_dest_waiting(&dst, UP_TIMEOUT), "the destination is not waiting");
	vp_check(!vp_migrate(&src, uri, "max_bandwidth=8000000", NULL), "migrate: %s",
		 vp_ctl_out);
	deadline = vlab__now() + UP_TIMEOUT;
	while (!migration_active(&src))
		vp_check(vlab__now() < deadline, "no migration running: %s", vp_ctl_out);

	vp_check(!screenshot(&src, shot1, out, sizeof(out)), "screenshot 1: %s", out);
	vp_check(strstr(out, "migration panel") != NULL, "screenshot 1: %s", out);
	/* A second apart, and the grid must have moved on by then. */
	sleep(1);
	vp_check(!screenshot(&src, shot2, out, sizeof(out)), "screenshot 2: %s", out);
	vp_check(strstr(out, "migration panel") != NULL, "screenshot 2: %s", out);
	vp_check(migration_active(&src), "the migration ended too soon: %s", vp_ctl_out);

	bmp_load(&a, shot1);
	bmp_load(&b, shot2);
	/* The panel's frame: its top edge in the panel's colour. */
	vp_check(bmp_count(&a, DASH_MIG_X, DASH_MIG_Y, DASH_MIG_W, 2, DASH_MIG_RGB) == 2 * DASH_MIG_W,
		 "no migration panel in %s", shot1);
	vp_check(bmp_count(&b, DASH_MIG_X, DASH_MIG_Y, DASH_MIG_W, 2, DASH_MIG_RGB) == 2 * DASH_MIG_W,
		 "no migration panel in %s", shot2);
	/* Pages sent, and pages still to send, on the grid. */
	vp_check(bmp_count(&b, DASH_RAM_X, DASH_RAM_Y, DASH_RAM_SIZE, DASH_RAM_SIZE,
			   DASH_RGB_SENT) > 0, "no sent pages on the grid");
	vp_check(ram_grid_differs(&a, &b), "the RAM grid did not change in a second");
	free(a.data);
	free(b.data);

	/* The guest stays here, whole: cancel, and let it check its pages. */
	VP_CTL(&src, "migrate-cancel");
	deadline = vlab__now() + UP_TIMEOUT;
	while (migration_active(&src))
		vp_check(vlab__now() < deadline, "the migration does not end: %s", vp_ctl_out);
	VP_CTL(&src, "test-request");
	vp_check(vp_wait(&src, UP_TIMEOUT) == 0 && vlab_file_has(src.con, "payload: dirty ok"),
		 "the payload did not finish well");
	vp_cleanup(false);
}
END_TEST

static Suite *dash_suite(void)
{
	Suite *s = suite_create("dash");

	vlab_tcase(s, "screenshot", NULL, NULL, 240,
		   VLAB_TESTS(test_dash_screenshots_during_migration));
	return s;
}

VLAB_TEST_MAIN(dash_suite)
