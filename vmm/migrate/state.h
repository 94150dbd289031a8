/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The saved-state format: a flattened device tree (libfdt), so a blob can
 * be checked, printed (state_dump(), or `dtc -I dtb`) and extended without
 * a schema compiler.
 *
 * Rules every writer follows:
 * - The root node carries "vlab,state-version" (the format, STATE_VERSION)
 *   and "vlab,compatible" (STATE_COMPATIBLE). A reader refuses a blob whose
 *   format version is newer than it knows.
 * - Every node carries its own "version" (u32). A component bumps it when
 *   it changes the meaning or the set of its properties, and its reader
 *   refuses versions newer than it understands.
 * - Integers are big-endian like every FDT cell: u32 is one cell, u64 two
 *   (dtc's /bits/ 64). 8- and 16-bit values are stored as one u32 cell.
 *
 * Writing uses libfdt's sequential-write mode on a buffer that grows as
 * needed; errors are sticky, so a writer can emit a whole node and check
 * once. Reading is by node offset, with every get checking presence and
 * length and saying what was wrong, with the node's path, in @err.
 *
 *	struct state_buf sb;
 *
 *	state_buf_init(&sb);
 *	state_begin_node(&sb, "uart", 1);
 *	state_put_u32(&sb, "ier", u->ier);
 *	state_end_node(&sb);
 *	if (state_buf_finish(&sb))
 *		...
 *	send(state_blob(&sb), state_blob_size(&sb));
 *	state_buf_free(&sb);
 */
#ifndef VLAB_STATE_H
#define VLAB_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define STATE_VERSION		1
#define STATE_COMPATIBLE	"vlab,vm-state"

struct state_buf {
	void *fdt;
	size_t size;		/* bytes allocated at fdt */
	int err;		/* first error (-errno), sticky */
	int fdt_err;		/* the libfdt code behind it, if any */
	int depth;		/* open nodes, root included */
	uint64_t has_child;	/* bit d: the open node at depth d has a child (no more properties) */
	bool finished;
	char msg[192];		/* why sb->err, if a writer said (state_buf_fail) */
};

/* Start a tree: opens the root node and writes its identification. */
int state_buf_init(struct state_buf *sb);
/* Close the root and pack the tree; 0 or the first error of the build. */
int state_buf_finish(struct state_buf *sb);
void state_buf_free(struct state_buf *sb);
/* The finished blob and its length. */
static inline const void *state_blob(const struct state_buf *sb)
{
	return sb->fdt;
}
size_t state_blob_size(const struct state_buf *sb);
/* A sentence for sb->err (names the libfdt error when there was one). */
const char *state_buf_strerror(const struct state_buf *sb);
/*
 * Record a writer's own failure (e.g. an ioctl that failed while gathering
 * the state) as the sticky error, with a message; returns @err (-errno).
 * The first error wins.
 */
int state_buf_fail(struct state_buf *sb, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Open a child of the current node; writes its "version" property. */
int state_begin_node(struct state_buf *sb, const char *name, uint32_t version);
/* printf-style name, e.g. "cpu@%d". */
int state_begin_nodef(struct state_buf *sb, uint32_t version, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int state_end_node(struct state_buf *sb);

int state_put_u32(struct state_buf *sb, const char *name, uint32_t v);
int state_put_u64(struct state_buf *sb, const char *name, uint64_t v);
int state_put_bytes(struct state_buf *sb, const char *name, const void *p, size_t len);
int state_put_string(struct state_buf *sb, const char *name, const char *s);
/* An array of u64, each as two cells. */
int state_put_u64_array(struct state_buf *sb, const char *name, const uint64_t *v, size_t n);
/* Room for a @len-byte value in the tree, filled by the caller (no copy). */
void *state_put_placeholder(struct state_buf *sb, const char *name, size_t len);

/*
 * Reading. Every function returns 0 (or a node offset, or a pointer) on
 * success and -1 (NULL) with a message in @err otherwise.
 */

/*
 * Is @fdt, @len bytes long, a state tree this vlab can read? Checks the
 * FDT header and size, "vlab,compatible" and "vlab,state-version".
 */
int state_check(const void *fdt, size_t len, char *err, size_t errlen);
/* The node's "version": present, a u32, 1..@max. Returns it or -1. */
int state_node_version(const void *fdt, int node, uint32_t max, char *err, size_t errlen);
/*
 * Child @name of @parent, with its version checked against @max (stored
 * in *@version if non-NULL). Returns the offset or -1.
 */
int state_subnode(const void *fdt, int parent, const char *name, uint32_t max,
		  uint32_t *version, char *err, size_t errlen);
bool state_has(const void *fdt, int node, const char *name);

int state_get_u32(const void *fdt, int node, const char *name, uint32_t *v,
		  char *err, size_t errlen);
int state_get_u64(const void *fdt, int node, const char *name, uint64_t *v,
		  char *err, size_t errlen);
/* Exactly @len bytes into @buf. */
int state_get_bytes(const void *fdt, int node, const char *name, void *buf, size_t len,
		    char *err, size_t errlen);
/* Any length: a pointer into the tree and its length in *@len. */
const void *state_get_blob(const void *fdt, int node, const char *name, size_t *len,
			   char *err, size_t errlen);
/* A NUL-terminated string property. */
const char *state_get_string(const void *fdt, int node, const char *name,
			     char *err, size_t errlen);
int state_get_u64_array(const void *fdt, int node, const char *name, uint64_t *v,
			size_t n, char *err, size_t errlen);

/* A bool property: a u32 cell that must be 0 or 1. */
int state_get_bool(const void *fdt, int node, const char *name, bool *v,
		   char *err, size_t errlen);

/*
 * Field tables: describe a plain C struct once and save or load it as one
 * property per field. Integer fields of 1, 2 or 4 bytes become a u32 cell
 * (and a loaded value that does not fit the field is an error), 8-byte ones
 * a u64; bool fields a u32 cell that must be 0 or 1 on load (any other byte
 * in a bool is undefined behaviour, so STATE_UINT refuses to compile for
 * one); byte arrays are stored as they are; integer arrays one element per
 * cell like single integers (u64 two cells), so they read the same on any
 * host.
 */
enum state_field_kind {
	STATE_FIELD_UINT,
	STATE_FIELD_BYTES,
	STATE_FIELD_UINT_ARRAY,
	STATE_FIELD_BOOL,
};

struct state_field {
	const char *name;
	uint32_t offset;
	uint32_t size;
	enum state_field_kind kind;
	uint32_t elem;		/* UINT_ARRAY: bytes per element, 2, 4 or 8 */
};

#define STATE_FIELD_SIZEOF(type, member) sizeof(((type *)0)->member)
#define STATE_FIELD_IS_BOOL(type, member)					\
	__builtin_types_compatible_p(__typeof__(((type *)0)->member), bool)
/* 0, or a compile error if @cond holds (usable in a static initializer). */
#define STATE_ZERO_UNLESS(cond)	(sizeof(struct { int: -!!(cond); }))
#define STATE_UINT(type, member, pname)						\
	{ (pname), offsetof(type, member) +					\
		   STATE_ZERO_UNLESS(STATE_FIELD_IS_BOOL(type, member)),	\
	  STATE_FIELD_SIZEOF(type, member), STATE_FIELD_UINT }
#define STATE_BOOL(type, member, pname)						\
	{ (pname), offsetof(type, member) +					\
		   STATE_ZERO_UNLESS(!STATE_FIELD_IS_BOOL(type, member)),	\
	  STATE_FIELD_SIZEOF(type, member), STATE_FIELD_BOOL }
#define STATE_BYTES(type, member, pname)					\
	{ (pname), offsetof(type, member), STATE_FIELD_SIZEOF(type, member),	\
	  STATE_FIELD_BYTES }
#define STATE_UINT_ARRAY(type, member, pname)					\
	{ (pname), offsetof(type, member), STATE_FIELD_SIZEOF(type, member),	\
	  STATE_FIELD_UINT_ARRAY, STATE_FIELD_SIZEOF(type, member[0]) +		\
	  STATE_ZERO_UNLESS(STATE_FIELD_SIZEOF(type, member[0]) == 1 ||		\
			    STATE_FIELD_IS_BOOL(type, member[0])) }
#define STATE_U64_ARRAY(type, member, pname)	STATE_UINT_ARRAY(type, member, pname)

int state_put_fields(struct state_buf *sb, const void *base,
		     const struct state_field *f, size_t n);
/*
 * Stops at the first bad property, with earlier fields already stored: a
 * loader that must leave its device unchanged on error loads into a copy,
 * checks it, then takes the fields over with state_copy_fields().
 */
int state_get_fields(const void *fdt, int node, void *base,
		     const struct state_field *f, size_t n, char *err, size_t errlen);
/* A child node @name holding one struct through its table. */
int state_put_struct(struct state_buf *sb, const char *name, uint32_t version,
		     const void *base, const struct state_field *f, size_t n);
/* Child @name (version 1..@max) of @parent into @base through the table. */
int state_get_struct(const void *fdt, int parent, const char *name, uint32_t max,
		     void *base, const struct state_field *f, size_t n, char *err,
		     size_t errlen);

/*
 * @count structs @stride bytes apart (per-queue counters, say) as child
 * node @name with one array property per field, element i from struct i:
 * a handful of properties instead of a node per struct. Integer fields
 * only (STATE_UINT); @count up to STATE_ARRAY_MAX.
 */
#define STATE_ARRAY_MAX		512	/* an RC QP's send queue (RC_SQ_MAX) */
int state_put_struct_array(struct state_buf *sb, const char *name, uint32_t version,
			   const void *base, size_t stride, unsigned int count,
			   const struct state_field *f, size_t n);
int state_get_struct_array(const void *fdt, int parent, const char *name, uint32_t max,
			   void *base, size_t stride, unsigned int count,
			   const struct state_field *f, size_t n, char *err, size_t errlen);

/* Copy just the fields of the table from @src to @dst (same struct type). */
void state_copy_fields(void *dst, const void *src, const struct state_field *f, size_t n);

/* Print the tree as `dtc -I dtb -O dts` would. */
void state_dump(const void *fdt, FILE *f);

#endif
