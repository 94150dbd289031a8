/* SPDX-License-Identifier: GPL-2.0 */
/*
 * GSI routing for the in-kernel irqchip: the default PIC/IOAPIC routes
 * plus MSI routes allocated by devices, each driven through an irqfd so a
 * device worker raises an interrupt with one write(2), never an ioctl.
 */
#ifndef VLAB_IRQ_H
#define VLAB_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

#define IRQ_IOAPIC_PINS		24
#define IRQ_MAX_ROUTES		1024

struct irq_msi_route {
	bool used;
	bool masked;		/* route kept but pointed nowhere */
	uint64_t addr;
	uint32_t data;
};

struct irq_routing {
	pthread_mutex_t lock;
	struct irq_msi_route msi[IRQ_MAX_ROUTES];	/* indexed by gsi - IRQ_IOAPIC_PINS */
};

int irq_routing_init(struct vm *vm);
void irq_routing_exit(struct vm *vm);
/* A free GSI for an MSI route, or -ENOSPC. */
int irq_msi_alloc(struct vm *vm);
void irq_msi_free(struct vm *vm, int gsi);
/* Point @gsi at an MSI message and commit the routing table. */
int irq_msi_update(struct vm *vm, int gsi, uint64_t addr, uint32_t data);
/* Attach/detach an eventfd to a GSI (KVM_IRQFD). */
int irq_irqfd(struct vm *vm, int fd, int gsi, bool assign);
/* Deliver one MSI message directly (KVM_SIGNAL_MSI). */
int irq_signal_msi(struct vm *vm, uint64_t addr, uint32_t data);

#endif
