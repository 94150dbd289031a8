/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VLAB_VIRTIO_PCI_H
#define VLAB_VIRTIO_PCI_H

#include <stddef.h>

#include "virtio/virtio.h"

struct vm;

/* Attach @vdev to the VM's PCI bus as a modern virtio-pci function. */
int virtio_pci_attach(struct vm *vm, struct virtio_dev *vdev);
/* Take the function off the bus and free the transport (not the device). */
void virtio_pci_detach(struct virtio_dev *vdev);

/*
 * Snapshot state of an attached function ("virtio@SLOT"): the MSI-X table
 * and PBA, the ISR, then /virtio (virtio_dev_state_load()) and /device
 * (the device's load op). Load refuses anything the function could not
 * have produced with a message; safe with any tree.
 */
struct state_buf;
int virtio_pci_state_save(struct virtio_dev *vdev, struct state_buf *sb);
int virtio_pci_state_load(struct virtio_dev *vdev, const void *fdt, int node, char *err,
			  size_t errlen);

/* BAR0 layout (64-bit memory BAR): one region per capability. */
#define VPCI_COMMON_OFF		0x0000
#define VPCI_COMMON_LEN		0x0040
#define VPCI_ISR_OFF		0x1000
#define VPCI_ISR_LEN		0x0004
#define VPCI_DEVICE_OFF		0x2000
#define VPCI_DEVICE_LEN		0x1000
#define VPCI_NOTIFY_OFF		0x3000
#define VPCI_NOTIFY_MULT	4
#define VPCI_BAR0_SIZE		0x8000	/* notify area fits 4096 queues */
/* BAR2 (BAR0 is 64-bit and takes two registers): MSI-X table and PBA. */
#define VPCI_MSIX_TABLE_OFF	0x0000
#define VPCI_MSIX_PBA_OFF	0x2000
#define VPCI_BAR1_SIZE		0x4000
#define VPCI_MSIX_MAX		512

/* PCI INTx pin A of @slot lands on this GSI (matches the MP table). */
static inline int virtio_pci_intx_gsi(int slot)
{
	return 16 + slot % 8;
}

#endif
