// SPDX-License-Identifier: GPL-2.0
/*
 * vlab-dash: the SDL2 dashboard `vlab dash SOCK` runs. A client of the
 * control socket like `vlab ctl`: it asks for a watch stream and draws
 * each line (guest RAM, the migration, vCPU exits, devices and queues);
 * rates are the difference of two lines over their time apart. The VMM
 * never links SDL2: this is a program of its own (build/vlab-dash).
 *
 *	p pause/resume the guest, s snapshot it to a file, q quit the dashboard
 *
 * When the stream ends after a migration it says so and, with --follow
 * DEST, attaches to the destination's socket (and back to the first one
 * when the guest comes back). --screenshot FILE draws
 * one frame off-screen (no display: no video subsystem is opened) and
 * writes it as a BMP.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <SDL.h>

#include "vmm/control/json.h"
#include "vmm/dash/font.h"
#include "vmm/dash/layout.h"

#define DASH_PERIOD_MS		500
#define DASH_SHOT_PERIOD_MS	250
#define DASH_CELLS		4096
#define DASH_LINE_MAX		(1u << 22)
#define DASH_SHOT_TIMEOUT_S	30

#define RGB_BG		0x101018
#define RGB_PANEL	0x1c1c26
#define RGB_TEXT	0xd8d8e0
#define RGB_DIM		0x8888a0
#define RGB_TITLE	0x7fb0ff

struct dash {
	const char *sock;		/* attached to */
	const char *follow;		/* the destination's socket, or NULL */
	int period_ms;
	int fd;				/* the stream, -1 while detached */
	bool replied;			/* the watch's reply came */
	char *in;			/* bytes of a line not complete yet */
	size_t in_len, in_cap;
	struct json_value *cur, *prev;	/* the last two lines */
	bool migrating;			/* the last line had a migration running or done */
	double retry_at;		/* when to try attaching again */
	char note[256];			/* the status line */
	SDL_Surface *frame;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void note(struct dash *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct dash *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->note, sizeof(d->note), fmt, ap);
	va_end(ap);
}

/* ---- the control socket ---------------------------------------------- */

static int sock_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		s += n;
		len -= n;
	}
	return 0;
}

/* One request on a connection of its own (pause, snapshot): the reply's "error" or NULL. */
static int one_request(const char *path, const char *req, char *err, size_t errlen)
{
	struct json_value *v = NULL;
	char line[4096];
	size_t n = 0;
	bool ok = false;
	int fd = sock_connect(path);

	snprintf(err, errlen, "no reply");
	if (fd < 0) {
		snprintf(err, errlen, "no vlab on %s", path);
		return -1;
	}
	if (!send_all(fd, req)) {
		while (n + 1 < sizeof(line)) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (poll(&p, 1, 5000) != 1 || recv(fd, line + n, 1, 0) != 1 ||
			    line[n] == '\n')
				break;
			n++;
		}
	}
	close(fd);
	v = json_parse(line, n, NULL, NULL, 0);
	if (v && !json_get_bool(json_object_get(v, "ok"), &ok) && !ok)
		snprintf(err, errlen, "%s", json_get_string(json_object_get(v, "error")) ?: "failed");
	json_free(v);
	return ok ? 0 : -1;
}

static void dash_detach(struct dash *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->in_len = 0;
	d->replied = false;
}

static int dash_attach(struct dash *d, const char *path)
{
	char req[128];

	d->fd = sock_connect(path);
	if (d->fd < 0)
		return -1;
	snprintf(req, sizeof(req), "{\"cmd\":\"watch\",\"period_ms\":%d,\"cells\":%d}\n",
		 d->period_ms, DASH_CELLS);
	if (send_all(d->fd, req)) {
		dash_detach(d);
		return -1;
	}
	d->sock = path;
	json_free(d->prev);
	json_free(d->cur);
	d->prev = d->cur = NULL;
	return 0;
}

/* A line of the stream: the reply first, then the samples. */
static void dash_line(struct dash *d, const char *line, size_t len)
{
	struct json_limits lim = { .max_len = DASH_LINE_MAX, .max_string = DASH_LINE_MAX };
	struct json_value *v = json_parse(line, len, &lim, NULL, 0);
	const char *mig;
	bool ok;

	if (!v)
		return;
	if (!d->replied) {
		d->replied = true;
		if (!json_get_bool(json_object_get(v, "ok"), &ok) && !ok)
			note(d, "watch refused: %s",
			     json_get_string(json_object_get(v, "error")) ?: "?");
		json_free(v);
		return;
	}
	json_free(d->prev);
	d->prev = d->cur;
	d->cur = v;
	mig = json_get_string(json_object_get(json_object_get(v, "migration"), "state"));
	d->migrating = mig && (!strcmp(mig, "active") || !strcmp(mig, "completed"));
}

/* Read what the stream has; false when it ended. */
static bool dash_read(struct dash *d)
{
	char buf[65536];
	ssize_t n = recv(d->fd, buf, sizeof(buf), MSG_DONTWAIT);
	size_t start = 0, i;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	if (d->in_len + n > d->in_cap) {
		size_t cap = d->in_cap ? d->in_cap : 65536;
		char *p;

		while (cap < d->in_len + n)
			cap *= 2;
		if (cap > DASH_LINE_MAX * 2 || !(p = realloc(d->in, cap)))
			return false;
		d->in = p;
		d->in_cap = cap;
	}
	memcpy(d->in + d->in_len, buf, n);
	d->in_len += n;
	for (i = 0; i < d->in_len; i++) {
		if (d->in[i] != '\n')
			continue;
		dash_line(d, d->in + start, i - start);
		start = i + 1;
	}
	memmove(d->in, d->in + start, d->in_len - start);
	d->in_len -= start;
	return true;
}

/* The stream ended: say why, and follow the guest if it moved and we know where. */
static void dash_stream_ended(struct dash *d)
{
	dash_detach(d);
	if (d->migrating && d->follow) {
		const char *from = d->sock;

		/* Swapped: a guest moved back and forth between two sockets is followed both ways. */
		note(d, "the guest migrated away; following it to %s", d->follow);
		d->sock = d->follow;
		d->follow = from;
	} else if (d->migrating) {
		note(d, "the guest migrated away (vlab dash SOCK --follow DEST follows it)");
	} else {
		note(d, "vlab on %s is gone; waiting for it", d->sock);
	}
	d->retry_at = now_s() + 0.2;
}

/* ---- values ---------------------------------------------------------- */

static double num(const struct json_value *obj, const char *key)
{
	double x = 0;

	json_get_number(json_object_get(obj, key), &x);
	return x;
}

static const char *str(const struct json_value *obj, const char *key)
{
	return json_get_string(json_object_get(obj, key)) ?: "";
}

static const struct json_value *item(const struct json_value *arr, size_t i)
{
	return arr && arr->type == JSON_ARRAY && i < arr->array.count ? arr->array.items[i] : NULL;
}

static size_t count(const struct json_value *arr)
{
	return arr && arr->type == JSON_ARRAY ? arr->array.count : 0;
}

/* Seconds between the last two lines, 0 without two. */
static double interval(const struct dash *d)
{
	return d->prev ? (num(d->cur, "t_ms") - num(d->prev, "t_ms")) / 1000.0 : 0;
}

/* Per second, from @key of two objects; a counter that went back (restarted) reads 0. */
static double rate(const struct json_value *cur, const struct json_value *prev,
		   const char *key, double secs)
{
	double a = num(cur, key), b = num(prev, key);

	return secs > 0 && prev && a >= b ? (a - b) / secs : 0;
}

/* The queue numbered @q of a device of the previous line. */
static const struct json_value *prev_queue(const struct json_value *prev_dev, double q)
{
	const struct json_value *qs = json_object_get(prev_dev, "queues");
	size_t i;

	for (i = 0; i < count(qs); i++)
		if (num(item(qs, i), "q") == q)
			return item(qs, i);
	return NULL;
}

/* ---- drawing --------------------------------------------------------- */

static void fill(SDL_Surface *s, int x, int y, int w, int h, uint32_t rgb)
{
	SDL_Rect r = { x, y, w, h };

	SDL_FillRect(s, &r, SDL_MapRGB(s->format, rgb >> 16, rgb >> 8 & 0xff, rgb & 0xff));
}

static void frame_rect(SDL_Surface *s, int x, int y, int w, int h, uint32_t rgb)
{
	fill(s, x, y, w, 2, rgb);
	fill(s, x, y + h - 2, w, 2, rgb);
	fill(s, x, y, 2, h, rgb);
	fill(s, x + w - 2, y, 2, h, rgb);
}

/* Text at @x, @y in pixels @scale big; returns the x after it. */
static int text(SDL_Surface *s, int x, int y, int scale, uint32_t rgb, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int text(SDL_Surface *s, int x, int y, int scale, uint32_t rgb, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int i, r, c;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (i = 0; buf[i]; i++, x += (FONT_W + 1) * scale) {
		const uint8_t *g = font_glyph(buf[i]);

		for (r = 0; r < FONT_H; r++)
			for (c = 0; c < FONT_W; c++)
				if (g[r] >> (FONT_W - 1 - c) & 1)
					fill(s, x + c * scale, y + r * scale, scale, scale, rgb);
	}
	return x;
}

static uint32_t mark_rgb(char m)
{
	switch (m) {
	case 'd':
		return DASH_RGB_RECENT;
	case 'r':
		return DASH_RGB_ROUND;
	case 's':
		return DASH_RGB_SENT;
	case 't':
		return DASH_RGB_TOUCHED;
	default:
		return DASH_RGB_UNTOUCHED;
	}
}

static void draw_ram(struct dash *d, SDL_Surface *s)
{
	static const char marks[] = "drst.";
	static const char *const names[] = {
		"dirtied last interval", "dirtied this round", "sent", "touched", "never touched",
	};
	const struct json_value *ram = json_object_get(d->cur, "ram");
	const char *map = str(ram, "map");
	int cells = strlen(map), side = 1, px, i, x, y;

	while (side * side < cells)
		side++;
	px = DASH_RAM_SIZE / side ? DASH_RAM_SIZE / side : 1;
	text(s, DASH_RAM_X, DASH_RAM_Y - 14, 1, RGB_TITLE, "GUEST RAM  %.0f MIB, %.0f PAGES/CELL",
	     num(ram, "pages") / 256, cells ? num(ram, "pages") / cells : 0);
	fill(s, DASH_RAM_X, DASH_RAM_Y, DASH_RAM_SIZE, DASH_RAM_SIZE, RGB_PANEL);
	for (i = 0; i < cells; i++)
		fill(s, DASH_RAM_X + i % side * px, DASH_RAM_Y + i / side * px,
		     px > 2 ? px - 1 : px, px > 2 ? px - 1 : px, mark_rgb(map[i]));
	/* The legend. */
	y = DASH_RAM_Y + DASH_RAM_SIZE + 8;
	for (i = 0, x = DASH_RAM_X; i < 5; i++) {
		fill(s, x, y, 10, 10, mark_rgb(marks[i]));
		x = text(s, x + 14, y + 2, 1, RGB_TEXT, "%s", names[i]) + 12;
		if (i == 2) {
			x = DASH_RAM_X;
			y += 14;
		}
	}
	text(s, DASH_RAM_X, y + 16, 1, RGB_DIM, "write tracking: %s", str(ram, "tracking"));
}

static void draw_migration(struct dash *d, SDL_Surface *s)
{
	const struct json_value *m = json_object_get(d->cur, "migration");
	int x = DASH_MIG_X + 10, y = DASH_MIG_Y + 10, bar_w = DASH_MIG_W - 20;
	double pages = num(m, "round_pages"), done = num(m, "round_sent");
	const char *state = str(m, "state");

	if (!m)
		return;
	fill(s, DASH_MIG_X, DASH_MIG_Y, DASH_MIG_W, DASH_MIG_H, RGB_PANEL);
	frame_rect(s, DASH_MIG_X, DASH_MIG_Y, DASH_MIG_W, DASH_MIG_H, DASH_MIG_RGB);
	text(s, x, y, 2, DASH_MIG_RGB, "MIGRATION  %s", str(m, "phase")[0] ? str(m, "phase") : state);
	y += 22;
	text(s, x, y, 1, RGB_TEXT, "to %s", str(m, "uri"));
	y += 14;
	text(s, x, y, 1, RGB_TEXT, "round %.0f   sent %.1f MB   bandwidth %.1f MB/s",
	     num(m, "round"), num(m, "mb_sent"), num(m, "bandwidth_mbps"));
	y += 14;
	text(s, x, y, 1, RGB_TEXT, "dirty rate %.1f MB/s   pages left %.0f",
	     num(m, "dirty_rate_mbps"), num(m, "remaining_pages"));
	y += 14;
	text(s, x, y, 1, RGB_TEXT, "expected downtime %.1f ms",
	     num(m, "expected_downtime_ms"));
	y += 18;
	/* This round's progress: its pages sent of all it has to send. */
	fill(s, x, y, bar_w, 16, RGB_BG);
	if (!strcmp(state, "completed"))
		done = pages = 1;
	if (pages > 0)
		fill(s, x, y, (int)(bar_w * (done < pages ? done / pages : 1)), 16, DASH_MIG_RGB);
	text(s, x + 4, y + 4, 1, RGB_TEXT, "round %.0f: %.0f / %.0f pages", num(m, "round"),
	     done, pages);
	y += 24;
	if (!strcmp(state, "completed"))
		text(s, x, y, 2, RGB_TEXT, "DONE: DOWNTIME %.1f MS, %.0f MS IN ALL",
		     num(m, "downtime_ms"), num(m, "total_ms"));
	else if (str(m, "error")[0])
		text(s, x, y, 1, DASH_RGB_RECENT, "%s: %s", state, str(m, "error"));
}

static void draw_vcpus(struct dash *d, SDL_Surface *s, int y)
{
	static const char *const kinds[] = {
		"io", "mmio", "intr", "emulation", "dirty_ring_full", "other",
	};
	const struct json_value *cpus = json_object_get(d->cur, "vcpus");
	const struct json_value *pcpus = json_object_get(d->prev, "vcpus");
	double secs = interval(d);
	int x = DASH_MIG_X + 10;
	size_t i, k;

	text(s, DASH_MIG_X, y, 1, RGB_TITLE, "VCPU EXITS PER SECOND");
	y += 14;
	for (i = 0; i < count(cpus) && i < 4; i++, y += 12) {
		int cx = text(s, x, y, 1, RGB_TEXT, "vcpu %zu", i) + 12;

		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			cx = text(s, cx, y, 1, RGB_TEXT, "%s %.0f", kinds[k],
				  rate(item(cpus, i), item(pcpus, i), kinds[k], secs)) + 10;
	}
}

static void draw_devices(struct dash *d, SDL_Surface *s, int y)
{
	const struct json_value *devs = json_object_get(d->cur, "devices");
	const struct json_value *pdevs = json_object_get(d->prev, "devices");
	double secs = interval(d);
	int x = DASH_MIG_X + 10;
	size_t i, q;

	text(s, DASH_MIG_X, y, 1, RGB_TITLE, "DEVICES  (per queue: fill, kicks/s, irqs/s, "
	     "buffers/s)");
	y += 14;
	for (i = 0; i < count(devs) && y < DASH_H - 40; i++) {
		const struct json_value *dev = item(devs, i), *pdev = item(pdevs, i);
		const struct json_value *qs = json_object_get(dev, "queues");
		const struct json_value *qps = json_object_get(dev, "qps");

		text(s, x, y, 1, RGB_TEXT, "%s %.0f", str(dev, "kind"), num(dev, "index"));
		y += 12;
		for (q = 0; q < count(qs) && y < DASH_H - 40; q++, y += 11) {
			const struct json_value *vq = item(qs, q);
			const struct json_value *pvq = prev_queue(pdev, num(vq, "q"));
			int cx;

			cx = text(s, x + 12, y, 1, RGB_TEXT, "q%-2.0f %3.0f/%-3.0f %6.0f %6.0f %6.0f",
				  num(vq, "q"), num(vq, "fill"), num(vq, "size"),
				  rate(vq, pvq, "kicks", secs), rate(vq, pvq, "irqs", secs),
				  rate(vq, pvq, "used", secs));
			if (json_object_get(vq, "mode"))
				text(s, cx + 8, y, 1, !strcmp(str(vq, "mode"), "svq") ?
				     DASH_RGB_ROUND : RGB_DIM, "%s %s", str(vq, "mode"),
				     str(vq, "vq_state"));
		}
		for (q = 0; q < count(qps) && y < DASH_H - 40; q++, y += 11) {
			const struct json_value *qp = item(qps, q);

			text(s, x + 12, y, 1, RGB_TEXT, "qp %.0f %s %s  sq psn %.0f  rq psn %.0f",
			     num(qp, "qpn"), str(qp, "type"), str(qp, "state"), num(qp, "sq_psn"),
			     num(qp, "rq_psn"));
		}
	}
}

static void dash_draw(struct dash *d)
{
	SDL_Surface *s = d->frame;
	int y = DASH_MIG_Y;

	fill(s, 0, 0, DASH_W, DASH_H, RGB_BG);
	text(s, 16, 10, 2, RGB_TITLE, "VLAB DASH");
	text(s, 140, 10, 1, RGB_TEXT, "%s   %s   line %.0f", d->sock,
	     d->cur ? str(d->cur, "state") : "not attached", num(d->cur, "seq"));
	text(s, 140, 22, 1, RGB_DIM, "p pause/resume   s snapshot   q quit the dashboard");
	if (d->cur) {
		draw_ram(d, s);
		if (json_object_get(d->cur, "migration")) {
			draw_migration(d, s);
			y += DASH_MIG_H + 12;
		}
		draw_vcpus(d, s, y);
		draw_devices(d, s, y + 70);
	}
	fill(s, 0, DASH_H - 22, DASH_W, 22, RGB_PANEL);
	text(s, 16, DASH_H - 15, 1, RGB_TEXT, "%s", d->note);
}

/* ---- keys ------------------------------------------------------------ */

static void key_pause(struct dash *d)
{
	bool paused = d->cur && !strcmp(str(d->cur, "state"), "paused");
	char err[256];

	if (one_request(d->sock, paused ? "{\"cmd\":\"resume\"}\n" : "{\"cmd\":\"pause\"}\n",
			err, sizeof(err)))
		note(d, "%s: %s", paused ? "resume" : "pause", err);
	else
		note(d, "guest %s", paused ? "resumed" : "paused");
}

static void key_snapshot(struct dash *d)
{
	char cwd[2048], req[4096 + 64], err[256], name[64];
	time_t t = time(NULL);

	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), "/tmp");
	strftime(name, sizeof(name), "vlab-snapshot-%Y%m%d-%H%M%S", localtime(&t));
	snprintf(req, sizeof(req), "{\"cmd\":\"snapshot\",\"path\":\"%s/%s\"}\n", cwd, name);
	if (one_request(d->sock, req, err, sizeof(err)))
		note(d, "snapshot: %s", err);
	else
		note(d, "snapshot going to %s/%s", cwd, name);
}

/* ---- main ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f, "usage: vlab dash SOCK [--follow DEST_SOCK] [--period MS] [--screenshot FILE]\n"
		   "\n"
		   "A live view of the vlab started with --control SOCK: guest RAM, the\n"
		   "migration, vCPU exits, devices and queues. Keys: p pause/resume,\n"
		   "s snapshot to a file, q quit the dashboard (never the guest).\n"
		   "\n"
		   "  --follow DEST    after the guest migrated away, attach to DEST's socket\n"
		   "  --period MS      one line of the watch stream every MS (default %d)\n"
		   "  --screenshot F   draw one frame off-screen, write it to F (BMP) and exit\n",
		   DASH_PERIOD_MS);
}

/* Off-screen: two lines (for rates), one frame, written out. */
static int dash_screenshot(struct dash *d, const char *file)
{
	double deadline = now_s() + DASH_SHOT_TIMEOUT_S;

	if (dash_attach(d, d->sock)) {
		fprintf(stderr, "vlab dash: no vlab is listening on %s\n", d->sock);
		return 2;
	}
	while (now_s() < deadline && !(d->cur && d->prev)) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };

		if (poll(&p, 1, 100) == 1 && !dash_read(d))
			break;
	}
	if (!d->cur) {
		fprintf(stderr, "vlab dash: no watch line from %s%s%s\n", d->sock,
			d->note[0] ? ": " : "", d->note);
		return 1;
	}
	dash_draw(d);
	if (SDL_SaveBMP(d->frame, file)) {
		fprintf(stderr, "vlab dash: %s: %s\n", file, SDL_GetError());
		return 1;
	}
	printf("vlab dash: %s: line %.0f, %s%s\n", file, num(d->cur, "seq"),
	       str(d->cur, "state"), json_object_get(d->cur, "migration") ?
	       ", migration panel" : "");
	return 0;
}

static int dash_window(struct dash *d)
{
	SDL_Window *win;
	bool quit = false, dirty = true;

	if (SDL_Init(SDL_INIT_VIDEO)) {
		fprintf(stderr, "vlab dash: no display: %s (try --screenshot FILE)\n",
			SDL_GetError());
		return 1;
	}
	win = SDL_CreateWindow("vlab dash", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
			       DASH_W, DASH_H, 0);
	if (!win) {
		fprintf(stderr, "vlab dash: %s\n", SDL_GetError());
		SDL_Quit();
		return 1;
	}
	note(d, "attaching to %s", d->sock);
	while (!quit) {
		SDL_Event ev;

		if (d->fd < 0 && now_s() >= d->retry_at) {
			if (!dash_attach(d, d->sock)) {
				note(d, "attached to %s", d->sock);
				printf("vlab dash: attached to %s\n", d->sock);
				fflush(stdout);
			} else
				d->retry_at = now_s() + 0.5;
			dirty = true;
		}
		if (d->fd >= 0) {
			struct pollfd p = { .fd = d->fd, .events = POLLIN };
			const struct json_value *before = d->cur;

			if (poll(&p, 1, 30) == 1 && !dash_read(d))
				dash_stream_ended(d);
			dirty |= d->cur != before;
		} else {
			SDL_Delay(30);
		}
		while (SDL_PollEvent(&ev)) {
			if (ev.type == SDL_QUIT)
				quit = true;
			if (ev.type == SDL_WINDOWEVENT)
				dirty = true;
			if (ev.type != SDL_KEYDOWN)
				continue;
			switch (ev.key.keysym.sym) {
			case SDLK_q:
			case SDLK_ESCAPE:
				quit = true;
				break;
			case SDLK_p:
				key_pause(d);
				break;
			case SDLK_s:
				key_snapshot(d);
				break;
			}
			dirty = true;
		}
		if (dirty) {
			SDL_Surface *ws = SDL_GetWindowSurface(win);

			dash_draw(d);
			if (ws) {
				SDL_BlitSurface(d->frame, NULL, ws, NULL);
				SDL_UpdateWindowSurface(win);
			}
			dirty = false;
		}
	}
	SDL_DestroyWindow(win);
	SDL_Quit();
	return 0;
}

int main(int argc, char **argv)
{
	struct dash d = { .fd = -1, .period_ms = DASH_PERIOD_MS };
	const char *shot = NULL;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--screenshot") && i + 1 < argc) {
			shot = argv[++i];
		} else if (!strcmp(argv[i], "--follow") && i + 1 < argc) {
			d.follow = argv[++i];
		} else if (!strcmp(argv[i], "--period") && i + 1 < argc) {
			d.period_ms = atoi(argv[++i]);
		} else if (argv[i][0] != '-' && !d.sock) {
			d.sock = argv[i];
		} else {
			fprintf(stderr, "vlab dash: unexpected '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!d.sock || d.period_ms < 20 || d.period_ms > 60000) {
		usage(stderr);
		return 2;
	}
	d.frame = SDL_CreateRGBSurfaceWithFormat(0, DASH_W, DASH_H, 24, SDL_PIXELFORMAT_RGB24);
	if (!d.frame) {
		fprintf(stderr, "vlab dash: %s\n", SDL_GetError());
		return 1;
	}
	if (shot) {
		d.period_ms = DASH_SHOT_PERIOD_MS;
		ret = dash_screenshot(&d, shot);
	} else {
		ret = dash_window(&d);
	}
	dash_detach(&d);
	json_free(d.cur);
	json_free(d.prev);
	free(d.in);
	SDL_FreeSurface(d.frame);
	return ret;
}
