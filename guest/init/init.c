// SPDX-License-Identifier: GPL-2.0
/*
 * /init of the vlab test initramfs: say hello on the console, then power
 * the machine off. No libc: built with -static -nostdlib, it makes its
 * own system calls.
 *
 * On the emulating kvm_pvm hosts user space cannot make system calls, so
 * this dies on its first SYSCALL and the kernel panics (panic=-1 then
 * resets); the Linux tests there run inside the kernel (vlab_ktest). On
 * hardware KVM it prints "vlab init" and powers off.
 */

#define SYS_write	1
#define SYS_exit	60
#define SYS_reboot	169

#define REBOOT_MAGIC1		0xfee1deadUL
#define REBOOT_MAGIC2		672274793UL
#define REBOOT_CMD_POWER_OFF	0x4321fedcUL

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	asm volatile ("syscall"
		      : "=a" (ret)
		      : "a" (nr), "D" (a), "S" (b), "d" (c)
		      : "rcx", "r11", "memory");
	return ret;
}

static long sys4(long nr, long a, long b, long c, long d)
{
	register long r10 asm("r10") = d;
	long ret;

	asm volatile ("syscall"
		      : "=a" (ret)
		      : "a" (nr), "D" (a), "S" (b), "d" (c), "r" (r10)
		      : "rcx", "r11", "memory");
	return ret;
}

static void say(const char *s)
{
	unsigned long len = 0;

	while (s[len])
		len++;
	sys3(SYS_write, 1, (long)s, len);
}

/* The kernel opened /dev/console as fds 0, 1 and 2 before exec'ing us. */
void __attribute__((noreturn, used)) vlab_init_main(void)
{
	say("vlab init\n");
	sys4(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, REBOOT_CMD_POWER_OFF, 0);
	/* Only reached if reboot() failed; init exiting panics the kernel. */
	say("vlab init: reboot failed\n");
	for (;;)
		sys3(SYS_exit, 1, 0, 0);
}

/* Entry from the kernel: align the stack as a call would and go. */
asm(".text\n"
	".globl _start\n"
	"_start:\n"
	"\txor %ebp, %ebp\n"
	"\tand $-16, %rsp\n"
	"\tcall vlab_init_main\n"
	"\thlt\n");
