// SPDX-License-Identifier: GPL-2.0
/*
 * 8250/16550A UART on COM1 (0x3f8, IRQ 4). Output goes into a ring that the
 * main event loop drains to the console, so a stalled terminal never stalls
 * a vCPU; input arrives from the event loop into the receive FIFO.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/legacy/uart8250.h"
#include "vmm/migrate/state.h"
#include "vmm/core/vm.h"

#define UART_COM1_BASE	0x3f8
#define UART_COM1_IRQ	4

enum {
	UART_RBR = 0, UART_IER = 1, UART_IIR = 2, UART_LCR = 3,
	UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};

#define IER_RDI		0x01
#define IER_THRI	0x02
#define IER_RLSI	0x04
#define IER_MSI		0x08
#define IIR_NO_INT	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_FIFO_ON	0xc0
#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define LCR_DLAB	0x80
#define MCR_LOOP	0x10
#define MCR_OUT2	0x08
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MSR_DCD		0x80
#define MSR_DSR		0x20
#define MSR_CTS		0x10

static void (*uart_irq_fn)(struct uart8250 *u, int level);

void uart8250_set_irq_fn(void (*fn)(struct uart8250 *u, int level))
{
	uart_irq_fn = fn;
}

void uart8250_reset(struct uart8250 *u)
{
	u->ier = 0;
	u->iir_fifo = 0;
	u->lcr = 0x03;
	u->mcr = MCR_OUT2;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	u->scr = 0;
	u->fcr = 0;
	u->divisor = 12;	/* 9600 baud */
	u->thri_pending = false;
	u->rx_head = u->rx_count = 0;
}

/* Highest-priority pending interrupt, as IIR reports it. */
static uint8_t uart_iir(struct uart8250 *u)
{
	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI;
	if ((u->ier & IER_THRI) && u->thri_pending)
		return IIR_THRI;
	return IIR_NO_INT;
}

static void uart_update_irq(struct uart8250 *u)
{
	bool level = uart_iir(u) != IIR_NO_INT;

	if (level != u->irq_level) {
		u->irq_level = level;
		if (uart_irq_fn)
			uart_irq_fn(u, level);
	}
}

static void uart_tx(struct uart8250 *u, uint8_t c)
{
	unsigned int next = (u->tx_head + 1) % UART_TX_RING;
	bool was_empty = u->tx_head == u->tx_tail;

	if (u->mcr & MCR_LOOP) {
		if (u->rx_count < UART_RX_FIFO) {
			u->rx[(u->rx_head + u->rx_count) % UART_RX_FIFO] = c;
			u->rx_count++;
		}
		return;
	}
	if (!u->tx)
		return;
	if (next == u->tx_tail) {
		u->tx_dropped++;
		return;
	}
	u->tx[u->tx_head] = c;
	u->tx_head = next;
	if (was_empty && u->tx_notify_fd >= 0) {
		uint64_t one = 1;

		if (write(u->tx_notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			u->tx_dropped++;
	}
}

static uint8_t uart_read_reg(struct uart8250 *u, unsigned int reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB)
			return u->divisor & 0xff;
		if (!u->rx_count)
			return 0;
		v = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART_RX_FIFO;
		u->rx_count--;
		return v;
	case UART_IER:
		if (u->lcr & LCR_DLAB)
			return u->divisor >> 8;
		return u->ier;
	case UART_IIR:
		v = uart_iir(u);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if (v == IIR_THRI)
			u->thri_pending = false;
		return v | u->iir_fifo;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		return u->lsr | (u->rx_count ? LSR_DR : 0);
	case UART_MSR:
		if (u->mcr & MCR_LOOP)	/* loopback wires MCR outputs to MSR inputs */
			return ((u->mcr & 0x0c) << 4) | ((u->mcr & 0x01) << 5) |
			       ((u->mcr & 0x02) << 3);
		return u->msr;
	default:
		return u->scr;
	}
}

static void uart_write_reg(struct uart8250 *u, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB) {
			u->divisor = (u->divisor & 0xff00) | v;
			break;
		}
		uart_tx(u, v);
		/* The byte leaves at once, so THR is empty again. */
		u->thri_pending = true;
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->divisor = (u->divisor & 0x00ff) | (v << 8);
			break;
		}
		/* Enabling THRI while THR is empty raises it at once (8250 quirk Linux probes for). */
		if ((v & IER_THRI) && !(u->ier & IER_THRI))
			u->thri_pending = true;
		u->ier = v & 0x0f;
		break;
	case UART_IIR:	/* FCR */
		u->fcr = v;
		u->iir_fifo = (v & FCR_ENABLE) ? IIR_FIFO_ON : 0;
		if (v & FCR_CLEAR_RX)
			u->rx_head = u->rx_count = 0;
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & 0x1f;
		break;
	case UART_LSR:
	case UART_MSR:
		break;	/* read-only */
	default:
		u->scr = v;
		break;
	}
}

void uart8250_access(void *opaque, uint64_t off, void *data, int len, bool is_write)
{
	struct uart8250 *u = opaque;
	uint8_t *p = data;
	int i;

	pthread_mutex_lock(&u->lock);
	/* Wider accesses hit consecutive registers, as on the ISA bus. */
	for (i = 0; i < len && off + i < 8; i++) {
		if (is_write)
			uart_write_reg(u, off + i, p[i]);
		else
			p[i] = uart_read_reg(u, off + i);
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

int uart8250_receive(struct uart8250 *u, const uint8_t *buf, int len)
{
	int n = 0;

	pthread_mutex_lock(&u->lock);
	while (n < len && u->rx_count < UART_RX_FIFO) {
		u->rx[(u->rx_head + u->rx_count) % UART_RX_FIFO] = buf[n++];
		u->rx_count++;
	}
	uart_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

int uart8250_take_output(struct uart8250 *u, uint8_t *buf, int len)
{
	int n = 0;

	pthread_mutex_lock(&u->lock);
	while (n < len && u->tx_tail != u->tx_head) {
		buf[n++] = u->tx[u->tx_tail];
		u->tx_tail = (u->tx_tail + 1) % UART_TX_RING;
	}
	pthread_mutex_unlock(&u->lock);
	return n;
}

static void uart_vm_irq(struct uart8250 *u, int level)
{
	vm_irq_line(u->vm, u->irq, level);
}

static const struct state_field uart_fields[] = {
	STATE_UINT(struct uart8250, ier, "ier"),
	STATE_UINT(struct uart8250, iir_fifo, "iir-fifo"),
	STATE_UINT(struct uart8250, lcr, "lcr"),
	STATE_UINT(struct uart8250, mcr, "mcr"),
	STATE_UINT(struct uart8250, lsr, "lsr"),
	STATE_UINT(struct uart8250, msr, "msr"),
	STATE_UINT(struct uart8250, scr, "scr"),
	STATE_UINT(struct uart8250, fcr, "fcr"),
	STATE_UINT(struct uart8250, divisor, "divisor"),
	STATE_BOOL(struct uart8250, thri_pending, "thri-pending"),
	STATE_BYTES(struct uart8250, rx, "rx-fifo"),
	STATE_UINT(struct uart8250, rx_head, "rx-head"),
	STATE_UINT(struct uart8250, rx_count, "rx-count"),
};

int uart8250_state_save(struct uart8250 *u, struct state_buf *sb)
{
	int ret;

	pthread_mutex_lock(&u->lock);
	ret = state_put_fields(sb, u, uart_fields, ARRAY_SIZE(uart_fields));
	pthread_mutex_unlock(&u->lock);
	return ret;
}

int uart8250_state_load(struct uart8250 *u, const void *fdt, int node, char *err,
			size_t errlen)
{
	struct uart8250 tmp;
	int ret = -1;

	pthread_mutex_lock(&u->lock);
	/* Into a copy: nothing of @u changes unless all of it is good. */
	memcpy(&tmp, u, sizeof(tmp));
	if (state_get_fields(fdt, node, &tmp, uart_fields, ARRAY_SIZE(uart_fields), err, errlen))
		goto out;
	if (tmp.rx_head >= UART_RX_FIFO || tmp.rx_count > UART_RX_FIFO) {
		snprintf(err, errlen,
			 "uart: receive FIFO position out of range (rx-head %u, rx-count %u, FIFO %u)",
			 tmp.rx_head, tmp.rx_count, UART_RX_FIFO);
		goto out;
	}
	state_copy_fields(u, &tmp, uart_fields, ARRAY_SIZE(uart_fields));
	u->irq_level = false;
	uart_update_irq(u);
	ret = 0;
out:
	pthread_mutex_unlock(&u->lock);
	return ret;
}

static int uart8250_save(void *opaque, struct state_buf *sb)
{
	return uart8250_state_save(opaque, sb);
}

static int uart8250_load(void *opaque, const void *fdt, int node, char *err, size_t errlen)
{
	return uart8250_state_load(opaque, fdt, node, err, errlen);
}

static int uart8250_vm_init(struct vm *vm)
{
	struct uart8250 *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->tx = malloc(UART_TX_RING);
	u->tx_notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!u->tx || u->tx_notify_fd < 0) {
		free(u->tx);
		free(u);
		return -ENOMEM;
	}
	pthread_mutex_init(&u->lock, NULL);
	u->vm = vm;
	u->irq = UART_COM1_IRQ;
	uart8250_reset(u);
	uart8250_set_irq_fn(uart_vm_irq);
	vm->uart = u;
	vm_dev_state_register(vm, &(struct vm_dev_state){
		.name = "uart@3f8", .version = 1, .opaque = u,
		.save = uart8250_save, .load = uart8250_load,
	});
	return io_bus_register(&vm->pio, UART_COM1_BASE, 8, uart8250_access, u, "com1");
}

static void uart8250_vm_exit(struct vm *vm)
{
	struct uart8250 *u = vm->uart;

	if (!u)
		return;
	close(u->tx_notify_fd);
	free(u->tx);
	free(u);
	vm->uart = NULL;
}

VM_INIT(uart8250_vm_init, uart8250_vm_exit, VM_INIT_DEVICE);
