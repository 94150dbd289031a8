// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/core/irq.h"
#include "vmm/core/vm.h"

/* Rebuild and load the whole table: KVM replaces routing wholesale. */
static int irq_commit(struct vm *vm)
{
	struct irq_routing *r = vm->irq;
	struct kvm_irq_routing *t;
	struct kvm_irq_routing_entry *e;
	int i, ret;

	t = calloc(1, sizeof(*t) + (IRQ_IOAPIC_PINS + 16 + IRQ_MAX_ROUTES) * sizeof(*e));
	if (!t)
		return -ENOMEM;
	e = t->entries;
	/* The defaults KVM starts with: GSI 0-15 on both PICs and the IOAPIC, 16-23 IOAPIC. */
	for (i = 0; i < IRQ_IOAPIC_PINS; i++) {
		if (i < 16) {
			e->gsi = i;
			e->type = KVM_IRQ_ROUTING_IRQCHIP;
			e->u.irqchip.irqchip = i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
			e->u.irqchip.pin = i % 8;
			e++;
		}
		e->gsi = i;
		e->type = KVM_IRQ_ROUTING_IRQCHIP;
		e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e->u.irqchip.pin = i;
		e++;
	}
	for (i = 0; i < IRQ_MAX_ROUTES; i++) {
		struct irq_msi_route *m = &r->msi[i];

		if (!m->used || m->masked || !m->addr)
			continue;
		e->gsi = IRQ_IOAPIC_PINS + i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)m->addr;
		e->u.msi.address_hi = (uint32_t)(m->addr >> 32);
		e->u.msi.data = m->data;
		e++;
	}
	t->nr = e - t->entries;
	ret = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, t) < 0 ? -errno : 0;
	free(t);
	return ret;
}

int irq_routing_init(struct vm *vm)
{
	vm->irq = calloc(1, sizeof(*vm->irq));
	if (!vm->irq)
		return -ENOMEM;
	pthread_mutex_init(&vm->irq->lock, NULL);
	return irq_commit(vm);
}

void irq_routing_exit(struct vm *vm)
{
	free(vm->irq);
	vm->irq = NULL;
}

int irq_msi_alloc(struct vm *vm)
{
	int i;

	pthread_mutex_lock(&vm->irq->lock);
	for (i = 0; i < IRQ_MAX_ROUTES; i++) {
		if (!vm->irq->msi[i].used) {
			memset(&vm->irq->msi[i], 0, sizeof(vm->irq->msi[i]));
			vm->irq->msi[i].used = true;
			pthread_mutex_unlock(&vm->irq->lock);
			return IRQ_IOAPIC_PINS + i;
		}
	}
	pthread_mutex_unlock(&vm->irq->lock);
	return -ENOSPC;
}

void irq_msi_free(struct vm *vm, int gsi)
{
	int i = gsi - IRQ_IOAPIC_PINS;

	if (i < 0 || i >= IRQ_MAX_ROUTES)
		return;
	pthread_mutex_lock(&vm->irq->lock);
	vm->irq->msi[i].used = false;
	irq_commit(vm);
	pthread_mutex_unlock(&vm->irq->lock);
}

int irq_msi_update(struct vm *vm, int gsi, uint64_t addr, uint32_t data)
{
	int i = gsi - IRQ_IOAPIC_PINS, ret;
	struct irq_msi_route *m;

	if (i < 0 || i >= IRQ_MAX_ROUTES)
		return -EINVAL;
	pthread_mutex_lock(&vm->irq->lock);
	m = &vm->irq->msi[i];
	if (m->addr == addr && m->data == data) {
		pthread_mutex_unlock(&vm->irq->lock);
		return 0;
	}
	m->addr = addr;
	m->data = data;
	ret = irq_commit(vm);
	pthread_mutex_unlock(&vm->irq->lock);
	return ret;
}

int irq_irqfd(struct vm *vm, int fd, int gsi, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = fd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int irq_signal_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};

	return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}
