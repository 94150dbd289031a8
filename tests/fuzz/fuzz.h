/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): a guest RAM buffer
 * and a VM shell with just what the code under test touches (locks, stop
 * eventfd, RAM), and a seed writer for the targets' --make-seeds mode.
 */
#ifndef VLAB_TESTS_FUZZ_H
#define VLAB_TESTS_FUZZ_H

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/mem/guest_mem.h"
#include "vmm/core/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A VM with no KVM behind it: enough for control commands and loaders. */
static inline void fuzz_vm_init(struct vm *vm, struct vm_config *cfg, uint64_t ram)
{
	static uint8_t *buf;

	memset(vm, 0, sizeof(*vm));
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = ram;
	cfg->nr_cpus = 1;
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	buf = aligned_alloc(GM_PAGE_SIZE, ram);
	if (!buf || vm->stop_fd < 0 || guest_mem_init_buffer(&vm->mem, buf, ram))
		abort();
}

/* --make-seeds DIR: write seed @name (a target's own builder made it). */
static inline void fuzz_write_seed(const char *dir, const char *name, const void *p,
				   size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

#endif
