/* SPDX-License-Identifier: GPL-2.0 */
/* Guest virtual → physical translation by walking the guest's page tables. */
#ifndef VLAB_GVA_H
#define VLAB_GVA_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/mem/guest_mem.h"

struct gva_mmu {
	uint64_t cr0, cr3, cr4, efer;
};

#define GVA_PF_PRESENT	(1u << 0)	/* #PF error code bits */
#define GVA_PF_WRITE	(1u << 1)

/*
 * Translate @gva. Returns 0 with *@gpa set, or -1 with *@pf_error holding
 * the #PF error code the access would raise. Page-table reads go through
 * the guest memory accessor, so a hostile CR3 cannot reach outside RAM.
 */
int gva_translate(struct guest_mem *gm, const struct gva_mmu *mmu, uint64_t gva,
		  bool write, uint64_t *gpa, uint32_t *pf_error);

/* Copy across page boundaries; -1 on the first untranslatable byte. */
int gva_read(struct guest_mem *gm, const struct gva_mmu *mmu, uint64_t gva,
	     void *buf, uint64_t len);
int gva_write(struct guest_mem *gm, const struct gva_mmu *mmu, uint64_t gva,
	      const void *buf, uint64_t len);

#endif
