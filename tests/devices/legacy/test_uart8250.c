// SPDX-License-Identifier: GPL-2.0
/* 16550A register model, driven the way the Linux 8250 driver drives it. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "check_main.h"
#include "devices/legacy/uart8250.h"
#include "state_test.h"

enum { RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR };
#define THR	RBR
#define FCR	IIR
#define DLL	RBR
#define DLM	IER

#define IIR_NO_INT	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

static struct uart8250 *u;

/* Interrupt line as the device last drove it, and every change. */
static int irq_level;
static int irq_changes;

static void record_irq(struct uart8250 *dev, int level)
{
	ck_assert_ptr_eq(dev, u);
	irq_level = level;
	irq_changes++;
}

static void setup(void)
{
	u = calloc(1, sizeof(*u));
	ck_assert_ptr_nonnull(u);
	pthread_mutex_init(&u->lock, NULL);
	u->tx = malloc(UART_TX_RING);
	ck_assert_ptr_nonnull(u->tx);
	u->tx_notify_fd = -1;
	uart8250_reset(u);
	irq_level = 0;
	irq_changes = 0;
	uart8250_set_irq_fn(record_irq);
}

static void teardown(void)
{
	uart8250_set_irq_fn(NULL);
	free(u->tx);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static void out(unsigned int reg, uint8_t v)
{
	uart8250_access(u, reg, &v, 1, true);
}

static uint8_t in(unsigned int reg)
{
	uint8_t v = 0xee;

	uart8250_access(u, reg, &v, 1, false);
	return v;
}

static void rx(const char *s)
{
	ck_assert_int_eq(uart8250_receive(u, (const uint8_t *)s, strlen(s)), (int)strlen(s));
}

START_TEST(reset_state)
{
	ck_assert_uint_eq(in(IER), 0);
	ck_assert_uint_eq(in(IIR), IIR_NO_INT);
	ck_assert_uint_eq(in(LCR), 0x03);
	ck_assert_uint_eq(in(MCR), 0x08);
	ck_assert_uint_eq(in(LSR), LSR_THRE | LSR_TEMT);
	ck_assert_uint_eq(in(MSR) & 0xb0, 0xb0);	/* DCD, DSR, CTS */
	ck_assert_uint_eq(in(SCR), 0);
	ck_assert_uint_eq(in(RBR), 0);			/* empty FIFO reads 0 */
	ck_assert_int_eq(irq_changes, 0);
}
END_TEST

START_TEST(thr_output_in_order)
{
	const char *msg = "Hello, vlab!\r\n";
	uint8_t buf[64];
	size_t i;

	for (i = 0; msg[i]; i++)
		out(THR, msg[i]);
	ck_assert_int_eq(uart8250_take_output(u, buf, sizeof(buf)), (int)strlen(msg));
	ck_assert_int_eq(memcmp(buf, msg, strlen(msg)), 0);
	ck_assert_int_eq(uart8250_take_output(u, buf, sizeof(buf)), 0);

	/* Partial takes keep the rest for later. */
	out(THR, 'a');
	out(THR, 'b');
	out(THR, 'c');
	ck_assert_int_eq(uart8250_take_output(u, buf, 2), 2);
	ck_assert_int_eq(buf[0], 'a');
	ck_assert_int_eq(buf[1], 'b');
	ck_assert_int_eq(uart8250_take_output(u, buf, 2), 1);
	ck_assert_int_eq(buf[0], 'c');
	ck_assert_int_eq(uart8250_take_output(u, buf, 0), 0);
	/* The transmitter is always ready. */
	ck_assert_uint_eq(in(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	ck_assert_int_eq(u->tx_dropped, 0);
}
END_TEST

START_TEST(tx_ring_wraps)
{
	uint8_t buf[256];
	int i, round;

	/* Walk the ring indices all the way around a few times. */
	for (round = 0; round < 3 * UART_TX_RING / 200; round++) {
		for (i = 0; i < 200; i++)
			out(THR, (uint8_t)(round + i));
		ck_assert_int_eq(uart8250_take_output(u, buf, sizeof(buf)), 200);
		for (i = 0; i < 200; i++)
			if (buf[i] != (uint8_t)(round + i))
				ck_abort_msg("round %d byte %d: %#x", round, i, buf[i]);
	}
	ck_assert_int_eq(u->tx_dropped, 0);
}
END_TEST

START_TEST(tx_ring_overflow)
{
	static uint8_t buf[UART_TX_RING];
	int i;

	/* The ring holds UART_TX_RING - 1 bytes; the rest are counted and dropped. */
	for (i = 0; i < UART_TX_RING + 9; i++)
		out(THR, (uint8_t)i);
	ck_assert_uint_eq(u->tx_dropped, 10);
	ck_assert_int_eq(uart8250_take_output(u, buf, sizeof(buf)), UART_TX_RING - 1);
	for (i = 0; i < UART_TX_RING - 1; i++)
		if (buf[i] != (uint8_t)i)
			ck_abort_msg("byte %d: %#x", i, buf[i]);
	/* Room again after draining. */
	out(THR, 'z');
	ck_assert_int_eq(uart8250_take_output(u, buf, 4), 1);
	ck_assert_int_eq(buf[0], 'z');
	ck_assert_uint_eq(u->tx_dropped, 10);
}
END_TEST

START_TEST(tx_notify_eventfd)
{
	uint64_t cnt = 0;
	uint8_t buf[4];
	int fd = eventfd(0, EFD_NONBLOCK);

	ck_assert_int_ge(fd, 0);
	u->tx_notify_fd = fd;
	/* Poked when the ring goes non-empty, not for every byte. */
	out(THR, 'a');
	out(THR, 'b');
	ck_assert_int_eq(read(fd, &cnt, sizeof(cnt)), sizeof(cnt));
	ck_assert_uint_eq(cnt, 1);
	ck_assert_int_eq(read(fd, &cnt, sizeof(cnt)), -1);
	uart8250_take_output(u, buf, sizeof(buf));
	out(THR, 'c');
	ck_assert_int_eq(read(fd, &cnt, sizeof(cnt)), sizeof(cnt));
	ck_assert_uint_eq(cnt, 1);
	u->tx_notify_fd = -1;
	close(fd);
}
END_TEST

START_TEST(divisor_latch)
{
	out(LCR, 0x83);			/* DLAB, 8n1 */
	ck_assert_uint_eq(in(DLL), 12);	/* reset value: 9600 baud */
	ck_assert_uint_eq(in(DLM), 0);
	out(DLL, 0x01);			/* 115200 */
	out(DLM, 0x00);
	ck_assert_uint_eq(u->divisor, 1);
	out(DLL, 0x34);
	out(DLM, 0x12);
	ck_assert_uint_eq(u->divisor, 0x1234);
	ck_assert_uint_eq(in(DLL), 0x34);
	ck_assert_uint_eq(in(DLM), 0x12);
	/* Writes with DLAB set neither transmit nor change IER. */
	ck_assert_int_eq(uart8250_take_output(u, (uint8_t[4]){ 0 }, 4), 0);
	ck_assert_uint_eq(u->ier, 0);
	ck_assert_int_eq(irq_changes, 0);
	/* With DLAB clear the same offsets are THR/RBR and IER again. */
	out(LCR, 0x03);
	ck_assert_uint_eq(in(LCR), 0x03);
	out(IER, 0x05);
	ck_assert_uint_eq(in(IER), 0x05);
	ck_assert_uint_eq(u->divisor, 0x1234);
	/* With DLAB set, received data stays in the FIFO. */
	rx("q");
	out(LCR, 0x83);
	ck_assert_uint_eq(in(RBR), 0x34);
	out(LCR, 0x03);
	ck_assert_uint_eq(in(RBR), 'q');
}
END_TEST

START_TEST(scratch_register)
{
	out(SCR, 0x5a);
	ck_assert_uint_eq(in(SCR), 0x5a);
	out(SCR, 0xa5);
	ck_assert_uint_eq(in(SCR), 0xa5);
	/* LSR and MSR writes are ignored. */
	out(LSR, 0x00);
	ck_assert_uint_eq(in(LSR), LSR_THRE | LSR_TEMT);
	out(MSR, 0x00);
	ck_assert_uint_eq(in(MSR) & 0xb0, 0xb0);
	/* IER keeps only its four defined bits, MCR its five. */
	out(IER, 0xff);
	ck_assert_uint_eq(in(IER), 0x0f);
	out(MCR, 0xff);
	ck_assert_uint_eq(in(MCR), 0x1f);
}
END_TEST

START_TEST(receive_fifo)
{
	uint8_t data[20];
	int i;

	for (i = 0; i < 20; i++)
		data[i] = 'A' + i;
	ck_assert_uint_eq(in(LSR) & LSR_DR, 0);
	/* 16 bytes fit; the rest are refused, not lost silently. */
	ck_assert_int_eq(uart8250_receive(u, data, 20), UART_RX_FIFO);
	ck_assert_int_eq(uart8250_receive(u, data, 20), 0);
	ck_assert_uint_eq(in(LSR) & LSR_DR, LSR_DR);
	for (i = 0; i < 8; i++)
		ck_assert_uint_eq(in(RBR), 'A' + i);
	/* Refill the half that was read: the FIFO wraps. */
	ck_assert_int_eq(uart8250_receive(u, data + 16, 4), 4);
	ck_assert_int_eq(uart8250_receive(u, data, 20), 4);
	for (i = 8; i < 16; i++)
		ck_assert_uint_eq(in(RBR), 'A' + i);
	for (i = 16; i < 20; i++)
		ck_assert_uint_eq(in(RBR), 'A' + i);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(in(RBR), 'A' + i);
	ck_assert_uint_eq(in(LSR) & LSR_DR, 0);
	ck_assert_uint_eq(in(RBR), 0);
	ck_assert_int_eq(uart8250_receive(u, data, 0), 0);
	/* No interrupt without IER. */
	ck_assert_int_eq(irq_changes, 0);
}
END_TEST

START_TEST(rx_interrupt)
{
	out(IER, 0x01);		/* RDI */
	ck_assert_int_eq(irq_changes, 0);
	ck_assert_uint_eq(in(IIR), IIR_NO_INT);
	rx("ab");
	ck_assert_int_eq(irq_level, 1);
	ck_assert_int_eq(irq_changes, 1);
	ck_assert_uint_eq(in(IIR), IIR_RDI);
	/* Reading IIR does not clear a data interrupt. */
	ck_assert_uint_eq(in(IIR), IIR_RDI);
	ck_assert_int_eq(irq_level, 1);
	ck_assert_uint_eq(in(RBR), 'a');
	ck_assert_int_eq(irq_level, 1);
	ck_assert_uint_eq(in(RBR), 'b');
	ck_assert_int_eq(irq_level, 0);
	ck_assert_int_eq(irq_changes, 2);
	ck_assert_uint_eq(in(IIR), IIR_NO_INT);
	/* Masking RDI with data pending drops the line; unmasking raises it. */
	rx("c");
	ck_assert_int_eq(irq_level, 1);
	out(IER, 0x00);
	ck_assert_int_eq(irq_level, 0);
	out(IER, 0x01);
	ck_assert_int_eq(irq_level, 1);
	/* FCR "clear receive FIFO" also drops it. */
	out(FCR, 0x03);
	ck_assert_int_eq(irq_level, 0);
	ck_assert_uint_eq(in(LSR) & LSR_DR, 0);
	ck_assert_int_eq(irq_changes, 6);
}
END_TEST

START_TEST(thri_interrupt)
{
	/* Enabling THRI with THR empty raises it at once. */
	out(IER, 0x02);
	ck_assert_int_eq(irq_level, 1);
	ck_assert_uint_eq(in(IIR), IIR_THRI);
	/* Reading IIR acknowledged it. */
	ck_assert_int_eq(irq_level, 0);
	ck_assert_uint_eq(in(IIR), IIR_NO_INT);

	/* Each byte written owes a new THRI. */
	out(THR, 'x');
	ck_assert_int_eq(irq_level, 1);
	ck_assert_uint_eq(in(IIR), IIR_THRI);
	ck_assert_int_eq(irq_level, 0);

	/* Rewriting IER with THRI already set does not raise it again. */
	out(IER, 0x02);
	ck_assert_int_eq(irq_level, 0);
	/* Disabling and re-enabling does. */
	out(IER, 0x00);
	out(IER, 0x02);
	ck_assert_int_eq(irq_level, 1);
	/* Masking THRI drops the line without acknowledging. */
	out(IER, 0x00);
	ck_assert_int_eq(irq_level, 0);
	ck_assert_uint_eq(in(IIR), IIR_NO_INT);
}
END_TEST

START_TEST(rdi_beats_thri)
{
	out(IER, 0x03);
	ck_assert_int_eq(irq_level, 1);
	rx("k");
	/* Data first: reading IIR then does not consume the THRI. */
	ck_assert_uint_eq(in(IIR), IIR_RDI);
	ck_assert_uint_eq(in(RBR), 'k');
	ck_assert_int_eq(irq_level, 1);
	ck_assert_uint_eq(in(IIR), IIR_THRI);
	ck_assert_int_eq(irq_level, 0);
}
END_TEST

START_TEST(fifo_bits)
{
	ck_assert_uint_eq(in(IIR) & 0xc0, 0);
	out(FCR, 0x01);
	ck_assert_uint_eq(in(IIR), 0xc0 | IIR_NO_INT);
	out(IER, 0x01);
	rx("z");
	ck_assert_uint_eq(in(IIR), 0xc0 | IIR_RDI);
	out(FCR, 0x00);
	ck_assert_uint_eq(in(IIR), IIR_RDI);
	/* Clear-RX without enable still clears. */
	out(FCR, 0x02);
	ck_assert_uint_eq(in(IIR), IIR_NO_INT);
	ck_assert_uint_eq(in(RBR), 0);
}
END_TEST

START_TEST(loopback)
{
	uint8_t buf[8];
	int i;

	out(MCR, 0x10);
	out(THR, 'L');
	out(THR, 'B');
	/* Nothing goes out; it comes back in. */
	ck_assert_int_eq(uart8250_take_output(u, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(in(LSR) & LSR_DR, LSR_DR);
	ck_assert_uint_eq(in(RBR), 'L');
	ck_assert_uint_eq(in(RBR), 'B');
	ck_assert_uint_eq(in(LSR) & LSR_DR, 0);

	/* Loopback data raises RDI like real input. */
	out(IER, 0x01);
	out(THR, '!');
	ck_assert_int_eq(irq_level, 1);
	ck_assert_uint_eq(in(RBR), '!');
	ck_assert_int_eq(irq_level, 0);

	/* More than the FIFO holds: the extra bytes are lost. */
	for (i = 0; i < UART_RX_FIFO + 4; i++)
		out(THR, 'a' + i);
	for (i = 0; i < UART_RX_FIFO; i++)
		ck_assert_uint_eq(in(RBR), 'a' + i);
	ck_assert_uint_eq(in(LSR) & LSR_DR, 0);

	/* Leaving loopback sends output again. */
	out(MCR, 0x08);
	out(THR, 'o');
	ck_assert_int_eq(uart8250_take_output(u, buf, sizeof(buf)), 1);
	ck_assert_uint_eq(buf[0], 'o');
}
END_TEST

START_TEST(loopback_msr)
{
	/* MCR DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD. */
	out(MCR, 0x10);
	ck_assert_uint_eq(in(MSR) & 0xf0, 0x00);
	out(MCR, 0x11);
	ck_assert_uint_eq(in(MSR) & 0xf0, 0x20);
	out(MCR, 0x12);
	ck_assert_uint_eq(in(MSR) & 0xf0, 0x10);
	out(MCR, 0x14);
	ck_assert_uint_eq(in(MSR) & 0xf0, 0x40);
	out(MCR, 0x18);
	ck_assert_uint_eq(in(MSR) & 0xf0, 0x80);
	out(MCR, 0x1f);
	ck_assert_uint_eq(in(MSR) & 0xf0, 0xf0);
	/* What Linux's autoconfig checks: loop|OUT2|RTS gives DCD|CTS. */
	out(MCR, 0x1a);
	ck_assert_uint_eq(in(MSR) & 0xf0, 0x90);
	/* Out of loopback, the modem lines are back. */
	out(MCR, 0x00);
	ck_assert_uint_eq(in(MSR) & 0xb0, 0xb0);
}
END_TEST

START_TEST(multi_byte_access)
{
	uint8_t w[2] = { 0x83, 0x0b };	/* LCR = DLAB|8n1, MCR = OUT2|RTS|DTR */
	uint8_t r[4];
	uint32_t v;

	uart8250_access(u, LCR, w, 2, true);
	ck_assert_uint_eq(u->lcr, 0x83);
	ck_assert_uint_eq(u->mcr, 0x0b);
	/* A word write at 0 sets both divisor bytes. */
	w[0] = 0x02;
	w[1] = 0x01;
	uart8250_access(u, DLL, w, 2, true);
	ck_assert_uint_eq(u->divisor, 0x0102);

	/* A dword read covers LCR, MCR, LSR, MSR. */
	uart8250_access(u, LCR, r, 4, false);
	ck_assert_uint_eq(r[0], 0x83);
	ck_assert_uint_eq(r[1], 0x0b);
	ck_assert_uint_eq(r[2], LSR_THRE | LSR_TEMT);

	/* Past register 7 nothing is touched or read. */
	memset(r, 0x77, sizeof(r));
	out(SCR, 0x42);
	uart8250_access(u, SCR, r, 4, false);
	ck_assert_uint_eq(r[0], 0x42);
	ck_assert_uint_eq(r[1], 0x77);
	ck_assert_uint_eq(r[3], 0x77);
	v = 0xffffffff;
	uart8250_access(u, 8, &v, 4, true);
	uart8250_access(u, 1000, &v, 4, false);
	ck_assert_uint_eq(v, 0xffffffff);
	ck_assert_uint_eq(u->scr, 0x42);
}
END_TEST

START_TEST(reset_clears_fifo_and_ier)
{
	out(IER, 0x03);
	rx("abc");
	out(SCR, 9);
	uart8250_reset(u);
	ck_assert_uint_eq(in(IER), 0);
	ck_assert_uint_eq(in(SCR), 0);
	ck_assert_uint_eq(in(LSR) & LSR_DR, 0);
	ck_assert_uint_eq(in(IIR), IIR_NO_INT);
	ck_assert_int_eq(irq_level, 0);
}
END_TEST

/* ---- saved state ---- */

static int save_uart(void *dev, struct state_buf *sb)
{
	return uart8250_state_save(dev, sb);
}

static int load_uart(void *dev, const void *fdt, int node, char *err, size_t errlen)
{
	return uart8250_state_load(dev, fdt, node, err, errlen);
}

START_TEST(state_roundtrip)
{
	struct state_buf sb;
	char err[256];

	out(1, 0x03);		/* IER: RDI | THRI */
	out(7, 0x5a);
	rx("hello");
	state_test_roundtrip(save_uart, load_uart, u);
	/* Into a fresh device: the guest sees the same registers and FIFO. */
	state_test_save(&sb, save_uart, u);
	uart8250_reset(u);
	ck_assert_int_eq(uart8250_state_load(u, sb.fdt, state_test_node(&sb, "/dev"), err,
					     sizeof(err)), 0);
	ck_assert_uint_eq(in(7), 0x5a);
	ck_assert_uint_eq(in(0), 'h');
	ck_assert_int_eq(irq_level, 1);
	state_buf_free(&sb);
}
END_TEST

/* Values the device cannot have produced are refused, and nothing changes. */
START_TEST(state_corrupt_refused)
{
	static const struct {
		const char *prop;
		uint64_t val;
		const char *msg;
	} bad[] = {
		{ "thri-pending", 134, "\"thri-pending\" = 134 is not a boolean (0 or 1)" },
		{ "rx-head", UART_RX_FIFO, "receive FIFO position out of range" },
		{ "rx-count", UART_RX_FIFO + 1, "receive FIFO position out of range" },
		{ "rx-count", 0xffffffff, "receive FIFO position out of range" },
		{ "ier", 0x100, "does not fit in 8 bits" },
		{ "divisor", 0x10000, "does not fit in 16 bits" },
	};
	unsigned int i;

	out(1, 0x01);
	rx("ab");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		state_test_refused(save_uart, load_uart, u, bad[i].prop, bad[i].val,
				   bad[i].msg);
	ck_assert_uint_eq(in(0), 'a');
}
END_TEST

START_TEST(no_irq_fn)
{
	uart8250_set_irq_fn(NULL);
	out(IER, 0x03);
	rx("a");
	ck_assert(u->irq_level);
	ck_assert_int_eq(irq_changes, 0);
}
END_TEST

static Suite *uart8250_suite(void)
{
	Suite *s = suite_create("uart8250");

	vlab_tcase(s, "registers", setup, teardown, 0, VLAB_TESTS(
		reset_state, divisor_latch, scratch_register, multi_byte_access,
		reset_clears_fifo_and_ier));

	vlab_tcase(s, "data", setup, teardown, 0, VLAB_TESTS(
		thr_output_in_order, tx_ring_wraps, tx_ring_overflow, tx_notify_eventfd,
		receive_fifo, loopback, loopback_msr));

	vlab_tcase(s, "interrupts", setup, teardown, 0, VLAB_TESTS(
		rx_interrupt, thri_interrupt, rdi_beats_thri, fifo_bits, no_irq_fn,
		state_roundtrip, state_corrupt_refused));
	return s;
}

VLAB_TEST_MAIN(uart8250_suite)
