/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VLAB_UART8250_H
#define VLAB_UART8250_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

#define UART_RX_FIFO	16
#define UART_TX_RING	65536

/* 16550A on COM1. Everything the guest can observe lives here. */
struct uart8250 {
	pthread_mutex_t lock;
	struct vm *vm;
	int irq;
	/* registers */
	uint8_t ier, iir_fifo, lcr, mcr, lsr, msr, scr, fcr;
	uint16_t divisor;
	bool thri_pending;	/* THR-empty interrupt owed since IIR was last read */
	bool irq_level;
	/* receive FIFO */
	uint8_t rx[UART_RX_FIFO];
	unsigned int rx_head, rx_count;
	/* transmit ring drained to the console fd by the event loop */
	uint8_t *tx;
	unsigned int tx_head, tx_tail;
	uint64_t tx_dropped;
	int tx_notify_fd;	/* eventfd poked when the ring goes non-empty */
};

/* Pure device model (unit-testable): register access by offset 0..7. */
void uart8250_reset(struct uart8250 *u);
void uart8250_access(void *opaque, uint64_t off, void *data, int len, bool is_write);
/* Queue guest-bound input; returns bytes accepted (FIFO may be full). */
int uart8250_receive(struct uart8250 *u, const uint8_t *buf, int len);
/* Take up to @len bytes of guest output. */
int uart8250_take_output(struct uart8250 *u, uint8_t *buf, int len);
/*
 * Snapshot state ("uart@3f8"). Load refuses any value the device could not
 * have produced (FIFO positions out of range, booleans not 0 or 1) with a
 * message and leaves @u unchanged; safe with any tree.
 */
struct state_buf;
int uart8250_state_save(struct uart8250 *u, struct state_buf *sb);
int uart8250_state_load(struct uart8250 *u, const void *fdt, int node, char *err,
			size_t errlen);
/* Callback to drive the interrupt line; set by the VM glue or tests. */
void uart8250_set_irq_fn(void (*fn)(struct uart8250 *u, int level));

#endif
