// SPDX-License-Identifier: GPL-2.0
/*
 * Test-exit port (0x501): a guest test writes its result and vlab exits
 * with that status (value & 0xff). Payloads and in-guest tests use it to
 * report pass/fail without a console parser. Port 0x80 (POST codes, and
 * Linux's I/O delay) is swallowed here too so it costs no log noise.
 *
 * The other way, port 0x510 reads the byte a test last set with the
 * control command `test-request value=N` (0 until then): a payload that
 * runs "until the test says so" polls it, so no test depends on guessing
 * how long the machine will take.
 */
#include "vmm/control/control.h"
#include "vmm/control/json.h"
#include "vmm/core/vm.h"

#define TEST_EXIT_PORT		0x501
#define TEST_REQUEST_PORT	0x510
#define POST_PORT		0x80

static void test_exit_write(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct vm *vm = opaque;
	uint32_t v = 0;
	int i;

	if (!is_write) {
		for (i = 0; i < len; i++)
			((uint8_t *)data)[i] = 0;
		return;
	}
	for (i = 0; i < len && i < 4; i++)
		v |= (uint32_t)((uint8_t *)data)[i] << (8 * i);
	vm_stop(vm, VM_STOP_TEST_EXIT, v & 0xff);
}

static void test_request_read(void *opaque, uint64_t off, void *data, int len,
			      bool is_write)
{
	struct vm *vm = opaque;
	int i;

	if (is_write)
		return;
	for (i = 0; i < len; i++)
		((uint8_t *)data)[i] = 0;
	((uint8_t *)data)[0] = __atomic_load_n(&vm->test_request, __ATOMIC_ACQUIRE);
}

static int cmd_test_request(struct vm *vm, const struct json_value *req,
			    struct json_writer *reply, void *opaque)
{
	int64_t v = 1;

	if (json_object_get(req, "value") &&
	    (json_get_int64(json_object_get(req, "value"), &v) || v < 0 || v > 255))
		return control_reply_error(reply, "value must be 0..255");
	__atomic_store_n(&vm->test_request, (uint8_t)v, __ATOMIC_RELEASE);
	json_kv_int(reply, "value", v);
	return 0;
}

static void post_port(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	if (!is_write)
		*(uint8_t *)data = 0xff;
}

static int test_exit_vm_init(struct vm *vm)
{
	int ret = io_bus_register(&vm->pio, TEST_EXIT_PORT, 4, test_exit_write, vm,
				  "test-exit");

	if (!ret)
		ret = io_bus_register(&vm->pio, TEST_REQUEST_PORT, 1, test_request_read, vm,
				      "test-request");
	if (!ret)
		ret = io_bus_register(&vm->pio, POST_PORT, 1, post_port, vm, "post");
	/* The handler acts on the VM it is called for: one entry serves any VM. */
	if (!ret)
		ret = control_register("test-request", cmd_test_request, NULL);
	return ret;
}

VM_INIT(test_exit_vm_init, NULL, VM_INIT_DEVICE);
