// SPDX-License-Identifier: GPL-2.0
/* The saved-state tree: building, checked reading and dumping (see state.h). */
#include <ctype.h>
#include <errno.h>
#include <libfdt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/migrate/state.h"

/*
 * A whole VM's KVM state is tens of KiB (a vCPU is ~7 KiB with XSAVE);
 * device state is smaller. Start at a size that fits a few vCPUs.
 */
#define STATE_BUF_INITIAL	(32 * 1024)
/* An FDT's totalsize is a u32 and libfdt takes int sizes. */
#define STATE_BUF_MAX		(1U << 30)
#define STATE_PATH_MAX		256

static int sb_set_err(struct state_buf *sb, int err, int fdt_err)
{
	if (!sb->err) {
		sb->err = err;
		sb->fdt_err = fdt_err;
	}
	return sb->err;
}

/*
 * Double the buffer. fdt_resize() moves the strings block to the new end,
 * and copes with the new buffer starting where the old one did, so a plain
 * realloc() followed by an in-place resize is enough.
 */
static int sb_grow(struct state_buf *sb)
{
	size_t nsize = sb->size * 2;
	void *p;

	if (nsize > STATE_BUF_MAX)
		return -EFBIG;
	p = realloc(sb->fdt, nsize);
	if (!p)
		return -ENOMEM;
	sb->fdt = p;
	if (fdt_resize(p, p, nsize))
		return -EINVAL;
	sb->size = nsize;
	return 0;
}

/*
 * Run a libfdt sequential-write call, growing the buffer while it says
 * there is no room. A failed call leaves the tree as it was (libfdt takes
 * back the name string it added), so a retry is clean.
 */
#define SB_DO(sb, call)							\
	({								\
		int __r = 0;						\
									\
		if ((sb)->err)						\
			__r = (sb)->err;				\
		else for (;;) {						\
			int __g;					\
									\
			__r = (call);					\
			if (__r != -FDT_ERR_NOSPACE)			\
				break;					\
			__g = sb_grow(sb);				\
			if (__g) {					\
				__r = sb_set_err(sb, __g, __r);		\
				break;					\
			}						\
		}							\
		if (__r < 0 && !(sb)->err)				\
			__r = sb_set_err(sb, -EINVAL, __r);		\
		__r < 0 ? __r : 0;					\
	})

int state_buf_init(struct state_buf *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->size = STATE_BUF_INITIAL;
	sb->fdt = malloc(sb->size);
	if (!sb->fdt)
		return sb_set_err(sb, -ENOMEM, 0);
	/*
	 * No name de-duplication: libfdt finds a name by scanning the whole
	 * strings block byte by byte, which made building a vCPU's ~250
	 * properties cost 100+ us. Repeating the names costs ~2.5 KiB a vCPU.
	 */
	SB_DO(sb, fdt_create_with_flags(sb->fdt, sb->size, FDT_CREATE_FLAG_NO_NAME_DEDUP));
	SB_DO(sb, fdt_finish_reservemap(sb->fdt));
	SB_DO(sb, fdt_begin_node(sb->fdt, ""));
	sb->depth = 1;
	state_put_u32(sb, "vlab,state-version", STATE_VERSION);
	state_put_string(sb, "vlab,compatible", STATE_COMPATIBLE);
	return sb->err;
}

int state_buf_finish(struct state_buf *sb)
{
	if (sb->err)
		return sb->err;
	if (sb->finished)
		return 0;
	if (sb->depth != 1)
		return sb_set_err(sb, -EINVAL, 0);
	SB_DO(sb, fdt_end_node(sb->fdt));
	SB_DO(sb, fdt_finish(sb->fdt));
	sb->depth = 0;
	sb->finished = !sb->err;
	return sb->err;
}

void state_buf_free(struct state_buf *sb)
{
	free(sb->fdt);
	memset(sb, 0, sizeof(*sb));
}

size_t state_blob_size(const struct state_buf *sb)
{
	return sb->finished ? fdt_totalsize(sb->fdt) : 0;
}

const char *state_buf_strerror(const struct state_buf *sb)
{
	static __thread char msg[128];

	if (!sb->err)
		return "no error";
	if (sb->msg[0])
		return sb->msg;
	if (sb->fdt_err)
		snprintf(msg, sizeof(msg), "%s (libfdt: %s)", strerror(-sb->err),
			 fdt_strerror(sb->fdt_err));
	else if (sb->err == -EINVAL && sb->depth != 1 && !sb->finished)
		snprintf(msg, sizeof(msg), "unbalanced nodes (%d open)", sb->depth);
	else
		snprintf(msg, sizeof(msg), "%s", strerror(-sb->err));
	return msg;
}

int state_buf_fail(struct state_buf *sb, int err, const char *fmt, ...)
{
	va_list ap;

	if (sb->err)
		return sb->err;
	va_start(ap, fmt);
	vsnprintf(sb->msg, sizeof(sb->msg), fmt, ap);
	va_end(ap);
	return sb_set_err(sb, err < 0 ? err : -EIO, 0);
}

int state_begin_node(struct state_buf *sb, const char *name, uint32_t version)
{
	if (!sb->err && (sb->depth < 1 || sb->depth >= 63))
		return sb_set_err(sb, -EINVAL, 0);
	if (SB_DO(sb, fdt_begin_node(sb->fdt, name)))
		return sb->err;
	sb->has_child |= 1ULL << (sb->depth - 1);
	sb->has_child &= ~(1ULL << sb->depth);
	sb->depth++;
	return state_put_u32(sb, "version", version);
}

/*
 * A node's properties come before its children: libfdt writes a property
 * after a child without complaint, and readers then never find it.
 */
static int sb_prop_ok(struct state_buf *sb)
{
	if (!sb->err && sb->depth >= 1 && (sb->has_child >> (sb->depth - 1) & 1))
		return state_buf_fail(sb, -EINVAL, "a property after a child node");
	return sb->err;
}

int state_begin_nodef(struct state_buf *sb, uint32_t version, const char *fmt, ...)
{
	char name[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(name))
		return sb_set_err(sb, -ENAMETOOLONG, 0);
	return state_begin_node(sb, name, version);
}

int state_end_node(struct state_buf *sb)
{
	/* The root is closed by state_buf_finish(), never here. */
	if (!sb->err && sb->depth < 2)
		return sb_set_err(sb, -EINVAL, 0);
	if (SB_DO(sb, fdt_end_node(sb->fdt)))
		return sb->err;
	sb->depth--;
	return 0;
}

int state_put_u32(struct state_buf *sb, const char *name, uint32_t v)
{
	return sb_prop_ok(sb) ?: SB_DO(sb, fdt_property_u32(sb->fdt, name, v));
}

int state_put_u64(struct state_buf *sb, const char *name, uint64_t v)
{
	return sb_prop_ok(sb) ?: SB_DO(sb, fdt_property_u64(sb->fdt, name, v));
}

int state_put_bytes(struct state_buf *sb, const char *name, const void *p, size_t len)
{
	if (len > STATE_BUF_MAX)
		return sb_set_err(sb, -EFBIG, 0);
	return sb_prop_ok(sb) ?: SB_DO(sb, fdt_property(sb->fdt, name, p, len));
}

int state_put_string(struct state_buf *sb, const char *name, const char *s)
{
	return sb_prop_ok(sb) ?: SB_DO(sb, fdt_property_string(sb->fdt, name, s));
}

void *state_put_placeholder(struct state_buf *sb, const char *name, size_t len)
{
	void *val = NULL;

	if (len > STATE_BUF_MAX) {
		sb_set_err(sb, -EFBIG, 0);
		return NULL;
	}
	if (sb_prop_ok(sb) || SB_DO(sb, fdt_property_placeholder(sb->fdt, name, len, &val)))
		return NULL;
	return val;
}

int state_put_u64_array(struct state_buf *sb, const char *name, const uint64_t *v, size_t n)
{
	uint8_t *p = state_put_placeholder(sb, name, n * sizeof(*v));
	size_t i;

	if (!p)
		return sb->err;
	for (i = 0; i < n; i++) {
		fdt64_t be = cpu_to_fdt64(v[i]);

		/* FDT values are only 4-byte aligned. */
		memcpy(p + i * sizeof(be), &be, sizeof(be));
	}
	return 0;
}

/* ---- reading ---- */

static const char *node_path(const void *fdt, int node, char *buf, size_t len)
{
	if (fdt_get_path(fdt, node, buf, len) < 0)
		snprintf(buf, len, "<node at %d>", node);
	return buf;
}

#define fail(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

int state_check(const void *fdt, size_t len, char *err, size_t errlen)
{
	const char *compat;
	uint32_t ver;
	int ret;

	if (len < sizeof(struct fdt_header))
		fail("state blob too short (%zu bytes)", len);
	if (fdt_magic(fdt) != FDT_MAGIC)
		fail("not a vlab state blob (bad magic 0x%08x)", fdt_magic(fdt));
	if (fdt_totalsize(fdt) > len)
		fail("state blob truncated: header says %u bytes, have %zu",
		     fdt_totalsize(fdt), len);
	/*
	 * vlab writes FDT version 17. libfdt still accepts older layouts, but
	 * its full check of one (version 3, say) reads through a NULL pointer:
	 * refuse them before libfdt looks further.
	 */
	if (fdt_version(fdt) != 17 && (fdt_version(fdt) < 17 ||
				       fdt_last_comp_version(fdt) > 17))
		fail("state blob has FDT version %u (compatible back to %u); vlab reads 17",
		     fdt_version(fdt), fdt_last_comp_version(fdt));
	/* The blob may come off the network: validate all of it up front. */
	ret = fdt_check_full(fdt, len);
	if (ret)
		fail("corrupt state blob: %s", fdt_strerror(ret));
	compat = state_get_string(fdt, 0, "vlab,compatible", err, errlen);
	if (!compat)
		return -1;
	if (strcmp(compat, STATE_COMPATIBLE))
		fail("state blob is \"%s\", not \"%s\"", compat, STATE_COMPATIBLE);
	if (state_get_u32(fdt, 0, "vlab,state-version", &ver, err, errlen))
		return -1;
	if (ver < 1 || ver > STATE_VERSION)
		fail("state format version %u is not supported (this vlab reads 1..%u)",
		     ver, STATE_VERSION);
	return 0;
}

int state_node_version(const void *fdt, int node, uint32_t max, char *err, size_t errlen)
{
	char path[STATE_PATH_MAX];
	const fdt32_t *p;
	uint32_t v;
	int len;

	p = fdt_getprop(fdt, node, "version", &len);
	if (!p)
		fail("%s: no \"version\" property", node_path(fdt, node, path, sizeof(path)));
	if (len != sizeof(*p))
		fail("%s: \"version\" is %d bytes, want 4 (u32)",
		     node_path(fdt, node, path, sizeof(path)), len);
	v = fdt32_to_cpu(*p);
	if (v == 0)
		fail("%s: version 0 is not valid", node_path(fdt, node, path, sizeof(path)));
	if (v > max)
		fail("%s: version %u is newer than this vlab understands (%u)",
		     node_path(fdt, node, path, sizeof(path)), v, max);
	return (int)v;
}

int state_subnode(const void *fdt, int parent, const char *name, uint32_t max,
		  uint32_t *version, char *err, size_t errlen)
{
	char path[STATE_PATH_MAX];
	int node, v;

	node = fdt_subnode_offset(fdt, parent, name);
	if (node < 0)
		fail("%s: no node \"%s\"", node_path(fdt, parent, path, sizeof(path)), name);
	v = state_node_version(fdt, node, max, err, errlen);
	if (v < 0)
		return -1;
	if (version)
		*version = v;
	return node;
}

bool state_has(const void *fdt, int node, const char *name)
{
	return fdt_getprop(fdt, node, name, NULL) != NULL;
}

/* The property's value if it is exactly @want bytes (any length if @want < 0). */
static const void *get_prop(const void *fdt, int node, const char *name, int want,
			    const char *type, int *lenp, char *err, size_t errlen)
{
	char path[STATE_PATH_MAX];
	const void *p;
	int len;

	p = fdt_getprop(fdt, node, name, &len);
	if (!p) {
		snprintf(err, errlen, "%s: missing property \"%s\"",
			 node_path(fdt, node, path, sizeof(path)), name);
		return NULL;
	}
	if (want >= 0 && len != want) {
		snprintf(err, errlen, "%s: property \"%s\" is %d bytes, want %d (%s)",
			 node_path(fdt, node, path, sizeof(path)), name, len, want, type);
		return NULL;
	}
	if (lenp)
		*lenp = len;
	return p;
}

int state_get_u32(const void *fdt, int node, const char *name, uint32_t *v,
		  char *err, size_t errlen)
{
	const fdt32_t *p = get_prop(fdt, node, name, 4, "u32", NULL, err, errlen);

	if (!p)
		return -1;
	*v = fdt32_to_cpu(*p);
	return 0;
}

int state_get_bool(const void *fdt, int node, const char *name, bool *v,
		   char *err, size_t errlen)
{
	char path[STATE_PATH_MAX];
	uint32_t x;

	if (state_get_u32(fdt, node, name, &x, err, errlen))
		return -1;
	if (x > 1)
		fail("%s: \"%s\" = %u is not a boolean (0 or 1)",
		     node_path(fdt, node, path, sizeof(path)), name, x);
	*v = x;
	return 0;
}

int state_get_u64(const void *fdt, int node, const char *name, uint64_t *v,
		  char *err, size_t errlen)
{
	const void *p = get_prop(fdt, node, name, 8, "u64", NULL, err, errlen);
	fdt64_t be;

	if (!p)
		return -1;
	memcpy(&be, p, sizeof(be));
	*v = fdt64_to_cpu(be);
	return 0;
}

int state_get_bytes(const void *fdt, int node, const char *name, void *buf, size_t len,
		    char *err, size_t errlen)
{
	const void *p;

	if (len > STATE_BUF_MAX)
		fail("property \"%s\": %zu bytes is too large", name, len);
	p = get_prop(fdt, node, name, (int)len, "bytes", NULL, err, errlen);
	if (!p)
		return -1;
	memcpy(buf, p, len);
	return 0;
}

const void *state_get_blob(const void *fdt, int node, const char *name, size_t *len,
			   char *err, size_t errlen)
{
	const void *p;
	int l;

	p = get_prop(fdt, node, name, -1, "bytes", &l, err, errlen);
	if (p)
		*len = l;
	return p;
}

const char *state_get_string(const void *fdt, int node, const char *name,
			     char *err, size_t errlen)
{
	char path[STATE_PATH_MAX];
	const char *p;
	int len;

	p = get_prop(fdt, node, name, -1, "string", &len, err, errlen);
	if (!p)
		return NULL;
	if (len < 1 || p[len - 1] || strlen(p) != (size_t)len - 1) {
		snprintf(err, errlen, "%s: property \"%s\" is not a string",
			 node_path(fdt, node, path, sizeof(path)), name);
		return NULL;
	}
	return p;
}

int state_get_u64_array(const void *fdt, int node, const char *name, uint64_t *v,
			size_t n, char *err, size_t errlen)
{
	const uint8_t *p;
	size_t i;

	if (n > STATE_BUF_MAX / 8)
		fail("property \"%s\": %zu elements is too many", name, n);
	p = get_prop(fdt, node, name, (int)(n * 8), "u64 array", NULL, err, errlen);
	if (!p)
		return -1;
	for (i = 0; i < n; i++) {
		fdt64_t be;

		memcpy(&be, p + i * 8, sizeof(be));
		v[i] = fdt64_to_cpu(be);
	}
	return 0;
}

/* ---- field tables ---- */

static uint64_t field_load(const void *base, const struct state_field *f)
{
	const uint8_t *p = (const uint8_t *)base + f->offset;

	switch (f->size) {
	case 1:
		return *p;
	case 2: {
		uint16_t v;

		memcpy(&v, p, sizeof(v));
		return v;
	}
	case 4: {
		uint32_t v;

		memcpy(&v, p, sizeof(v));
		return v;
	}
	default: {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		return v;
	}
	}
}

static void field_store(void *base, const struct state_field *f, uint64_t v)
{
	uint8_t *p = (uint8_t *)base + f->offset;

	switch (f->size) {
	case 1:
		*p = v;
		break;
	case 2: {
		uint16_t x = v;

		memcpy(p, &x, sizeof(x));
		break;
	}
	case 4: {
		uint32_t x = v;

		memcpy(p, &x, sizeof(x));
		break;
	}
	default:
		memcpy(p, &v, sizeof(v));
		break;
	}
}

int state_put_fields(struct state_buf *sb, const void *base,
		     const struct state_field *f, size_t n)
{
	const uint8_t *b = base;
	size_t i;

	for (i = 0; i < n; i++, f++) {
		switch (f->kind) {
		case STATE_FIELD_UINT:
			if (f->size == 8)
				state_put_u64(sb, f->name, field_load(base, f));
			else
				state_put_u32(sb, f->name, field_load(base, f));
			break;
		case STATE_FIELD_BOOL:
			state_put_u32(sb, f->name, *(const bool *)(b + f->offset));
			break;
		case STATE_FIELD_BYTES:
			state_put_bytes(sb, f->name, b + f->offset, f->size);
			break;
		case STATE_FIELD_UINT_ARRAY: {
			size_t k, cnt = f->size / f->elem;
			size_t cell = f->elem == 8 ? 8 : 4;
			uint8_t *p = state_put_placeholder(sb, f->name, cnt * cell);
			struct state_field e = { .size = f->elem };

			for (k = 0; p && k < cnt; k++, p += cell) {
				uint64_t v;

				e.offset = f->offset + k * f->elem;
				v = field_load(base, &e);
				if (cell == 8) {
					fdt64_t be = cpu_to_fdt64(v);

					memcpy(p, &be, 8);
				} else {
					fdt32_t be = cpu_to_fdt32(v);

					memcpy(p, &be, 4);
				}
			}
			break;
		}
		}
	}
	return sb->err;
}

static int get_field(const void *fdt, int node, void *base, const struct state_field *f,
		     const void *val, int len, char *err, size_t errlen)
{
	char path[STATE_PATH_MAX];
	uint8_t *b = base;
	size_t want = (f->kind == STATE_FIELD_UINT && f->size < 8) ||
		      f->kind == STATE_FIELD_BOOL ? 4 : f->size;
	const char *type = f->kind == STATE_FIELD_BYTES ? "bytes" :
			   f->kind == STATE_FIELD_UINT_ARRAY ? "cell array" :
			   f->kind == STATE_FIELD_BOOL ? "u32 bool" :
			   want == 4 ? "u32" : "u64";
	size_t i;

	/* Arrays of 2- and 4-byte integers take a cell per element. */
	if (f->kind == STATE_FIELD_UINT_ARRAY && f->elem < 8)
		want = f->size / f->elem * 4;

	if ((size_t)len != want)
		fail("%s: property \"%s\" is %d bytes, want %zu (%s)",
		     node_path(fdt, node, path, sizeof(path)), f->name, len, want, type);
	switch (f->kind) {
	case STATE_FIELD_UINT:
		if (want == 4) {
			fdt32_t be;
			uint32_t v;

			memcpy(&be, val, sizeof(be));
			v = fdt32_to_cpu(be);
			if (f->size < 4 && v >> (8 * f->size))
				fail("%s: \"%s\" = 0x%x does not fit in %u bits",
				     node_path(fdt, node, path, sizeof(path)),
				     f->name, v, 8 * f->size);
			field_store(base, f, v);
		} else {
			fdt64_t be;

			memcpy(&be, val, sizeof(be));
			field_store(base, f, fdt64_to_cpu(be));
		}
		break;
	case STATE_FIELD_BOOL: {
		fdt32_t be;
		uint32_t v;

		memcpy(&be, val, sizeof(be));
		v = fdt32_to_cpu(be);
		if (v > 1)
			fail("%s: \"%s\" = %u is not a boolean (0 or 1)",
			     node_path(fdt, node, path, sizeof(path)), f->name, v);
		*(bool *)(b + f->offset) = v;
		break;
	}
	case STATE_FIELD_BYTES:
		memcpy(b + f->offset, val, f->size);
		break;
	case STATE_FIELD_UINT_ARRAY:
		for (i = 0; i < f->size / f->elem; i++) {
			struct state_field e = {
				.offset = f->offset + i * f->elem, .size = f->elem,
			};
			uint64_t v;

			if (f->elem == 8) {
				fdt64_t be;

				memcpy(&be, (const uint8_t *)val + 8 * i, sizeof(be));
				v = fdt64_to_cpu(be);
			} else {
				fdt32_t be;

				memcpy(&be, (const uint8_t *)val + 4 * i, sizeof(be));
				v = fdt32_to_cpu(be);
				if (f->elem < 4 && v >> (8 * f->elem))
					fail("%s: \"%s\"[%zu] = 0x%llx does not fit in %u bits",
					     node_path(fdt, node, path, sizeof(path)), f->name,
					     i, (unsigned long long)v, 8 * f->elem);
			}
			field_store(base, &e, v);
		}
		break;
	}
	return 0;
}

/*
 * One pass over the node's properties, matching each against the table:
 * looking every field up by name would walk the node once per field.
 * Properties the table does not name are left alone.
 */
int state_get_fields(const void *fdt, int node, void *base,
		     const struct state_field *f, size_t n, char *err, size_t errlen)
{
	uint64_t seen[4] = { 0 };
	char path[STATE_PATH_MAX];
	size_t i, hint = 0;
	int prop;

	if (n > 64 * sizeof(seen) / sizeof(seen[0]))
		fail("field table too large (%zu)", n);
	fdt_for_each_property_offset(prop, fdt, node) {
		const char *name;
		const void *val;
		int len;

		val = fdt_getprop_by_offset(fdt, prop, &name, &len);
		if (!val)
			continue;
		/* Properties come in table order when we wrote them: try next first. */
		for (i = 0; i < n; i++) {
			size_t k = (hint + i) % n;

			if (strcmp(f[k].name, name))
				continue;
			if (get_field(fdt, node, base, &f[k], val, len, err, errlen))
				return -1;
			seen[k / 64] |= 1ULL << (k % 64);
			hint = k + 1;
			break;
		}
	}
	for (i = 0; i < n; i++)
		if (!(seen[i / 64] & (1ULL << (i % 64))))
			fail("%s: missing property \"%s\"",
			     node_path(fdt, node, path, sizeof(path)), f[i].name);
	return 0;
}

int state_put_struct(struct state_buf *sb, const char *name, uint32_t version,
		     const void *base, const struct state_field *f, size_t n)
{
	state_begin_node(sb, name, version);
	state_put_fields(sb, base, f, n);
	return state_end_node(sb);
}

int state_get_struct(const void *fdt, int parent, const char *name, uint32_t max,
		     void *base, const struct state_field *f, size_t n, char *err,
		     size_t errlen)
{
	int node = state_subnode(fdt, parent, name, max, NULL, err, errlen);

	if (node < 0)
		return -1;
	return state_get_fields(fdt, node, base, f, n, err, errlen);
}

/* Field @f of @count strided structs as one array field over @tmp. */
static struct state_field array_of(const struct state_field *f, unsigned int count)
{
	struct state_field af = {
		.name = f->name, .size = count * f->size,
		.kind = STATE_FIELD_UINT_ARRAY, .elem = f->size,
	};

	return af;
}

int state_put_struct_array(struct state_buf *sb, const char *name, uint32_t version,
			   const void *base, size_t stride, unsigned int count,
			   const struct state_field *f, size_t n)
{
	uint8_t tmp[STATE_ARRAY_MAX * 8];
	unsigned int i;
	size_t k;

	if (count > STATE_ARRAY_MAX)
		return state_buf_fail(sb, -E2BIG, "%s: %u structs, at most %u", name, count,
				      STATE_ARRAY_MAX);
	state_begin_node(sb, name, version);
	for (k = 0; k < n; k++, f++) {
		struct state_field af = array_of(f, count);

		if (f->kind != STATE_FIELD_UINT)
			return state_buf_fail(sb, -EINVAL, "%s: \"%s\" is not an integer field",
					      name, f->name);
		for (i = 0; i < count; i++)
			memcpy(tmp + i * f->size,
			       (const uint8_t *)base + i * stride + f->offset, f->size);
		state_put_fields(sb, tmp, &af, 1);
	}
	return state_end_node(sb);
}

int state_get_struct_array(const void *fdt, int parent, const char *name, uint32_t max,
			   void *base, size_t stride, unsigned int count,
			   const struct state_field *f, size_t n, char *err, size_t errlen)
{
	uint8_t tmp[STATE_ARRAY_MAX * 8];
	unsigned int i;
	size_t k;
	int node;

	if (count > STATE_ARRAY_MAX)
		fail("%s: %u structs, at most %u", name, count, STATE_ARRAY_MAX);
	node = state_subnode(fdt, parent, name, max, NULL, err, errlen);
	if (node < 0)
		return -1;
	for (k = 0; k < n; k++, f++) {
		struct state_field af = array_of(f, count);

		if (f->kind != STATE_FIELD_UINT)
			fail("%s: \"%s\" is not an integer field", name, f->name);
		if (state_get_fields(fdt, node, tmp, &af, 1, err, errlen))
			return -1;
		for (i = 0; i < count; i++)
			memcpy((uint8_t *)base + i * stride + f->offset, tmp + i * f->size,
			       f->size);
	}
	return 0;
}

void state_copy_fields(void *dst, const void *src, const struct state_field *f, size_t n)
{
	for (; n--; f++)
		memcpy((uint8_t *)dst + f->offset, (const uint8_t *)src + f->offset, f->size);
}

/* ---- dumping, in dtc's dts style ---- */

/* dtc's isstring(): printable, NUL, or one of the C escapes. */
static bool dump_isstring(char c)
{
	return isprint((unsigned char)c) || c == '\0' || strchr("\a\b\t\n\v\f\r", c);
}

enum dump_type { DUMP_EMPTY, DUMP_STRING, DUMP_CELLS, DUMP_BYTES };

/* The same guess dtc makes for a value that came from a .dtb. */
static enum dump_type dump_guess(const char *p, int len)
{
	int i, nnotstring = 0, nnul = 0;

	if (!len)
		return DUMP_EMPTY;
	for (i = 0; i < len; i++) {
		if (!dump_isstring(p[i]))
			nnotstring++;
		if (!p[i])
			nnul++;
	}
	if (!p[len - 1] && !nnotstring && nnul <= len - nnul)
		return DUMP_STRING;
	if (len % 4 == 0)
		return DUMP_CELLS;
	return DUMP_BYTES;
}

static void dump_string(FILE *f, const char *p, int len)
{
	const char *end = p + len;

	putc('"', f);
	for (; p < end - 1; p++) {
		switch (*p) {
		case '\0':
			fputs("\", \"", f);
			break;
		case '\a': fputs("\\a", f); break;
		case '\b': fputs("\\b", f); break;
		case '\t': fputs("\\t", f); break;
		case '\n': fputs("\\n", f); break;
		case '\v': fputs("\\v", f); break;
		case '\f': fputs("\\f", f); break;
		case '\r': fputs("\\r", f); break;
		case '\\': fputs("\\\\", f); break;
		case '"': fputs("\\\"", f); break;
		default:
			putc(*p, f);
			break;
		}
	}
	putc('"', f);
}

static void dump_value(FILE *f, const void *val, int len)
{
	const uint8_t *b = val;
	int i;

	switch (dump_guess(val, len)) {
	case DUMP_EMPTY:
		fputs(";\n", f);
		return;
	case DUMP_STRING:
		fputs(" = ", f);
		dump_string(f, val, len);
		break;
	case DUMP_CELLS:
		fputs(" = <", f);
		for (i = 0; i < len; i += 4) {
			fdt32_t c;

			memcpy(&c, b + i, sizeof(c));
			fprintf(f, "%s0x%02x", i ? " " : "", fdt32_to_cpu(c));
		}
		putc('>', f);
		break;
	case DUMP_BYTES:
		fputs(" = [", f);
		for (i = 0; i < len; i++)
			fprintf(f, "%s%02x", i ? " " : "", b[i]);
		putc(']', f);
		break;
	}
	fputs(";\n", f);
}

static void dump_indent(FILE *f, int level)
{
	while (level-- > 0)
		putc('\t', f);
}

static void dump_node(const void *fdt, int node, int level, FILE *f)
{
	const char *name = fdt_get_name(fdt, node, NULL);
	int prop, child;

	dump_indent(f, level);
	fprintf(f, "%s {\n", name && *name ? name : "/");
	fdt_for_each_property_offset(prop, fdt, node) {
		const char *pname;
		const void *val;
		int len;

		val = fdt_getprop_by_offset(fdt, prop, &pname, &len);
		if (!val)
			continue;
		dump_indent(f, level + 1);
		fputs(pname, f);
		dump_value(f, val, len);
	}
	fdt_for_each_subnode(child, fdt, node) {
		putc('\n', f);
		dump_node(fdt, child, level + 1, f);
	}
	dump_indent(f, level);
	fputs("};\n", f);
}

void state_dump(const void *fdt, FILE *f)
{
	int i, n;

	if (fdt_check_header(fdt)) {
		fprintf(f, "/* not a flattened device tree */\n");
		return;
	}
	fputs("/dts-v1/;\n\n", f);
	n = fdt_num_mem_rsv(fdt);
	for (i = 0; i < n; i++) {
		uint64_t addr, size;

		if (!fdt_get_mem_rsv(fdt, i, &addr, &size))
			fprintf(f, "/memreserve/\t0x%016llx 0x%016llx;\n",
				(unsigned long long)addr, (unsigned long long)size);
	}
	dump_node(fdt, 0, 0, f);
}
