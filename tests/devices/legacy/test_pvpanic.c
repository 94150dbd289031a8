// SPDX-License-Identifier: GPL-2.0
/* pvpanic-pci's register: the events it offers, and what each write does. */
#include <check.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check_main.h"
#include "devices/legacy/pvpanic.h"
#include "vmm/core/config.h"
#include "vmm/core/vm.h"

static struct vm vm;
static struct pvpanic p;

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	pthread_mutex_init(&vm.stop_lock, NULL);
	pthread_mutex_init(&vm.pause_lock, NULL);
	pthread_cond_init(&vm.pause_cond, NULL);
	vm.stop_fd = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_ge(vm.stop_fd, 0);
	memset(&p, 0, sizeof(p));
	p.vm = &vm;
}

static void teardown(void)
{
	close(vm.stop_fd);
}

static void write_event(uint8_t ev)
{
	pvpanic_access(&p, 0, &ev, 1, true);
}

START_TEST(reads_supported_events)
{
	uint8_t b[4] = { 0xaa, 0xaa, 0xaa, 0xaa };

	pvpanic_access(&p, 0, b, 1, false);
	ck_assert_uint_eq(b[0], PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
	/* Past the register: zeros, whatever the width. */
	memset(b, 0xaa, sizeof(b));
	pvpanic_access(&p, 4, b, 4, false);
	ck_assert_uint_eq(b[0] | b[1] | b[2] | b[3], 0);
}
END_TEST

START_TEST(panicked_stops_with_status_1)
{
	write_event(0);
	ck_assert_int_eq(vm.stop_reason, VM_RUNNING);
	write_event(PVPANIC_PANICKED);
	ck_assert_int_eq(vm.stop_reason, VM_STOP_PANIC);
	ck_assert_int_eq(vm.exit_code, VLAB_EXIT_GUEST_CRASH);
	ck_assert_uint_eq(p.last_event, PVPANIC_PANICKED);
}
END_TEST

START_TEST(crash_loaded_keeps_running)
{
	/* kdump takes over: the guest goes on, into its crash kernel. */
	write_event(PVPANIC_CRASH_LOADED);
	ck_assert_int_eq(vm.stop_reason, VM_RUNNING);
	/* A write elsewhere in the BAR is not an event. */
	{
		uint8_t ev = PVPANIC_PANICKED;

		pvpanic_access(&p, 8, &ev, 1, true);
	}
	ck_assert_int_eq(vm.stop_reason, VM_RUNNING);
}
END_TEST

VLAB_SUITE_MAIN("pvpanic", "register", setup, teardown, 0,
	reads_supported_events, panicked_stops_with_status_1, crash_loaded_keeps_running);
