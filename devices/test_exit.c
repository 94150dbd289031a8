// SPDX-License-Identifier: GPL-2.0
/*
 * Test-exit port (0x501): a guest test writes its result and vlab exits
 * with that status (value & 0xff). Payloads and in-guest tests use it to
 * report pass/fail without a console parser. Port 0x80 (POST codes, and
 * Linux's I/O delay) is swallowed here too so it costs no log noise.
 */
#include "vmm/vm.h"

#define TEST_EXIT_PORT	0x501
#define POST_PORT	0x80

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
		ret = io_bus_register(&vm->pio, POST_PORT, 1, post_port, vm, "post");
	return ret;
}

VM_INIT(test_exit_vm_init, NULL, VM_INIT_DEVICE);
