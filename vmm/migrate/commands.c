// SPDX-License-Identifier: GPL-2.0
/*
 * Migration's control commands (migrate, snapshot, migrate-cancel, pause,
 * resume, quit, dump-state) and its status members.
 */
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <linux/kvm.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmm/control/control.h"
#include "vmm/x86/cpu_state.h"
#include "vmm/mem/dirty_ring.h"
#include "vmm/control/json.h"
#include "vmm/migrate/migrate.h"
#include "vmm/migrate/state.h"
#include "vmm/core/vm.h"
#include "vmm/migrate/internal.h"

static const char *mig_state_name(enum mig_state s)
{
	static const char *const names[] = {
		[MIG_NONE] = "none", [MIG_ACTIVE] = "active", [MIG_COMPLETED] = "completed",
		[MIG_FAILED] = "failed", [MIG_CANCELLED] = "cancelled",
		[MIG_INCOMING] = "incoming",
	};

	return names[s];
}

const char *mig_phase_name(const struct migration *m)
{
	if (m->state != MIG_ACTIVE)
		return mig_state_name(m->state);
	if (m->snapshot)
		return "snapshot";
	if (__atomic_load_n(&m->stopped, __ATOMIC_ACQUIRE))
		return "stop-and-copy";
	/* Local: no pages go, the destination is mapping the memfds. */
	return m->local ? "handing-over" : "pre-copy";
}

static int mig_result(struct vm *vm, struct json_writer *reply, void *opaque)
{
	struct migration *m = opaque;

	if (m->state != MIG_COMPLETED) {
		control_reply_error(reply, "%s to %s %s: %s", m->snapshot ? "snapshot" : "migration",
				    m->uri, mig_state_name(m->state), m->error);
		json_kv_string(reply, "state", mig_state_name(m->state));
		return -1;
	}
	json_kv_string(reply, "state", "completed");
	json_kv_string(reply, "uri", m->uri);
	json_kv_double(reply, "mb_sent", m->bytes_sent / 1e6);
	json_kv_double(reply, "total_ms", m->total_ms);
	json_kv_double(reply, "downtime_ms", m->downtime_ms);
	return 0;
}

static void mig_answer_waiter(struct migration *m)
{
	struct control_waiter *w = m->waiter;

	if (w) {
		m->waiter = NULL;
		control_finish(w, mig_result, m);
	}
}

static void on_mig_done(int fd, void *opaque)
{
	struct migration *m = opaque;
	uint64_t cnt;

	if (read(fd, &cnt, sizeof(cnt)) < 0)
		return;
	if (m->state != MIG_ACTIVE)
		mig_answer_waiter(m);
}

/*
 * quit during a migration or snapshot cancels it (migrate_exit(); a
 * migration past its commit point ends as it can) and says so; the
 * partial snapshot file is removed. To keep a snapshot, wait for it
 * (wait=true) before quitting.
 */
static int cmd_quit(struct vm *vm, const struct json_value *req, struct json_writer *reply,
		    void *opaque)
{
	struct migration *m = vm->mig;

	if (m->state == MIG_ACTIVE)
		json_kv_string(reply, "cancelling", m->uri);
	vlab_log("quit from the control socket");
	vm_stop(vm, VM_STOP_USER, 0);
	return 0;
}

static int cmd_migrate(struct vm *vm, const struct json_value *req, struct json_writer *reply,
		       void *opaque)
{
	return mig_start(vm, json_get_string(json_object_get(req, "uri")), false, req, reply);
}

static int cmd_snapshot(struct vm *vm, const struct json_value *req, struct json_writer *reply,
			void *opaque)
{
	const char *uri = json_get_string(json_object_get(req, "uri"));
	const char *path = json_get_string(json_object_get(req, "path"));
	char buf[MIG_URI_MAX + 1];

	/* "path" is friendlier for files: vlab ctl SOCK snapshot path=/tmp/s */
	if (!uri && path) {
		if (strlen(path) > PATH_MAX)
			return control_reply_error(reply, "path longer than %d bytes", PATH_MAX);
		snprintf(buf, sizeof(buf), "file:%s", path);
		uri = buf;
	}
	return mig_start(vm, uri, true, req, reply);
}

static int cmd_migrate_cancel(struct vm *vm, const struct json_value *req,
			      struct json_writer *reply, void *opaque)
{
	struct migration *m = vm->mig;

	if (m->state != MIG_ACTIVE)
		return control_reply_error(reply, "no migration is running");
	/* See the commit point in mig_stop_and_copy(). */
	__atomic_store_n(&m->cancel, true, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&m->committed, __ATOMIC_SEQ_CST))
		return control_reply_error(reply, "too late to cancel: the whole stream went out "
					   "and the destination may be running the guest");
	/* Unblock a write stuck on a slow or dead peer. */
	if (m->fd >= 0)
		shutdown(m->fd, SHUT_RDWR);
	json_kv_string(reply, "state", "cancelling");
	return 0;
}

/*
 * `resume` as control.c has it, plus what a migration may have left: the
 * devices of a guest held after a lost acknowledgement. During a
 * stop-and-copy the pause belongs to the migration: refused.
 */
static int cmd_resume(struct vm *vm, const struct json_value *req,
		      struct json_writer *reply, void *opaque)
{
	struct migration *m = vm->mig;

	if (m->state == MIG_INCOMING)
		return control_reply_error(reply, "%s", MIG_WAITING);
	if (m->state == MIG_ACTIVE && __atomic_load_n(&m->stopped, __ATOMIC_ACQUIRE))
		return control_reply_error(reply, "resume: the migration is switching over; "
					   "use migrate-cancel");
	if (__atomic_exchange_n(&m->devices_held, false, __ATOMIC_ACQ_REL)) {
		vlab_log("resumed by the operator after a lost acknowledgement");
		mig_devices(vm, false);
	}
	vm_resume(vm);
	json_kv_string(reply, "state", vm_state_name(vm));
	return 0;
}

/* `pause` as control.c has it, but a destination has no guest to pause yet. */
static int cmd_pause(struct vm *vm, const struct json_value *req,
		     struct json_writer *reply, void *opaque)
{
	if (vm->mig->state == MIG_INCOMING)
		return control_reply_error(reply, "%s", MIG_WAITING);
	vm_pause(vm);
	json_kv_string(reply, "state", vm_state_name(vm));
	return 0;
}

static int cmd_dump_state(struct vm *vm, const struct json_value *req,
			  struct json_writer *reply, void *opaque)
{
	struct state_buf sb;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	if (vm->mig->state == MIG_INCOMING)
		return control_reply_error(reply, "%s", MIG_WAITING);
	if (vm->mig->state == MIG_ACTIVE)
		return control_reply_error(reply, "a migration is running");
	vm_pause(vm);
	mig_devices(vm, true);
	ret = mig_state_save(vm, &sb);
	mig_devices(vm, false);
	vm_resume(vm);
	if (ret) {
		state_buf_free(&sb);
		return control_reply_error(reply, "saving the state failed");
	}
	f = open_memstream(&text, &len);
	if (!f) {
		state_buf_free(&sb);
		return control_reply_error(reply, "out of memory");
	}
	state_dump(state_blob(&sb), f);
	fclose(f);
	json_kv_uint(reply, "bytes", state_blob_size(&sb));
	json_kv_string(reply, "dts", text);
	free(text);
	state_buf_free(&sb);
	return 0;
}

static void status_migration(struct vm *vm, struct json_writer *w, void *opaque)
{
	migrate_write_status(vm, w);
}

void migrate_write_status(struct vm *vm, struct json_writer *w)
{
	struct migration *m = vm->mig;

	json_obj_begin(w);
	json_kv_string(w, "state", mig_state_name(m->state));
	if (m->state == MIG_INCOMING) {
		json_kv_string(w, "uri", m->uri);
		json_obj_end(w);
		return;
	}
	json_kv_string(w, "dirty_log", vm->dirty_ring ? "ring" : "bitmap");
	if (vm->dirty_ring) {
		json_kv_uint(w, "dirty_ring_entries", vm->dirty_ring->entries);
		json_kv_uint(w, "dirty_ring_harvested",
			     __atomic_load_n(&vm->dirty_ring->nr_harvested, __ATOMIC_RELAXED));
		json_kv_uint(w, "dirty_ring_full_exits",
			     __atomic_load_n(&vm->dirty_ring->nr_full_exits, __ATOMIC_RELAXED));
	}
	if (m->state != MIG_NONE) {
		json_kv_string(w, "uri", m->uri);
		json_kv_bool(w, "snapshot", m->snapshot);
		json_kv_string(w, "mode", m->local ? "local" : "precopy");
		json_kv_string(w, "phase", mig_phase_name(m));
		json_kv_int(w, "round", m->round);
		json_kv_uint(w, "round_pages", __atomic_load_n(&m->round_pages, __ATOMIC_RELAXED));
		json_kv_uint(w, "round_sent", __atomic_load_n(&m->round_sent, __ATOMIC_RELAXED));
		json_kv_uint(w, "bytes", m->bytes_sent);
		json_kv_double(w, "mb_sent", m->bytes_sent / 1e6);
		json_kv_uint(w, "pages", m->pages_sent);
		json_kv_uint(w, "zero_pages", m->zero_pages);
		json_kv_uint(w, "remaining_pages", m->remaining_pages);
		json_kv_double(w, "bandwidth_mbps", m->bandwidth / 1e6);
		json_kv_double(w, "dirty_rate_mbps", m->dirty_rate / 1e6);
		json_kv_double(w, "expected_downtime_ms", m->expected_downtime_ms);
		json_kv_double(w, "total_ms", m->total_ms);
		json_kv_double(w, "downtime_ms", m->downtime_ms);
		if (m->error[0])
			json_kv_string(w, "error", m->error);
	}
	json_obj_end(w);
}

/* The VM's state in status: a destination has none yet, it waits. */
static void status_state(struct vm *vm, struct json_writer *w, void *opaque)
{
	json_put_string(w, vm->mig->state == MIG_INCOMING ? "waiting" : vm_state_name(vm));
}

void migrate_init(struct vm *vm)
{
	vm->mig = calloc(1, sizeof(*vm->mig));
	if (!vm->mig)
		return;
	vm->mig->vm = vm;
	vm->mig->fd = -1;
	vm->mig->in_fd = vm->mig->in_cancel_fd = vm->mig->in_done_fd = -1;
	pthread_mutex_init(&vm->mig->lock, NULL);
	vm->mig->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->mig->done_fd >= 0 &&
	    event_loop_add(&vm->loop, vm->mig->done_fd, on_mig_done, vm->mig)) {
		close(vm->mig->done_fd);
		vm->mig->done_fd = -1;
	}
	control_register("migrate", cmd_migrate, NULL);
	control_register("migrate-cancel", cmd_migrate_cancel, NULL);
	control_register("snapshot", cmd_snapshot, NULL);
	control_register("dump-state", cmd_dump_state, NULL);
	control_register("resume", cmd_resume, NULL);
	control_register("pause", cmd_pause, NULL);
	control_register("quit", cmd_quit, NULL);
	control_register_status("migration", status_migration, NULL);
	control_register_status("state", status_state, NULL);
}

void migrate_exit(struct vm *vm)
{
	struct migration *m = vm->mig;

	if (!m)
		return;
	m->exiting = true;
	if (m->thread_running && m->state == MIG_INCOMING)
		mig_incoming_cancel(m);
	if (m->thread_running) {
		if (m->state == MIG_ACTIVE) {
			__atomic_store_n(&m->cancel, true, __ATOMIC_RELEASE);
			if (m->fd >= 0)
				shutdown(m->fd, SHUT_RDWR);
		}
		pthread_join(m->thread, NULL);
		m->thread_running = false;
	}
	/* Before control_exit(): the reply goes out with the others. */
	mig_answer_waiter(m);
	if (m->done_fd >= 0) {
		event_loop_del(&vm->loop, m->done_fd);
		close(m->done_fd);
	}
	pthread_mutex_destroy(&m->lock);
	free(m->sent_bm);
	free(m->pending_bm);
	free(m);
	vm->mig = NULL;
}

