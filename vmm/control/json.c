// SPDX-License-Identifier: GPL-2.0
/*
 * Strict JSON reader and writer (see json.h). The reader is a recursive
 * descent parser whose recursion is bounded by the depth limit; it keeps
 * only the first error, so every failure path just unwinds and frees.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/control/json.h"

/* ---- reader ---------------------------------------------------------- */

struct json_parser {
	const unsigned char *start, *p, *end;
	struct json_limits lim;
	unsigned int depth;
	char *err;
	size_t errlen;
	bool failed;
};

static void __attribute__((format(printf, 2, 3)))
parse_error(struct json_parser *ps, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	/* The first error is the one that explains the input. */
	if (ps->failed)
		return;
	ps->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ps->err && ps->errlen)
		snprintf(ps->err, ps->errlen, "byte %zu: %s",
			 (size_t)(ps->p - ps->start), msg);
}

static void skip_ws(struct json_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

size_t json_utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char c, lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (!avail)
		return 0;
	c = p[0];
	if (c < 0x80)
		return 1;
	if (c < 0xc2)		/* stray continuation byte, or overlong 2-byte form */
		return 0;
	if (c < 0xe0) {
		n = 2;
	} else if (c < 0xf0) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* UTF-16 surrogates */
	} else if (c < 0xf5) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

static int hex4(const unsigned char *p, unsigned int *out)
{
	unsigned int v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t utf8_encode(unsigned int cp, char *out)
{
	if (cp < 0x80) {
		out[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = 0xc0 | (cp >> 6);
		out[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = 0xe0 | (cp >> 12);
		out[1] = 0x80 | ((cp >> 6) & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | (cp >> 18);
	out[1] = 0x80 | ((cp >> 12) & 0x3f);
	out[2] = 0x80 | ((cp >> 6) & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* One \uXXXX escape (or a surrogate pair) at ps->p, which points at 'u'. */
static int parse_unicode_escape(struct json_parser *ps, unsigned int *cp)
{
	unsigned int hi, lo;

	if (ps->end - ps->p < 5 || hex4(ps->p + 1, &hi)) {
		parse_error(ps, "\\u needs four hex digits");
		return -1;
	}
	ps->p += 5;
	if (hi >= 0xdc00 && hi <= 0xdfff) {
		parse_error(ps, "\\u%04x is a lone low surrogate", hi);
		return -1;
	}
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
		    hex4(ps->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
			parse_error(ps, "\\u%04x is not followed by a low surrogate", hi);
			return -1;
		}
		ps->p += 6;
		*cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
		return 0;
	}
	if (!hi) {
		/* Consumers are C strings: a hidden NUL would cut them short. */
		parse_error(ps, "\\u0000 in a string is not supported");
		return -1;
	}
	*cp = hi;
	return 0;
}

/* The string at ps->p (which is '"'), decoded into a new buffer. */
static char *parse_string(struct json_parser *ps, size_t *out_len)
{
	const unsigned char *q = ps->p + 1;
	char *buf, *o;

	/* Escapes only shrink, so the raw span bounds the decoded size. */
	while (q < ps->end && *q != '"')
		q += (*q == '\\') ? 2 : 1;
	if (q >= ps->end) {
		parse_error(ps, "unterminated string");
		return NULL;
	}
	buf = malloc(q - ps->p);
	if (!buf) {
		parse_error(ps, "out of memory");
		return NULL;
	}
	o = buf;
	ps->p++;
	while (*ps->p != '"') {
		unsigned char c = *ps->p;
		unsigned int cp;
		size_t n;

		if (c < 0x20) {
			parse_error(ps, "control character 0x%02x in a string (escape it)", c);
			goto fail;
		}
		if (c >= 0x80) {
			n = json_utf8_len(ps->p, ps->end - ps->p);
			if (!n) {
				parse_error(ps, "invalid UTF-8 in a string");
				goto fail;
			}
			memcpy(o, ps->p, n);
			o += n;
			ps->p += n;
			continue;
		}
		if (c != '\\') {
			*o++ = c;
			ps->p++;
			continue;
		}
		ps->p++;
		switch (*ps->p) {
		case '"':
		case '\\':
		case '/':
			*o++ = *ps->p++;
			break;
		case 'b':
			*o++ = '\b';
			ps->p++;
			break;
		case 'f':
			*o++ = '\f';
			ps->p++;
			break;
		case 'n':
			*o++ = '\n';
			ps->p++;
			break;
		case 'r':
			*o++ = '\r';
			ps->p++;
			break;
		case 't':
			*o++ = '\t';
			ps->p++;
			break;
		case 'u':
			if (parse_unicode_escape(ps, &cp))
				goto fail;
			o += utf8_encode(cp, o);
			break;
		default:
			parse_error(ps, "unknown escape '\\%c'",
				    *ps->p >= 0x20 && *ps->p < 0x7f ? *ps->p : '?');
			goto fail;
		}
	}
	ps->p++;
	*o = '\0';
	*out_len = o - buf;
	if (*out_len > ps->lim.max_string) {
		parse_error(ps, "string longer than %zu bytes", ps->lim.max_string);
		goto fail;
	}
	return buf;
fail:
	free(buf);
	return NULL;
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

static int parse_number(struct json_parser *ps, struct json_value *v)
{
	const unsigned char *s = ps->p, *q = ps->p;
	char buf[JSON_MAX_NUMBER_LEN + 1];
	bool integral = true;
	size_t n;
	char *endp;

	if (*q == '-')
		q++;
	if (!is_digit(q, ps->end)) {
		ps->p = q;
		parse_error(ps, "expected a digit");
		return -1;
	}
	if (*q == '0') {
		q++;
		if (is_digit(q, ps->end)) {
			ps->p = q;
			parse_error(ps, "leading zero in a number");
			return -1;
		}
	} else {
		while (is_digit(q, ps->end))
			q++;
	}
	if (q < ps->end && *q == '.') {
		integral = false;
		q++;
		if (!is_digit(q, ps->end)) {
			ps->p = q;
			parse_error(ps, "expected a digit after '.'");
			return -1;
		}
		while (is_digit(q, ps->end))
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		integral = false;
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (!is_digit(q, ps->end)) {
			ps->p = q;
			parse_error(ps, "expected a digit in the exponent");
			return -1;
		}
		while (is_digit(q, ps->end))
			q++;
	}
	n = q - s;
	if (n > JSON_MAX_NUMBER_LEN) {
		parse_error(ps, "number longer than %d characters", JSON_MAX_NUMBER_LEN);
		return -1;
	}
	/* strtod wants a NUL; the input need not have one. */
	memcpy(buf, s, n);
	buf[n] = '\0';

	v->type = JSON_NUMBER;
	errno = 0;
	v->number.value = strtod(buf, &endp);
	if (errno == ERANGE && isinf(v->number.value)) {
		parse_error(ps, "number %s is out of range", buf);
		return -1;
	}
	/* Underflow rounds to zero or a denormal: close enough, accept it. */
	if (integral) {
		long long ll;

		errno = 0;
		ll = strtoll(buf, &endp, 10);
		if (!errno && *endp == '\0') {
			v->number.integer = ll;
			v->number.is_int = true;
		}
	}
	ps->p = q;
	return 0;
}

static struct json_value *parse_value(struct json_parser *ps);

static bool expect_literal(struct json_parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n)) {
		parse_error(ps, "unexpected character");
		return false;
	}
	ps->p += n;
	/* "truex" is not "true" followed by garbage we report later: say it here. */
	if (ps->p < ps->end && ((*ps->p >= 'a' && *ps->p <= 'z') ||
				(*ps->p >= 'A' && *ps->p <= 'Z') ||
				(*ps->p >= '0' && *ps->p <= '9'))) {
		parse_error(ps, "unexpected character after '%s'", word);
		return false;
	}
	return true;
}

static int parse_array(struct json_parser *ps, struct json_value *v)
{
	size_t cap = 0;

	v->type = JSON_ARRAY;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return 0;
	}
	for (;;) {
		struct json_value *item;

		if (v->array.count == ps->lim.max_items) {
			parse_error(ps, "array with more than %zu elements", ps->lim.max_items);
			return -1;
		}
		if (v->array.count == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct json_value **n = realloc(v->array.items, ncap * sizeof(*n));

			if (!n) {
				parse_error(ps, "out of memory");
				return -1;
			}
			v->array.items = n;
			cap = ncap;
		}
		item = parse_value(ps);
		if (!item)
			return -1;
		v->array.items[v->array.count++] = item;
		skip_ws(ps);
		if (ps->p >= ps->end) {
			parse_error(ps, "unterminated array");
			return -1;
		}
		if (*ps->p == ']') {
			ps->p++;
			return 0;
		}
		if (*ps->p != ',') {
			parse_error(ps, "expected ',' or ']' in an array");
			return -1;
		}
		ps->p++;
		skip_ws(ps);
	}
}

static int parse_object(struct json_parser *ps, struct json_value *v)
{
	size_t cap = 0, i;

	v->type = JSON_OBJECT;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return 0;
	}
	for (;;) {
		struct json_member *m;
		const unsigned char *key_at = ps->p;

		if (ps->p >= ps->end || *ps->p != '"') {
			parse_error(ps, "expected a string key in an object");
			return -1;
		}
		if (v->object.count == ps->lim.max_items) {
			parse_error(ps, "object with more than %zu members", ps->lim.max_items);
			return -1;
		}
		if (v->object.count == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct json_member *n = realloc(v->object.members, ncap * sizeof(*n));

			if (!n) {
				parse_error(ps, "out of memory");
				return -1;
			}
			v->object.members = n;
			cap = ncap;
		}
		m = &v->object.members[v->object.count];
		m->value = NULL;
		m->key = parse_string(ps, &m->key_len);
		if (!m->key)
			return -1;
		/* Count it now so that json_free() frees the key on any error below. */
		v->object.count++;
		for (i = 0; i + 1 < v->object.count; i++) {
			const struct json_member *o = &v->object.members[i];

			/* Two "cmd"s would make the request mean two things. */
			if (o->key_len == m->key_len && !memcmp(o->key, m->key, m->key_len)) {
				ps->p = key_at;
				parse_error(ps, "duplicate key \"%.40s\"", m->key);
				return -1;
			}
		}
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			parse_error(ps, "expected ':' after an object key");
			return -1;
		}
		ps->p++;
		m->value = parse_value(ps);
		if (!m->value)
			return -1;
		skip_ws(ps);
		if (ps->p >= ps->end) {
			parse_error(ps, "unterminated object");
			return -1;
		}
		if (*ps->p == '}') {
			ps->p++;
			return 0;
		}
		if (*ps->p != ',') {
			parse_error(ps, "expected ',' or '}' in an object");
			return -1;
		}
		ps->p++;
		skip_ws(ps);
	}
}

static struct json_value *parse_value(struct json_parser *ps)
{
	struct json_value *v;
	int ret = 0;

	skip_ws(ps);
	if (ps->p >= ps->end) {
		parse_error(ps, "expected a value, found the end");
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		parse_error(ps, "out of memory");
		return NULL;
	}
	switch (*ps->p) {
	case '{':
	case '[':
		if (ps->depth == ps->lim.max_depth) {
			parse_error(ps, "nested deeper than %u levels", ps->lim.max_depth);
			ret = -1;
			break;
		}
		ps->depth++;
		ret = *ps->p == '{' ? parse_object(ps, v) : parse_array(ps, v);
		ps->depth--;
		break;
	case '"':
		v->type = JSON_STRING;
		v->string.str = parse_string(ps, &v->string.len);
		ret = v->string.str ? 0 : -1;
		break;
	case 't':
	case 'f':
		v->type = JSON_BOOL;
		v->boolean = *ps->p == 't';
		ret = expect_literal(ps, v->boolean ? "true" : "false") ? 0 : -1;
		break;
	case 'n':
		v->type = JSON_NULL;
		ret = expect_literal(ps, "null") ? 0 : -1;
		break;
	case '-':
	case '0' ... '9':
		ret = parse_number(ps, v);
		break;
	default:
		if (*ps->p >= 0x21 && *ps->p < 0x7f)
			parse_error(ps, "unexpected character '%c'", *ps->p);
		else
			parse_error(ps, "unexpected byte 0x%02x", *ps->p);
		ret = -1;
		break;
	}
	if (ret) {
		json_free(v);
		return NULL;
	}
	return v;
}

struct json_value *json_parse(const char *text, size_t len,
			      const struct json_limits *lim,
			      char *err, size_t errlen)
{
	struct json_parser ps = {
		.start = (const unsigned char *)text,
		.p = (const unsigned char *)text,
		.end = (const unsigned char *)text + len,
		.err = err,
		.errlen = errlen,
	};
	struct json_value *v;

	if (lim)
		ps.lim = *lim;
	if (!ps.lim.max_depth)
		ps.lim.max_depth = JSON_DEFAULT_MAX_DEPTH;
	if (ps.lim.max_depth > JSON_HARD_MAX_DEPTH)
		ps.lim.max_depth = JSON_HARD_MAX_DEPTH;	/* our own stack */
	if (!ps.lim.max_len)
		ps.lim.max_len = JSON_DEFAULT_MAX_LEN;
	if (!ps.lim.max_string)
		ps.lim.max_string = JSON_DEFAULT_MAX_STRING;
	if (!ps.lim.max_items)
		ps.lim.max_items = JSON_DEFAULT_MAX_ITEMS;
	if (err && errlen)
		err[0] = '\0';

	if (!text && len) {
		parse_error(&ps, "no input");
		return NULL;
	}
	if (len > ps.lim.max_len) {
		parse_error(&ps, "document longer than %zu bytes", ps.lim.max_len);
		return NULL;
	}
	v = parse_value(&ps);
	if (!v)
		return NULL;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		parse_error(&ps, "unexpected data after the value");
		json_free(v);
		return NULL;
	}
	return v;
}

void json_free(struct json_value *v)
{
	size_t i;

	if (!v)
		return;
	switch (v->type) {
	case JSON_STRING:
		free(v->string.str);
		break;
	case JSON_ARRAY:
		for (i = 0; i < v->array.count; i++)
			json_free(v->array.items[i]);
		free(v->array.items);
		break;
	case JSON_OBJECT:
		for (i = 0; i < v->object.count; i++) {
			free(v->object.members[i].key);
			json_free(v->object.members[i].value);
		}
		free(v->object.members);
		break;
	default:
		break;
	}
	free(v);
}

const char *json_type_name(enum json_type t)
{
	switch (t) {
	case JSON_NULL:
		return "null";
	case JSON_BOOL:
		return "boolean";
	case JSON_NUMBER:
		return "number";
	case JSON_STRING:
		return "string";
	case JSON_ARRAY:
		return "array";
	case JSON_OBJECT:
		return "object";
	}
	return "?";
}

const struct json_value *json_object_get(const struct json_value *obj,
					 const char *key)
{
	size_t i, klen;

	if (!obj || obj->type != JSON_OBJECT || !key)
		return NULL;
	klen = strlen(key);
	for (i = 0; i < obj->object.count; i++) {
		const struct json_member *m = &obj->object.members[i];

		if (m->key_len == klen && !memcmp(m->key, key, klen))
			return m->value;
	}
	return NULL;
}

const char *json_get_string(const struct json_value *v)
{
	return v && v->type == JSON_STRING ? v->string.str : NULL;
}

int json_get_int64(const struct json_value *v, int64_t *out)
{
	if (!v || v->type != JSON_NUMBER || !v->number.is_int)
		return -1;
	*out = v->number.integer;
	return 0;
}

int json_get_number(const struct json_value *v, double *out)
{
	if (!v || v->type != JSON_NUMBER)
		return -1;
	*out = v->number.value;
	return 0;
}

int json_get_bool(const struct json_value *v, bool *out)
{
	if (!v || v->type != JSON_BOOL)
		return -1;
	*out = v->boolean;
	return 0;
}

/* ---- writer ---------------------------------------------------------- */

void json_writer_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void json_writer_release(struct json_writer *w)
{
	free(w->buf);
	json_writer_init(w);
}

void json_writer_reset(struct json_writer *w)
{
	char *buf = w->buf;
	size_t cap = w->cap;

	json_writer_init(w);
	w->buf = buf;
	w->cap = cap;
	if (buf)
		buf[0] = '\0';
}

const char *json_writer_text(const struct json_writer *w, size_t *len)
{
	if (w->failed)
		return NULL;
	if (len)
		*len = w->len;
	return w->buf ? w->buf : "";
}

bool json_writer_failed(const struct json_writer *w)
{
	return w->failed;
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (w->failed)
		return;
	if (n >= SIZE_MAX / 2 - w->len) {
		w->failed = true;
		return;
	}
	if (w->len + n + 1 > w->cap) {
		size_t ncap = w->cap ? w->cap : 256;
		char *nb;

		while (ncap < w->len + n + 1)
			ncap *= 2;
		nb = realloc(w->buf, ncap);
		if (!nb) {
			w->failed = true;
			return;
		}
		w->buf = nb;
		w->cap = ncap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

void json_writer_raw(struct json_writer *w, const char *s, size_t len)
{
	put(w, s, len);
}

/* Commas and the object/array rules before any value; false on misuse. */
static bool before_value(struct json_writer *w)
{
	if (w->failed)
		return false;
	if (w->depth == 0)
		return true;
	if (w->is_object[w->depth]) {
		if (!w->after_key) {
			w->failed = true;	/* a value in an object needs a key */
			return false;
		}
		w->after_key = false;
		return true;
	}
	if (!w->first[w->depth])
		put(w, ",", 1);
	w->first[w->depth] = false;
	return true;
}

static void begin(struct json_writer *w, bool object)
{
	if (!before_value(w))
		return;
	if (w->depth == JSON_WRITER_MAX_DEPTH) {
		w->failed = true;
		return;
	}
	put(w, object ? "{" : "[", 1);
	w->depth++;
	w->first[w->depth] = true;
	w->is_object[w->depth] = object;
}

static void end(struct json_writer *w, bool object)
{
	if (w->failed)
		return;
	if (!w->depth || w->is_object[w->depth] != object || w->after_key) {
		w->failed = true;
		return;
	}
	put(w, object ? "}" : "]", 1);
	w->depth--;
}

void json_obj_begin(struct json_writer *w)
{
	begin(w, true);
}

void json_obj_end(struct json_writer *w)
{
	end(w, true);
}

void json_arr_begin(struct json_writer *w)
{
	begin(w, false);
}

void json_arr_end(struct json_writer *w)
{
	end(w, false);
}

static void put_escaped(struct json_writer *w, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	put(w, "\"", 1);
	while (i < len) {
		unsigned char c = s[i];
		char esc[8];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			n = json_utf8_len(s + i, len - i);
			if (n) {
				i += n;
				continue;
			}
		}
		/* Flush the plain run before this byte, then escape it. */
		put(w, (const char *)s + run, i - run);
		switch (c) {
		case '"':
			put(w, "\\\"", 2);
			break;
		case '\\':
			put(w, "\\\\", 2);
			break;
		case '\b':
			put(w, "\\b", 2);
			break;
		case '\f':
			put(w, "\\f", 2);
			break;
		case '\n':
			put(w, "\\n", 2);
			break;
		case '\r':
			put(w, "\\r", 2);
			break;
		case '\t':
			put(w, "\\t", 2);
			break;
		default:
			if (c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				put(w, esc, 6);
			} else {
				put(w, "\\ufffd", 6);	/* not UTF-8 */
			}
			break;
		}
		i++;
		run = i;
	}
	put(w, (const char *)s + run, i - run);
	put(w, "\"", 1);
}

void json_key(struct json_writer *w, const char *key)
{
	if (w->failed)
		return;
	if (!w->depth || !w->is_object[w->depth] || w->after_key || !key) {
		w->failed = true;
		return;
	}
	if (!w->first[w->depth])
		put(w, ",", 1);
	w->first[w->depth] = false;
	put_escaped(w, key, strlen(key));
	put(w, ":", 1);
	w->after_key = true;
}

void json_put_stringn(struct json_writer *w, const char *s, size_t len)
{
	if (!before_value(w))
		return;
	if (!s) {
		put(w, "null", 4);
		return;
	}
	put_escaped(w, s, len);
}

void json_put_string(struct json_writer *w, const char *s)
{
	json_put_stringn(w, s, s ? strlen(s) : 0);
}

static void put_fmt(struct json_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put_fmt(struct json_writer *w, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		w->failed = true;
		return;
	}
	put(w, buf, n);
}

void json_put_int(struct json_writer *w, int64_t v)
{
	if (before_value(w))
		put_fmt(w, "%" PRId64, v);
}

void json_put_uint(struct json_writer *w, uint64_t v)
{
	if (before_value(w))
		put_fmt(w, "%" PRIu64, v);
}

void json_put_double(struct json_writer *w, double v)
{
	char buf[40];

	if (!before_value(w))
		return;
	if (!isfinite(v)) {
		put(w, "null", 4);
		return;
	}
	if (v == 0 && signbit(v)) {
		/* "-0" would read back as the integer 0: keep the sign. */
		put(w, "-0.0", 4);
		return;
	}
	/* Shortest of the two that reads back to the same double. */
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	put(w, buf, strlen(buf));
}

void json_put_bool(struct json_writer *w, bool v)
{
	if (before_value(w))
		put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_put_null(struct json_writer *w)
{
	if (before_value(w))
		put(w, "null", 4);
}

void json_put_value(struct json_writer *w, const struct json_value *v)
{
	size_t i;

	if (!v) {
		json_put_null(w);
		return;
	}
	switch (v->type) {
	case JSON_NULL:
		json_put_null(w);
		break;
	case JSON_BOOL:
		json_put_bool(w, v->boolean);
		break;
	case JSON_NUMBER:
		if (v->number.is_int)
			json_put_int(w, v->number.integer);
		else
			json_put_double(w, v->number.value);
		break;
	case JSON_STRING:
		json_put_stringn(w, v->string.str, v->string.len);
		break;
	case JSON_ARRAY:
		json_arr_begin(w);
		for (i = 0; i < v->array.count; i++)
			json_put_value(w, v->array.items[i]);
		json_arr_end(w);
		break;
	case JSON_OBJECT:
		json_obj_begin(w);
		for (i = 0; i < v->object.count; i++) {
			json_key(w, v->object.members[i].key);
			json_put_value(w, v->object.members[i].value);
		}
		json_obj_end(w);
		break;
	}
}

void json_kv_string(struct json_writer *w, const char *key, const char *s)
{
	json_key(w, key);
	json_put_string(w, s);
}

void json_kv_int(struct json_writer *w, const char *key, int64_t v)
{
	json_key(w, key);
	json_put_int(w, v);
}

void json_kv_uint(struct json_writer *w, const char *key, uint64_t v)
{
	json_key(w, key);
	json_put_uint(w, v);
}

void json_kv_double(struct json_writer *w, const char *key, double v)
{
	json_key(w, key);
	json_put_double(w, v);
}

void json_kv_bool(struct json_writer *w, const char *key, bool v)
{
	json_key(w, key);
	json_put_bool(w, v);
}

void json_kv_null(struct json_writer *w, const char *key)
{
	json_key(w, key);
	json_put_null(w);
}

void json_kv_value(struct json_writer *w, const char *key,
		   const struct json_value *v)
{
	json_key(w, key);
	json_put_value(w, v);
}

void json_kv_vprintf(struct json_writer *w, const char *key, const char *fmt,
		     va_list ap)
{
	char *s = NULL;

	json_key(w, key);
	if (vasprintf(&s, fmt, ap) < 0) {
		w->failed = true;
		return;
	}
	json_put_string(w, s);
	free(s);
}

void json_kv_printf(struct json_writer *w, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	json_kv_vprintf(w, key, fmt, ap);
	va_end(ap);
}
