/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small, strict JSON reader and writer for the control socket.
 *
 * The reader builds a tree (struct json_value) from untrusted bytes: RFC
 * 8259 grammar with no extensions (no comments, trailing commas, NaN,
 * leading zeros or single quotes), UTF-8 validated, duplicate object keys
 * rejected, and every dimension bounded by struct json_limits, so that a
 * hostile peer can cost us at most a bounded amount of memory and time
 * and never a crash. Errors are one line naming the byte offset.
 *
 *	char err[128];
 *	struct json_value *v = json_parse(line, len, NULL, err, sizeof(err));
 *	const char *cmd = json_get_string(json_object_get(v, "cmd"));
 *	...
 *	json_free(v);
 *
 * The writer appends compact JSON to a growing buffer and does the
 * commas and escaping; misuse (a key inside an array, unbalanced ends)
 * or running out of memory marks it failed instead of emitting bad text.
 *
 *	struct json_writer w;
 *
 *	json_writer_init(&w);
 *	json_obj_begin(&w);
 *	json_kv_string(&w, "state", "running");
 *	json_kv_int(&w, "vcpus", 2);
 *	json_obj_end(&w);
 *	puts(json_writer_text(&w, NULL));	// {"state":"running","vcpus":2}
 *	json_writer_release(&w);
 */
#ifndef VLAB_JSON_H
#define VLAB_JSON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_member;

struct json_value {
	enum json_type type;
	union {
		bool boolean;
		struct {
			double value;
			/* Exact value when the literal had no fraction or exponent and fits. */
			int64_t integer;
			bool is_int;
		} number;
		struct {
			/*
			 * UTF-8, NUL-terminated. \u0000 is refused by the reader so
			 * that C string functions see the whole string.
			 */
			char *str;
			size_t len;
		} string;
		struct {
			struct json_value **items;
			size_t count;
		} array;
		struct {
			struct json_member *members;	/* in document order */
			size_t count;
		} object;
	};
};

struct json_member {
	char *key;		/* same rules as a string value */
	size_t key_len;
	struct json_value *value;
};

/* Bounds on what json_parse() accepts; a zero field means the default. */
struct json_limits {
	unsigned int max_depth;	/* nested arrays/objects (default 32, at most 512) */
	size_t max_len;		/* input bytes (default 1 MiB) */
	size_t max_string;	/* bytes of one decoded string or key (default 64 KiB) */
	size_t max_items;	/* elements of one array or members of one object (default 4096) */
};

#define JSON_DEFAULT_MAX_DEPTH	32
#define JSON_HARD_MAX_DEPTH	512
#define JSON_DEFAULT_MAX_LEN	(1u << 20)
#define JSON_DEFAULT_MAX_STRING	(64u << 10)
#define JSON_DEFAULT_MAX_ITEMS	4096
/* A number literal longer than this is refused rather than rounded. */
#define JSON_MAX_NUMBER_LEN	64

/*
 * Parse exactly one JSON value from @text[0..@len) (no NUL needed),
 * surrounded only by whitespace. @lim may be NULL for the defaults.
 * Returns the tree (free it with json_free()), or NULL with a one-line
 * message in @err ("byte 12: expected ':' after an object key").
 */
struct json_value *json_parse(const char *text, size_t len,
			      const struct json_limits *lim,
			      char *err, size_t errlen);
void json_free(struct json_value *v);

const char *json_type_name(enum json_type t);

/*
 * Accessors. All take NULL and a value of the wrong type gracefully, so
 * that lookups chain: json_get_string(json_object_get(req, "uri")).
 */
const struct json_value *json_object_get(const struct json_value *obj,
					 const char *key);
/* The string, or NULL unless @v is a string. */
const char *json_get_string(const struct json_value *v);
/* 0 and the value, or -1 unless @v is a number that is an exact integer. */
int json_get_int64(const struct json_value *v, int64_t *out);
/* 0 and the value, or -1 unless @v is a number. */
int json_get_number(const struct json_value *v, double *out);
/* 0 and the value, or -1 unless @v is true or false. */
int json_get_bool(const struct json_value *v, bool *out);

/*
 * UTF-8: length of the well-formed sequence at @p (1..4), or 0 if the
 * bytes there are not one (overlong, surrogate, above U+10FFFF, cut).
 */
size_t json_utf8_len(const unsigned char *p, size_t avail);

#define JSON_WRITER_MAX_DEPTH	64

struct json_writer {
	char *buf;		/* NUL-terminated text so far */
	size_t len, cap;
	bool failed;		/* out of memory or misuse: the text is not valid */
	int depth;
	bool after_key;		/* a key was written, its value is next */
	bool first[JSON_WRITER_MAX_DEPTH + 1];	/* container has no element yet */
	bool is_object[JSON_WRITER_MAX_DEPTH + 1];
};

void json_writer_init(struct json_writer *w);
void json_writer_release(struct json_writer *w);
/* Forget the text and any failure; keeps the buffer for reuse. */
void json_writer_reset(struct json_writer *w);
/*
 * The text written so far (NUL-terminated; @len may be NULL), or NULL
 * if the writer failed. Complete JSON once every container is closed.
 */
const char *json_writer_text(const struct json_writer *w, size_t *len);
bool json_writer_failed(const struct json_writer *w);
/* Append text that is not JSON (a newline between records). */
void json_writer_raw(struct json_writer *w, const char *s, size_t len);

void json_obj_begin(struct json_writer *w);
void json_obj_end(struct json_writer *w);
void json_arr_begin(struct json_writer *w);
void json_arr_end(struct json_writer *w);
/* Inside an object: the key of the next value. */
void json_key(struct json_writer *w, const char *key);

/*
 * Values. Strings are escaped; bytes that are not UTF-8 become U+FFFD so
 * the output is always valid. A NaN or infinite double is written as null
 * (JSON has no spelling for it).
 */
void json_put_string(struct json_writer *w, const char *s);
void json_put_stringn(struct json_writer *w, const char *s, size_t len);
void json_put_int(struct json_writer *w, int64_t v);
void json_put_uint(struct json_writer *w, uint64_t v);
void json_put_double(struct json_writer *w, double v);
void json_put_bool(struct json_writer *w, bool v);
void json_put_null(struct json_writer *w);
/* A parsed value, written back compactly (echoing a request's "id"). */
void json_put_value(struct json_writer *w, const struct json_value *v);

/* Key and value in one call, for the common object member. */
void json_kv_string(struct json_writer *w, const char *key, const char *s);
void json_kv_int(struct json_writer *w, const char *key, int64_t v);
void json_kv_uint(struct json_writer *w, const char *key, uint64_t v);
void json_kv_double(struct json_writer *w, const char *key, double v);
void json_kv_bool(struct json_writer *w, const char *key, bool v);
void json_kv_null(struct json_writer *w, const char *key);
void json_kv_value(struct json_writer *w, const char *key,
		   const struct json_value *v);
void json_kv_printf(struct json_writer *w, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void json_kv_vprintf(struct json_writer *w, const char *key, const char *fmt,
		     va_list ap) __attribute__((format(printf, 3, 0)));

#endif
