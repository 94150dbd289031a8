// SPDX-License-Identifier: GPL-2.0
/*
 * Finishing the instructions an emulating KVM (kvm_pvm) hands back to us.
 *
 * The decoder knows only the handful of encodings Linux kernel code uses
 * for these instructions, in 64-bit mode and 32-bit protected mode; any
 * other byte sequence is refused so that the caller reports the exit
 * instead of guessing. 16-bit code segments and 16-bit addressing are
 * refused for the same reason: a PVH-booted kernel never runs them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vmm/x86/quirks.h"

#define X86_MAX_INSN_LEN	15

#define X86_EFLAGS_CF		(1ULL << 0)
#define X86_EFLAGS_PF		(1ULL << 2)
#define X86_EFLAGS_AF		(1ULL << 4)
#define X86_EFLAGS_ZF		(1ULL << 6)
#define X86_EFLAGS_SF		(1ULL << 7)
#define X86_EFLAGS_OF		(1ULL << 11)
#define X86_EFLAGS_AC		(1ULL << 18)

#define X86_VEC_GP		13
#define X86_VEC_PF		14
#define X86_PF_ERR_WRITE	(1U << 1)

/*
 * MXCSR_MASK as FXSAVE reports it on every CPU since DAZ appeared: LDMXCSR
 * of a value with any bit outside it raises #GP(0).
 */
#define MXCSR_MASK		0xffffU

#define REX_B			0x1
#define REX_X			0x2
#define REX_R			0x4
#define REX_W			0x8

/* Byte cursor over the instruction; every fetch checks for truncation. */
struct insn_cursor {
	const uint8_t *bytes;
	size_t n;
	size_t pos;
};

static int cursor_next(struct insn_cursor *c, uint8_t *byte)
{
	if (c->pos >= c->n || c->pos >= X86_MAX_INSN_LEN)
		return -1;
	*byte = c->bytes[c->pos++];
	return 0;
}

static int cursor_disp(struct insn_cursor *c, unsigned int size, int32_t *disp)
{
	uint32_t value = 0;
	unsigned int i;
	uint8_t byte;

	for (i = 0; i < size; i++) {
		if (cursor_next(c, &byte))
			return -1;
		value |= (uint32_t)byte << (8 * i);
	}
	/* Displacements are sign-extended to the address size. */
	*disp = size == 1 ? (int8_t)value : (int32_t)value;
	return 0;
}

struct insn_prefixes {
	bool lock;		/* F0 */
	bool repne;		/* F2 */
	bool rep;		/* F3 */
	bool opsize;		/* 66 */
	bool addrsize;		/* 67 */
	enum quirk_seg seg;
	uint8_t rex;		/* low nibble of a REX byte, 0 when absent */
	bool has_rex;
};

static enum quirk_seg segment_prefix(uint8_t byte)
{
	switch (byte) {
	case 0x26: return QS_ES;
	case 0x2e: return QS_CS;
	case 0x36: return QS_SS;
	case 0x3e: return QS_DS;
	case 0x64: return QS_FS;
	case 0x65: return QS_GS;
	default:   return QS_DEFAULT;
	}
}

/*
 * Consume legacy and REX prefixes and return the first opcode byte. A REX
 * byte only counts when it comes last, right before the opcode: the CPU
 * ignores one that is followed by a legacy prefix.
 */
static int decode_prefixes(struct insn_cursor *c, const struct quirk_cpu *cpu,
			   struct insn_prefixes *p, uint8_t *opcode)
{
	uint8_t byte;
	enum quirk_seg seg;

	memset(p, 0, sizeof(*p));
	for (;;) {
		if (cursor_next(c, &byte))
			return -1;
		if (cpu->long_mode && (byte & 0xf0) == 0x40) {
			p->rex = byte & 0x0f;
			p->has_rex = true;
			continue;
		}
		seg = segment_prefix(byte);
		if (seg != QS_DEFAULT) {
			p->seg = seg;
		} else if (byte == 0xf0) {
			p->lock = true;
		} else if (byte == 0xf2) {
			p->repne = true;
		} else if (byte == 0xf3) {
			p->rep = true;
		} else if (byte == 0x66) {
			p->opsize = true;
		} else if (byte == 0x67) {
			p->addrsize = true;
		} else {
			*opcode = byte;
			return 0;
		}
		p->rex = 0;
		p->has_rex = false;
	}
}

/* Memory operand before the instruction length (for RIP-relative) is known. */
struct mem_ref {
	int base;		/* GPR, or -1 for none */
	int index;		/* GPR, or -1 for none */
	unsigned int scale_shift;
	int32_t disp;
	bool rip_relative;
};

struct modrm {
	unsigned int mod;
	unsigned int reg;	/* with REX.R applied */
	unsigned int rm;	/* with REX.B applied; only for mod == 3 */
	struct mem_ref mem;
};

/*
 * ModRM, optional SIB and displacement for 32- and 64-bit addressing. The
 * special cases do not look at REX.B: rm=100 always means a SIB byte and
 * mod=00 with rm (or SIB base) 101 always means "no base, disp32".
 */
static int decode_modrm(struct insn_cursor *c, const struct quirk_cpu *cpu,
			uint8_t rex, struct modrm *m)
{
	unsigned int rm_low, base_low, index;
	uint8_t byte, sib;
	unsigned int disp_size = 0;

	if (cursor_next(c, &byte))
		return -1;
	m->mod = byte >> 6;
	m->reg = ((byte >> 3) & 7) | (rex & REX_R ? 8 : 0);
	rm_low = byte & 7;
	m->rm = rm_low | (rex & REX_B ? 8 : 0);
	memset(&m->mem, 0, sizeof(m->mem));
	m->mem.base = -1;
	m->mem.index = -1;
	if (m->mod == 3)
		return 0;

	if (m->mod == 1)
		disp_size = 1;
	else if (m->mod == 2)
		disp_size = 4;

	if (rm_low == 4) {
		if (cursor_next(c, &sib))
			return -1;
		m->mem.scale_shift = sib >> 6;
		index = ((sib >> 3) & 7) | (rex & REX_X ? 8 : 0);
		/* Index 100 without REX.X means none; r12 is a real index. */
		if (index != 4)
			m->mem.index = index;
		base_low = sib & 7;
		if (base_low == 5 && m->mod == 0)
			disp_size = 4;
		else
			m->mem.base = base_low | (rex & REX_B ? 8 : 0);
	} else if (rm_low == 5 && m->mod == 0) {
		disp_size = 4;
		/* 64-bit mode turned the absolute disp32 form into RIP + disp32. */
		m->mem.rip_relative = cpu->long_mode;
	} else {
		m->mem.base = m->rm;
	}
	return cursor_disp(c, disp_size, &m->mem.disp);
}

static uint64_t segment_base(const struct quirk_cpu *cpu, enum quirk_seg seg)
{
	/*
	 * In 64-bit mode only FS and GS have bases; a flat 32-bit kernel has
	 * zero bases everywhere else too.
	 */
	if (seg == QS_FS)
		return cpu->fs_base;
	if (seg == QS_GS)
		return cpu->gs_base;
	return 0;
}

static uint64_t linear_address(const struct quirk_cpu *cpu,
			       const struct mem_ref *mem, uint64_t next_rip,
			       unsigned int addr_size, enum quirk_seg seg)
{
	uint64_t ea = (uint64_t)(int64_t)mem->disp;

	if (mem->rip_relative)
		ea += next_rip;
	if (mem->base >= 0)
		ea += cpu->gpr[mem->base];
	if (mem->index >= 0)
		ea += cpu->gpr[mem->index] << mem->scale_shift;
	/* Arithmetic modulo 2^32 equals summing the 32-bit registers. */
	if (addr_size == 4)
		ea = (uint32_t)ea;
	ea += segment_base(cpu, seg);
	if (!cpu->long_mode)
		ea = (uint32_t)ea;
	return ea;
}

static bool has_simd_prefix(const struct insn_prefixes *p)
{
	return p->opsize || p->rep || p->repne;
}

/*
 * VEX-encoded VLDMXCSR/VSTMXCSR: C5 [R vvvv L pp] AE /2,/3 or
 * C4 [R X B mmmmm] [W vvvv L pp] AE /2,/3 with map 0F, vvvv=1111, L=0,
 * pp=00. Outside 64-bit mode C4/C5 are LES/LDS unless the next byte looks
 * like a register ModRM, i.e. its top two bits are set.
 */
static int decode_vex(struct insn_cursor *c, const struct quirk_cpu *cpu,
		      uint8_t vex_opcode, struct insn_prefixes *p)
{
	uint8_t first, second, opcode;

	if (cursor_next(c, &first))
		return -1;
	if (!cpu->long_mode && (first & 0xc0) != 0xc0)
		return -1;
	/* The R, X and B bits are stored inverted. */
	p->rex = first & 0x80 ? 0 : REX_R;
	if (vex_opcode == 0xc5) {
		second = first;
	} else {
		if ((first & 0x1f) != 1)
			return -1;
		if (cpu->long_mode) {
			p->rex |= first & 0x40 ? 0 : REX_X;
			p->rex |= first & 0x20 ? 0 : REX_B;
		}
		if (cursor_next(c, &second))
			return -1;
	}
	if ((second & 0x7f) != 0x78)
		return -1;
	if (cursor_next(c, &opcode) || opcode != 0xae)
		return -1;
	return 0;
}

static void decode_finish_mem(struct quirk_insn *insn, const struct quirk_cpu *cpu,
			      const struct modrm *m, const struct insn_prefixes *p,
			      unsigned int addr_size)
{
	uint64_t next_rip = cpu->rip + insn->len;

	if (!cpu->long_mode)
		next_rip = (uint32_t)next_rip;
	insn->rm.is_reg = false;
	insn->rm.ea = linear_address(cpu, &m->mem, next_rip, addr_size, p->seg);
}

/* 0F AE /2 and /3, legacy or VEX-encoded: LDMXCSR and STMXCSR, memory only. */
static int decode_mxcsr(struct insn_cursor *c, const struct quirk_cpu *cpu, uint8_t rex,
			struct modrm *m, struct quirk_insn *insn)
{
	if (decode_modrm(c, cpu, rex, m) || m->mod == 3)
		return -1;
	if ((m->reg & 7) == 2)
		insn->kind = QK_LDMXCSR;
	else if ((m->reg & 7) == 3)
		insn->kind = QK_STMXCSR;
	else
		return -1;
	return 0;
}

int quirk_decode(const uint8_t *bytes, size_t n, const struct quirk_cpu *cpu,
		 struct quirk_insn *insn)
{
	struct insn_cursor c = { .bytes = bytes, .n = n };
	struct insn_prefixes p;
	struct modrm m = { 0 };
	unsigned int addr_size;
	bool needs_modrm_mem = false;
	uint8_t opcode, byte;

	memset(insn, 0, sizeof(*insn));
	insn->kind = QK_NONE;
	insn->reg = -1;
	insn->rm.reg = -1;

	if (!cpu->long_mode && !cpu->def32)
		return -1;
	if (decode_prefixes(&c, cpu, &p, &opcode))
		return -1;
	if (cpu->long_mode)
		addr_size = p.addrsize ? 4 : 8;
	else if (p.addrsize)
		return -1;	/* 16-bit addressing */
	else
		addr_size = 4;
	insn->lock = p.lock;
	insn->seg = p.seg;

	switch (opcode) {
	case 0xcc:
		if (p.lock)
			return -1;
		insn->kind = QK_INT3;
		break;
	case 0x9b:
		if (p.lock)
			return -1;
		insn->kind = QK_FWAIT;
		break;
	case 0xc4:
	case 0xc5:
		/* A VEX prefix after LOCK, 66, F2, F3 or REX raises #UD. */
		if (p.lock || has_simd_prefix(&p) || p.has_rex)
			return -1;
		if (decode_vex(&c, cpu, opcode, &p) || decode_mxcsr(&c, cpu, p.rex, &m, insn))
			return -1;
		needs_modrm_mem = true;
		break;
	case 0x0f:
		if (cursor_next(&c, &byte))
			return -1;
		switch (byte) {
		case 0x01:
			/* F3/F2 0F 01 CA are FRED's ERETU/ERETS, not CLAC. */
			if (p.lock || has_simd_prefix(&p) || cursor_next(&c, &byte))
				return -1;
			if (byte == 0xca)
				insn->kind = QK_CLAC;
			else if (byte == 0xcb)
				insn->kind = QK_STAC;
			else
				return -1;
			break;
		case 0xb8:
			/* Without F3 this is JMPE; F2 makes the prefix ambiguous. */
			if (!p.rep || p.repne || p.lock)
				return -1;
			if (decode_modrm(&c, cpu, p.rex, &m))
				return -1;
			insn->kind = QK_POPCNT;
			if (p.rex & REX_W)
				insn->opsize = 8;
			else if (p.opsize)
				insn->opsize = 2;
			else
				insn->opsize = 4;
			insn->reg = m.reg;
			if (m.mod == 3) {
				insn->rm.is_reg = true;
				insn->rm.reg = m.rm;
			} else {
				needs_modrm_mem = true;
			}
			break;
		case 0xae:
			if (p.lock || has_simd_prefix(&p) ||
			    decode_mxcsr(&c, cpu, p.rex, &m, insn))
				return -1;
			needs_modrm_mem = true;
			break;
		case 0xc7:
			/* Without REX.W this is CMPXCHG8B, which we leave alone. */
			if (!(p.rex & REX_W) || has_simd_prefix(&p))
				return -1;
			if (decode_modrm(&c, cpu, p.rex, &m) || m.mod == 3 ||
			    (m.reg & 7) != 1)
				return -1;
			insn->kind = QK_CMPXCHG16B;
			needs_modrm_mem = true;
			break;
		default:
			return -1;
		}
		break;
	default:
		return -1;
	}

	insn->len = c.pos;
	if (needs_modrm_mem)
		decode_finish_mem(insn, cpu, &m, &p, addr_size);
	return 0;
}

static uint64_t load_le(const uint8_t *buf, unsigned int size)
{
	uint64_t value = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		value |= (uint64_t)buf[i] << (8 * i);
	return value;
}

static void store_le(uint8_t *buf, uint64_t value, unsigned int size)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		buf[i] = value >> (8 * i);
}

static void inject_gp0(struct quirk_cpu *cpu)
{
	cpu->inject_vector = X86_VEC_GP;
	cpu->inject_has_error = true;
	cpu->inject_error = 0;
}

/*
 * The callbacks cannot tell why an access failed; a supervisor access to
 * a page that is not present is the usual cause, so that is what the error
 * code says, with W set for writes (and for CMPXCHG16B, which always
 * writes).
 */
static void inject_pf(struct quirk_cpu *cpu, uint64_t gva, bool write)
{
	cpu->inject_vector = X86_VEC_PF;
	cpu->inject_has_error = true;
	cpu->inject_error = write ? X86_PF_ERR_WRITE : 0;
	cpu->fault_addr = gva;
}

static int read_guest(struct quirk_cpu *cpu, uint64_t gva, void *buf,
		      size_t len, bool write_intent)
{
	if (!cpu->read_mem || cpu->read_mem(cpu->opaque, gva, buf, len)) {
		inject_pf(cpu, gva, write_intent);
		return -1;
	}
	return 0;
}

static int write_guest(struct quirk_cpu *cpu, uint64_t gva, const void *buf,
		       size_t len)
{
	if (!cpu->write_mem || cpu->write_mem(cpu->opaque, gva, buf, len)) {
		inject_pf(cpu, gva, true);
		return -1;
	}
	return 0;
}

static void advance_rip(struct quirk_cpu *cpu, unsigned int len)
{
	cpu->rip += len;
	if (!cpu->long_mode)
		cpu->rip = (uint32_t)cpu->rip;
}

static uint64_t operand_mask(unsigned int size)
{
	return size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

static int finish_popcnt(const struct quirk_insn *insn, struct quirk_cpu *cpu)
{
	uint64_t src, *dest = &cpu->gpr[insn->reg];
	uint8_t buf[8];

	if (insn->rm.is_reg) {
		src = cpu->gpr[insn->rm.reg] & operand_mask(insn->opsize);
	} else {
		if (read_guest(cpu, insn->rm.ea, buf, insn->opsize, false))
			return -1;
		src = load_le(buf, insn->opsize);
	}

	/*
	 * A 16-bit destination keeps bits 63:16; a 32-bit one is
	 * zero-extended (outside long mode the upper half does not exist).
	 */
	if (insn->opsize == 2)
		*dest = (*dest & ~0xffffULL) | __builtin_popcountll(src);
	else
		*dest = __builtin_popcountll(src);

	cpu->rflags &= ~(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF |
			 X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF);
	if (!src)
		cpu->rflags |= X86_EFLAGS_ZF;
	return 0;
}

static int finish_ldmxcsr(const struct quirk_insn *insn, struct quirk_cpu *cpu)
{
	uint8_t buf[4];
	uint32_t value;

	if (read_guest(cpu, insn->rm.ea, buf, sizeof(buf), false))
		return -1;
	value = load_le(buf, sizeof(buf));
	if (value & ~MXCSR_MASK) {
		inject_gp0(cpu);
		return -1;
	}
	cpu->mxcsr = value;
	return 0;
}

static int finish_stmxcsr(const struct quirk_insn *insn, struct quirk_cpu *cpu)
{
	uint8_t buf[4];

	store_le(buf, cpu->mxcsr, sizeof(buf));
	return write_guest(cpu, insn->rm.ea, buf, sizeof(buf));
}

static int finish_cmpxchg16b(const struct quirk_insn *insn, struct quirk_cpu *cpu)
{
	uint64_t expect[2] = { cpu->gpr[0], cpu->gpr[2] };	/* RDX:RAX */
	uint64_t desired[2] = { cpu->gpr[3], cpu->gpr[1] };	/* RCX:RBX */
	uint64_t gva = insn->rm.ea;
	bool swapped;
	uint8_t buf[16];

	/* Unlike other memory operands, m128 here must be aligned. */
	if (gva & 15) {
		inject_gp0(cpu);
		return -1;
	}

	if (cpu->cmpxchg16) {
		if (cpu->cmpxchg16(cpu->opaque, gva, expect, desired, &swapped)) {
			inject_pf(cpu, gva, true);
			return -1;
		}
	} else {
		/*
		 * Not atomic against other vCPUs; good enough while the guest
		 * runs one vCPU or the caller stops the others. A failed compare
		 * does not write back, so it cannot clobber another writer.
		 */
		if (read_guest(cpu, gva, buf, sizeof(buf), true))
			return -1;
		swapped = load_le(buf, 8) == expect[0] &&
			  load_le(buf + 8, 8) == expect[1];
		if (swapped) {
			store_le(buf, desired[0], 8);
			store_le(buf + 8, desired[1], 8);
			if (write_guest(cpu, gva, buf, sizeof(buf)))
				return -1;
		} else {
			expect[0] = load_le(buf, 8);
			expect[1] = load_le(buf + 8, 8);
		}
	}

	if (swapped) {
		cpu->rflags |= X86_EFLAGS_ZF;
	} else {
		cpu->rflags &= ~X86_EFLAGS_ZF;
		cpu->gpr[0] = expect[0];
		cpu->gpr[2] = expect[1];
	}
	return 0;
}

int quirk_finish(const struct quirk_insn *insn, struct quirk_cpu *cpu)
{
	int ret = 0;

	cpu->inject_vector = -1;
	cpu->inject_has_error = false;
	cpu->inject_error = 0;

	switch (insn->kind) {
	case QK_INT3:
		/* A trap: the frame the guest sees points after the INT3. */
		cpu->inject_vector = 3;
		break;
	case QK_FWAIT:
		/*
		 * A pending unmasked x87 exception (#MF) is not modelled: we
		 * cannot see the x87 state, and kernel code masks them.
		 */
		break;
	case QK_CLAC:
		cpu->rflags &= ~X86_EFLAGS_AC;
		break;
	case QK_STAC:
		cpu->rflags |= X86_EFLAGS_AC;
		break;
	case QK_POPCNT:
		ret = finish_popcnt(insn, cpu);
		break;
	case QK_LDMXCSR:
		ret = finish_ldmxcsr(insn, cpu);
		break;
	case QK_STMXCSR:
		ret = finish_stmxcsr(insn, cpu);
		break;
	case QK_CMPXCHG16B:
		ret = finish_cmpxchg16b(insn, cpu);
		break;
	default:
		return -1;
	}
	if (ret)
		return ret;
	advance_rip(cpu, insn->len);
	return 0;
}

const char *quirk_kind_name(enum quirk_kind kind)
{
	static const char *const names[QK_NR] = {
		[QK_NONE]	= "none",
		[QK_INT3]	= "int3",
		[QK_FWAIT]	= "fwait",
		[QK_CLAC]	= "clac",
		[QK_STAC]	= "stac",
		[QK_POPCNT]	= "popcnt",
		[QK_LDMXCSR]	= "ldmxcsr",
		[QK_STMXCSR]	= "stmxcsr",
		[QK_CMPXCHG16B]	= "cmpxchg16b",
	};

	if ((unsigned int)kind >= QK_NR)
		return "unknown";
	return names[kind];
}

bool quirk_host_detect_in(const char *module_dir)
{
	char path[4096];
	struct stat st;

	/*
	 * The kvm_pvm module is what makes /dev/kvm emulate CPL0 code and
	 * reject these instructions; a hardware KVM host loads kvm_intel or
	 * kvm_amd instead, and there nothing needs finishing.
	 */
	if ((size_t)snprintf(path, sizeof(path), "%s/kvm_pvm", module_dir) >= sizeof(path))
		return false;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool quirk_host_detect(void)
{
	const char *override = getenv("VLAB_HOST_PVM");

	/* Lets tests exercise both host kinds on any machine. */
	if (override && !strcmp(override, "0"))
		return false;
	if (override && !strcmp(override, "1"))
		return true;
	return quirk_host_detect_in("/sys/module");
}
