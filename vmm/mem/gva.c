// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "vmm/mem/gva.h"

#define CR0_PG		(1ULL << 31)
#define CR0_WP		(1ULL << 16)
#define CR4_PSE		(1ULL << 4)
#define CR4_PAE		(1ULL << 5)
#define CR4_LA57	(1ULL << 12)
#define EFER_LMA	(1ULL << 10)

#define PTE_P		(1ULL << 0)
#define PTE_W		(1ULL << 1)
#define PTE_PS		(1ULL << 7)
#define PTE_ADDR	0x000ffffffffff000ULL

static int gva_walk_64(struct guest_mem *gm, const struct gva_mmu *mmu,
		       uint64_t gva, bool write, uint64_t *gpa, uint32_t *pf)
{
	int levels = (mmu->efer & EFER_LMA) ? ((mmu->cr4 & CR4_LA57) ? 5 : 4) : 3;
	uint64_t table = mmu->cr3 & (levels == 3 ? ~0x1fULL : PTE_ADDR);
	bool read_only = false;
	int level;

	for (level = levels; level >= 1; level--) {
		int shift = 12 + 9 * (level - 1);
		uint64_t idx, pte;

		if (levels == 3 && level == 3)
			idx = (gva >> 30) & 3;	/* PAE PDPT has 4 entries */
		else
			idx = (gva >> shift) & 511;
		if (guest_mem_read(gm, table + idx * 8, &pte, 8))
			return -1;
		if (!(pte & PTE_P)) {
			*pf = write ? GVA_PF_WRITE : 0;
			return -1;
		}
		/* Checked after the walk: a not-present entry below wins (P=0). */
		if (!(pte & PTE_W) && !(levels == 3 && level == 3))
			read_only = true;
		if ((level == 2 || level == 3) && (pte & PTE_PS) &&
		    !(levels == 3 && level == 3)) {
			uint64_t mask = (1ULL << shift) - 1;

			*gpa = (pte & PTE_ADDR & ~mask) | (gva & mask);
			goto check_w;
		}
		table = pte & PTE_ADDR;
	}
	*gpa = table | (gva & 0xfff);
check_w:
	if (write && read_only && (mmu->cr0 & CR0_WP)) {
		*pf = GVA_PF_PRESENT | GVA_PF_WRITE;
		return -1;
	}
	return 0;
}

static int gva_walk_32(struct guest_mem *gm, const struct gva_mmu *mmu,
		       uint64_t gva, bool write, uint64_t *gpa, uint32_t *pf)
{
	uint32_t pde, pte;

	if (guest_mem_read(gm, (mmu->cr3 & 0xfffff000) + ((gva >> 22) & 1023) * 4,
			   &pde, 4))
		return -1;
	if (!(pde & PTE_P))
		goto fault_np;
	if ((pde & PTE_PS) && (mmu->cr4 & CR4_PSE)) {
		*gpa = (pde & 0xffc00000) | (gva & 0x3fffff);
		goto check_w;
	}
	if (guest_mem_read(gm, (pde & 0xfffff000) + ((gva >> 12) & 1023) * 4, &pte, 4))
		return -1;
	if (!(pte & PTE_P))
		goto fault_np;
	pde &= pte;	/* W must be set at both levels */
	*gpa = (pte & 0xfffff000) | (gva & 0xfff);
check_w:
	if (write && !(pde & PTE_W) && (mmu->cr0 & CR0_WP)) {
		*pf = GVA_PF_PRESENT | GVA_PF_WRITE;
		return -1;
	}
	return 0;
fault_np:
	*pf = write ? GVA_PF_WRITE : 0;
	return -1;
}

int gva_translate(struct guest_mem *gm, const struct gva_mmu *mmu, uint64_t gva,
		  bool write, uint64_t *gpa, uint32_t *pf_error)
{
	uint32_t dummy;

	if (!pf_error)
		pf_error = &dummy;
	*pf_error = 0;
	if (!(mmu->cr0 & CR0_PG)) {
		*gpa = gva & 0xffffffffULL;
		return 0;
	}
	if (mmu->cr4 & CR4_PAE)
		return gva_walk_64(gm, mmu, gva, write, gpa, pf_error);
	return gva_walk_32(gm, mmu, gva & 0xffffffffULL, write, gpa, pf_error);
}

static int gva_copy(struct guest_mem *gm, const struct gva_mmu *mmu, uint64_t gva,
		    void *buf, uint64_t len, bool write)
{
	uint8_t *p = buf;

	while (len) {
		uint64_t gpa, chunk = GM_PAGE_SIZE - (gva & (GM_PAGE_SIZE - 1));
		int ret;

		if (chunk > len)
			chunk = len;
		if (gva_translate(gm, mmu, gva, write, &gpa, NULL))
			return -1;
		ret = write ? guest_mem_write(gm, gpa, p, chunk) :
			      guest_mem_read(gm, gpa, p, chunk);
		if (ret)
			return -1;
		p += chunk;
		gva += chunk;
		len -= chunk;
	}
	return 0;
}

int gva_read(struct guest_mem *gm, const struct gva_mmu *mmu, uint64_t gva,
	     void *buf, uint64_t len)
{
	return gva_copy(gm, mmu, gva, buf, len, false);
}

int gva_write(struct guest_mem *gm, const struct gva_mmu *mmu, uint64_t gva,
	      const void *buf, uint64_t len)
{
	return gva_copy(gm, mmu, gva, (void *)buf, len, true);
}
