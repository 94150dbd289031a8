/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Constants shared by start.S and the C runtime: descriptor selectors,
 * stack sizes and the extent of the static identity map.
 */
#ifndef PAYLOAD_LAYOUT_H
#define PAYLOAD_LAYOUT_H

/* GDT selectors (start.S lays the GDT out in this order). */
#define KERNEL_CS		0x08
#define KERNEL_DS		0x10
#define USER_DS			(0x18 | 3)
#define USER_CS			(0x20 | 3)
#define TSS_SEL			0x28
#define TSS_SIZE		104

/* Exception vectors with an IDT gate; each stub is this many bytes. */
#define NR_VECTORS		32	/* exceptions; every vector above is irq_stub */
#define IDT_ENTRIES		256
#define ISR_STUB_SIZE		16

/*
 * Guest-physical range the page tables identity-map, in GiB. 16 GiB
 * covers 8 GiB of RAM even when the 3-4 GiB hole pushes part of it
 * above 4 GiB, and costs 64 KiB of page directories.
 */
#define PAYLOAD_MAPPED_GIB	16

#define KSTACK_SIZE		16384
#define DFSTACK_SIZE		4096
#define USTACK_SIZE		65536

#endif
