// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket's request handler as a client drives it: the input
 * is the byte stream a client sends (lines of JSON, split at any point),
 * fed to a session of a VM shell. Only the core commands are registered
 * (status, pause, resume, quit, help, and watch, which without a
 * connection only checks its options): the migration commands would open
 * files and sockets, and their argument checks run before that in
 * fuzz_migrate's reach instead.
 */
#include "fuzz.h"
#include "vmm/control/control.h"
#include "vmm/control/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm vm;
	static struct vm_config cfg;
	static bool ready;
	struct control_session s;
	struct json_writer out;
	size_t cut;

	if (!ready) {
		fuzz_vm_init(&vm, &cfg, 1 << 20);
		ready = true;
	}
	vm.stop_reason = VM_RUNNING;
	vm.paused = false;
	json_writer_init(&out);
	control_session_init(&s, &vm);
	/* Two reads, cut where the first byte says. */
	cut = size ? data[0] % (size + 1) : 0;
	control_session_feed(&s, (const char *)data, cut, &out);
	control_session_feed(&s, (const char *)data + cut, size - cut, &out);
	control_session_eof(&s, &out);
	control_session_release(&s);
	json_writer_release(&out);
	return 0;
}
