// SPDX-License-Identifier: GPL-2.0
/*
 * i8042 keyboard controller: just enough for Linux's reboot path
 * (command 0xFE pulses the CPU reset line) and its probe.
 */
#include <errno.h>
#include <stdlib.h>

#include "devices/legacy/i8042.h"
#include "vmm/migrate/state.h"
#include "vmm/core/vm.h"

#define I8042_DATA	0x60
#define I8042_CMD	0x64

#define I8042_STR_OBF		0x01	/* output buffer full */
#define I8042_STR_SYSFLAG	0x04

#define I8042_CMD_READ_CTR	0x20
#define I8042_CMD_WRITE_CTR	0x60
#define I8042_CMD_SELF_TEST	0xaa
#define I8042_CMD_KBD_TEST	0xab
#define I8042_CMD_RESET		0xfe


static void i8042_data(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct i8042 *k = opaque;
	uint8_t *v = data;

	if (is_write) {
		if (k->want_ctr)
			k->ctr = *v;
		k->want_ctr = false;
		return;
	}
	*v = k->out;
	k->out_full = false;
}

static void i8042_cmd(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct i8042 *k = opaque;
	uint8_t *v = data;

	if (!is_write) {
		*v = I8042_STR_SYSFLAG | (k->out_full ? I8042_STR_OBF : 0);
		return;
	}
	switch (*v) {
	case I8042_CMD_READ_CTR:
		k->out = k->ctr;
		k->out_full = true;
		break;
	case I8042_CMD_WRITE_CTR:
		k->want_ctr = true;
		break;
	case I8042_CMD_SELF_TEST:
		k->out = 0x55;
		k->out_full = true;
		break;
	case I8042_CMD_KBD_TEST:
		k->out = 0x00;
		k->out_full = true;
		break;
	case I8042_CMD_RESET:
		vm_stop(k->vm, VM_STOP_RESET, 0);
		break;
	}
}

static const struct state_field i8042_fields[] = {
	STATE_UINT(struct i8042, ctr, "ctr"),
	STATE_UINT(struct i8042, out, "out"),
	STATE_BOOL(struct i8042, out_full, "out-full"),
	STATE_BOOL(struct i8042, want_ctr, "want-ctr"),
};

int i8042_state_save(struct i8042 *k, struct state_buf *sb)
{
	return state_put_fields(sb, k, i8042_fields, ARRAY_SIZE(i8042_fields));
}

int i8042_state_load(struct i8042 *k, const void *fdt, int node, char *err, size_t errlen)
{
	struct i8042 tmp = *k;

	if (state_get_fields(fdt, node, &tmp, i8042_fields, ARRAY_SIZE(i8042_fields),
			     err, errlen))
		return -1;
	*k = tmp;
	return 0;
}

static int i8042_save(void *opaque, struct state_buf *sb)
{
	return i8042_state_save(opaque, sb);
}

static int i8042_load(void *opaque, const void *fdt, int node, char *err, size_t errlen)
{
	return i8042_state_load(opaque, fdt, node, err, errlen);
}

static int i8042_vm_init(struct vm *vm)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -ENOMEM;
	k->vm = vm;
	vm->i8042 = k;
	vm_dev_state_register(vm, &(struct vm_dev_state){
		.name = "i8042", .version = 1, .opaque = k,
		.save = i8042_save, .load = i8042_load,
	});
	ret = io_bus_register(&vm->pio, I8042_DATA, 1, i8042_data, k, "i8042-data");
	if (!ret)
		ret = io_bus_register(&vm->pio, I8042_CMD, 1, i8042_cmd, k, "i8042-cmd");
	return ret;
}

static void i8042_vm_exit(struct vm *vm)
{
	free(vm->i8042);
	vm->i8042 = NULL;
}

VM_INIT(i8042_vm_init, i8042_vm_exit, VM_INIT_DEVICE);
