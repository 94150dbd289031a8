// SPDX-License-Identifier: GPL-2.0
/*
 * The JSON reader and writer: what strict RFC 8259 accepts and refuses,
 * escapes both ways, the limits, number edge cases, round trips, and a
 * random-input loop that must never crash or leak an invalid tree.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "vmm/control/json.h"

static char err[256];

static struct json_value *parse(const char *s)
{
	return json_parse(s, strlen(s), NULL, err, sizeof(err));
}

static struct json_value *parse_lim(const char *s, const struct json_limits *lim)
{
	return json_parse(s, strlen(s), lim, err, sizeof(err));
}

/* @s parses; returns its compact re-serialisation (static buffer). */
static const char *canon(const char *s)
{
	static char out[4096];
	struct json_writer w;
	struct json_value *v = parse(s);

	ck_assert_msg(v, "'%s' should parse: %s", s, err);
	json_writer_init(&w);
	json_put_value(&w, v);
	ck_assert_msg(!json_writer_failed(&w), "'%s': writer failed", s);
	snprintf(out, sizeof(out), "%s", json_writer_text(&w, NULL));
	json_writer_release(&w);
	json_free(v);
	return out;
}

#define ck_canon(in, want) ck_assert_str_eq(canon(in), want)

/* @s is refused with a message containing @msg. */
static void refused(const char *s, size_t len, const char *msg)
{
	struct json_value *v = json_parse(s, len, NULL, err, sizeof(err));

	ck_assert_msg(!v, "'%.*s' should not parse", (int)len, s);
	ck_assert_msg(strstr(err, "byte "), "'%s': no offset in the message", err);
	if (msg)
		ck_assert_msg(strstr(err, msg), "'%.*s': message '%s' lacks '%s'",
			      (int)len, s, err, msg);
}

#define ck_refused(s, msg) refused(s, strlen(s), msg)

START_TEST(test_valid_documents)
{
	ck_canon("null", "null");
	ck_canon("true", "true");
	ck_canon(" false ", "false");
	ck_canon("0", "0");
	ck_canon("\"\"", "\"\"");
	ck_canon("[]", "[]");
	ck_canon("{}", "{}");
	ck_canon(" \t\r\n[ 1 , 2 ,\n3 ] \n", "[1,2,3]");
	ck_canon("{\"cmd\" : \"status\", \"id\": 7}", "{\"cmd\":\"status\",\"id\":7}");
	ck_canon("{\"a\":{\"b\":[true,false,null,{}]},\"c\":[[],[[]]]}",
		 "{\"a\":{\"b\":[true,false,null,{}]},\"c\":[[],[[]]]}");
	ck_canon("[\"x\",1.5,-2,{\"k\":\"v\"}]", "[\"x\",1.5,-2,{\"k\":\"v\"}]");
}
END_TEST

START_TEST(test_tree_and_accessors)
{
	struct json_value *v = parse("{\"cmd\":\"migrate\",\"uri\":\"unix:/tmp/m\","
				     "\"rate\":100,\"ratio\":0.5,\"live\":true,\"x\":null}");
	int64_t i = 0;
	double d = 0;
	bool b = false;

	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->type, JSON_OBJECT);
	ck_assert_uint_eq(v->object.count, 6);
	/* Document order is kept. */
	ck_assert_str_eq(v->object.members[0].key, "cmd");
	ck_assert_str_eq(v->object.members[5].key, "x");
	ck_assert_str_eq(json_get_string(json_object_get(v, "uri")), "unix:/tmp/m");
	ck_assert_int_eq(json_get_int64(json_object_get(v, "rate"), &i), 0);
	ck_assert_int_eq(i, 100);
	ck_assert_int_eq(json_get_number(json_object_get(v, "ratio"), &d), 0);
	ck_assert(d == 0.5);
	ck_assert_int_eq(json_get_int64(json_object_get(v, "ratio"), &i), -1);
	ck_assert_int_eq(json_get_bool(json_object_get(v, "live"), &b), 0);
	ck_assert(b);
	ck_assert_int_eq(json_object_get(v, "x")->type, JSON_NULL);

	/* Wrong types and missing keys chain to NULL / -1. */
	ck_assert_ptr_null(json_object_get(v, "nope"));
	ck_assert_ptr_null(json_get_string(json_object_get(v, "rate")));
	ck_assert_ptr_null(json_get_string(NULL));
	ck_assert_int_eq(json_get_bool(json_object_get(v, "cmd"), &b), -1);
	ck_assert_int_eq(json_get_number(NULL, &d), -1);
	ck_assert_int_eq(json_get_int64(NULL, &i), -1);
	ck_assert_ptr_null(json_object_get(NULL, "cmd"));
	ck_assert_ptr_null(json_object_get(json_object_get(v, "cmd"), "cmd"));
	ck_assert_ptr_null(json_object_get(v, NULL));
	json_free(v);
	json_free(NULL);

	ck_assert_str_eq(json_type_name(JSON_OBJECT), "object");
	ck_assert_str_eq(json_type_name(JSON_NUMBER), "number");
}
END_TEST

START_TEST(test_invalid_documents)
{
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "", "found the end" },
		{ "   ", "found the end" },
		{ "{", "expected a string key" },
		{ "[", "found the end" },
		{ "[1", "unterminated array" },
		{ "{\"a\":1", "unterminated object" },
		{ "[1,]", "unexpected character ']'" },
		{ "{\"a\":1,}", "expected a string key" },
		{ "{,}", "expected a string key" },
		{ "[,1]", "unexpected character ','" },
		{ "[1 2]", "expected ',' or ']'" },
		{ "{\"a\" 1}", "expected ':'" },
		{ "{\"a\":1 \"b\":2}", "expected ',' or '}'" },
		{ "{a:1}", "expected a string key" },
		{ "{1:1}", "expected a string key" },
		{ "'a'", "unexpected character" },
		{ "01", "leading zero" },
		{ "-01", "leading zero" },
		{ "1.", "after '.'" },
		{ ".5", "unexpected character '.'" },
		{ "-", "expected a digit" },
		{ "+1", "unexpected character '+'" },
		{ "1e", "exponent" },
		{ "1e+", "exponent" },
		{ "0x10", "after the value" },
		{ "NaN", "unexpected character" },
		{ "Infinity", "unexpected character" },
		{ "-Infinity", "expected a digit" },
		{ "tru", "unexpected character" },
		{ "truex", "after 'true'" },
		{ "nulll", "after 'null'" },
		{ "True", "unexpected character" },
		{ "1 2", "after the value" },
		{ "{}x", "after the value" },
		{ "{}{}", "after the value" },
		{ "\"abc", "unterminated string" },
		{ "\"a\\", "unterminated string" },
		{ "\"a\nb\"", "control character" },
		{ "\"a\tb\"", "control character" },
		{ "\"\\x\"", "unknown escape" },
		{ "\"\\'\"", "unknown escape" },
		{ "\"\\u12\"", "four hex digits" },
		{ "\"\\u00zz\"", "four hex digits" },
		{ "\"\\ud800\"", "low surrogate" },
		{ "\"\\ud800\\u0041\"", "low surrogate" },
		{ "\"\\udc00\"", "lone low surrogate" },
		{ "\"\\u0000\"", "\\u0000" },
		{ "\"\xc0\xaf\"", "UTF-8" },		/* overlong '/' */
		{ "\"\xe0\x80\xaf\"", "UTF-8" },	/* overlong */
		{ "\"\xed\xa0\x80\"", "UTF-8" },	/* encoded surrogate */
		{ "\"\xf4\x90\x80\x80\"", "UTF-8" },	/* above U+10FFFF */
		{ "\"\xff\"", "UTF-8" },
		{ "\"\x80\"", "UTF-8" },
		{ "\"\xe2\x82\"", "UTF-8" },		/* cut short */
		{ "\xef\xbb\xbf{}", "unexpected byte 0xef" },	/* BOM */
		{ "{\"a\":1,\"a\":2}", "duplicate key \"a\"" },
		{ "1e999", "out of range" },
		{ "-1e999", "out of range" },
		{ "[1,{\"a\":[}]", "unexpected character '}'" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i].in, strlen(bad[i].in), bad[i].msg);

	/* A NUL byte is just another bad byte, inside a string or out. */
	refused("\"a\0b\"", 5, "control character");
	refused("{}\0", 3, "after the value");
	refused("\0", 1, "unexpected byte 0x00");
	/* The offset points at the trouble. */
	ck_refused("[1, 2, x]", "byte 7:");
	ck_refused("{\"k\":1,\"k\":2}", "byte 7:");
}
END_TEST

START_TEST(test_string_escapes)
{
	struct json_value *v;

	v = parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v->string.str, "\"\\/\b\f\n\r\t");
	ck_assert_uint_eq(v->string.len, 8);
	json_free(v);

	v = parse("\"caf\\u00e9 \\u20AC \\ud83d\\ude00 \\u0041\"");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v->string.str, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 A");
	json_free(v);

	/* Raw UTF-8 of every length passes through. */
	v = parse("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v->string.str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
	json_free(v);

	/* Keys are decoded like strings. */
	v = parse("{\"\\u0063md\":1}");
	ck_assert_ptr_nonnull(json_object_get(v, "cmd"));
	json_free(v);

	/* The writer escapes what must be and \u-escapes other controls. */
	ck_canon("\"\\u0001\\u001f\\u007f\"", "\"\\u0001\\u001f\x7f\"");
	ck_canon("\"\\/\"", "\"/\"");
	ck_canon("\"\\b\\f\\n\\r\\t\\\"\\\\\"", "\"\\b\\f\\n\\r\\t\\\"\\\\\"");
	ck_canon("\"\\u00e9\"", "\"\xc3\xa9\"");
}
END_TEST

START_TEST(test_utf8_len)
{
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"a", 1), 1);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xc2\x80", 2), 2);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xc2\x80", 1), 0);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xc1\xbf", 2), 0);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xe0\xa0\x80", 3), 3);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xe0\x9f\xbf", 3), 0);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xed\x9f\xbf", 3), 3);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xed\xa0\x80", 3), 0);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xf0\x90\x80\x80", 4), 4);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xf0\x8f\xbf\xbf", 4), 0);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xf4\x8f\xbf\xbf", 4), 4);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xf4\x90\x80\x80", 4), 0);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xf5\x80\x80\x80", 4), 0);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"\xe2\x28\xa1", 3), 0);
	ck_assert_uint_eq(json_utf8_len((const unsigned char *)"", 0), 0);
}
END_TEST

static char *nested(int depth, char open, char close)
{
	char *s = malloc(2 * depth + 1);
	int i;

	for (i = 0; i < depth; i++) {
		s[i] = open;
		s[2 * depth - 1 - i] = close;
	}
	s[2 * depth] = '\0';
	return s;
}

START_TEST(test_depth_limit)
{
	struct json_limits lim = { .max_depth = 3 };
	struct json_value *v;
	char *s;

	s = nested(JSON_DEFAULT_MAX_DEPTH, '[', ']');
	v = parse(s);
	ck_assert_msg(v, "depth %d: %s", JSON_DEFAULT_MAX_DEPTH, err);
	json_free(v);
	free(s);

	s = nested(JSON_DEFAULT_MAX_DEPTH + 1, '[', ']');
	ck_assert_ptr_null(parse(s));
	ck_assert_msg(strstr(err, "nested deeper than 32"), "%s", err);
	free(s);

	/* Deep input far past the limit costs no stack: refused at the limit. */
	s = nested(100000, '[', ']');
	ck_assert_ptr_null(parse(s));
	free(s);
	s = malloc(200001);
	memset(s, '{', 200000);
	s[200000] = '\0';
	ck_assert_ptr_null(parse(s));
	free(s);

	v = parse_lim("{\"a\":[{}]}", &lim);
	ck_assert_ptr_nonnull(v);
	json_free(v);
	ck_assert_ptr_null(parse_lim("{\"a\":[{\"b\":[]}]}", &lim));
	ck_assert_msg(strstr(err, "deeper than 3"), "%s", err);

	/* Scalars have no depth. */
	lim.max_depth = 1;
	v = parse_lim("[1,\"x\",null]", &lim);
	ck_assert_ptr_nonnull(v);
	json_free(v);

	/* The hard cap protects our stack whatever the caller asks. */
	lim.max_depth = 100000;
	s = nested(JSON_HARD_MAX_DEPTH + 1, '[', ']');
	ck_assert_ptr_null(parse_lim(s, &lim));
	free(s);
	s = nested(JSON_HARD_MAX_DEPTH, '[', ']');
	v = parse_lim(s, &lim);
	ck_assert_ptr_nonnull(v);
	json_free(v);
	free(s);
}
END_TEST

START_TEST(test_length_limits)
{
	struct json_limits lim = { .max_len = 10, .max_string = 4, .max_items = 3 };
	struct json_value *v;
	char *s;

	v = parse_lim("[1,2,3]", &lim);
	ck_assert_ptr_nonnull(v);
	json_free(v);
	ck_assert_ptr_null(parse_lim("[1,2,3,4]", &lim));
	ck_assert_msg(strstr(err, "more than 3 elements"), "%s", err);
	ck_assert_ptr_null(parse_lim("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}",
				     &(struct json_limits){ .max_items = 3 }));
	ck_assert_msg(strstr(err, "more than 3 members"), "%s", err);
	ck_assert_ptr_null(parse_lim("          1", &lim));
	ck_assert_msg(strstr(err, "longer than 10 bytes"), "%s", err);

	v = parse_lim("\"abcd\"", &lim);
	ck_assert_ptr_nonnull(v);
	json_free(v);
	ck_assert_ptr_null(parse_lim("\"abcde\"", &lim));
	ck_assert_msg(strstr(err, "string longer than 4"), "%s", err);
	/* The limit is on decoded bytes: one escape is one byte. */
	v = parse_lim("\"\\n\\n\\n\\n\"", &(struct json_limits){ .max_string = 4 });
	ck_assert_ptr_nonnull(v);
	json_free(v);
	ck_assert_ptr_null(parse_lim("{\"abcde\":1}", &(struct json_limits){ .max_string = 4 }));

	/* Defaults: 64 KiB strings, 4096 items. */
	s = malloc(JSON_DEFAULT_MAX_STRING + 3);
	memset(s, 'x', JSON_DEFAULT_MAX_STRING + 2);
	s[0] = s[JSON_DEFAULT_MAX_STRING + 1] = '"';
	s[JSON_DEFAULT_MAX_STRING + 2] = '\0';
	v = parse(s);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(v->string.len, JSON_DEFAULT_MAX_STRING);
	json_free(v);
	free(s);

	s = malloc(JSON_DEFAULT_MAX_ITEMS * 2 + 8);
	{
		size_t i, n = 0;

		s[n++] = '[';
		for (i = 0; i <= JSON_DEFAULT_MAX_ITEMS; i++) {
			s[n++] = '0';
			s[n++] = ',';
		}
		s[n - 1] = ']';
		s[n] = '\0';
	}
	ck_assert_ptr_null(parse(s));
	ck_assert_msg(strstr(err, "more than 4096"), "%s", err);
	free(s);

	/* Length counts: no NUL terminator needed, bytes past @len unseen. */
	v = json_parse("[1]garbage", 3, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(v);
	json_free(v);
	ck_assert_ptr_null(json_parse("[1]", 2, NULL, err, sizeof(err)));
	ck_assert_ptr_null(json_parse(NULL, 0, NULL, err, sizeof(err)));
	/* A NULL error buffer is fine. */
	ck_assert_ptr_null(json_parse("x", 1, NULL, NULL, 0));
}
END_TEST

START_TEST(test_numbers)
{
	struct json_value *v;
	int64_t i;
	double d;
	char num[80];

	v = parse("9223372036854775807");
	ck_assert_int_eq(json_get_int64(v, &i), 0);
	ck_assert(i == INT64_MAX);
	json_free(v);
	v = parse("-9223372036854775808");
	ck_assert_int_eq(json_get_int64(v, &i), 0);
	ck_assert(i == INT64_MIN);
	json_free(v);
	/* Past int64: still a number, no longer an exact integer. */
	v = parse("9223372036854775808");
	ck_assert_int_eq(json_get_int64(v, &i), -1);
	ck_assert_int_eq(json_get_number(v, &d), 0);
	ck_assert(d == 9223372036854775808.0);
	json_free(v);

	v = parse("-0");
	ck_assert_int_eq(json_get_int64(v, &i), 0);
	ck_assert_int_eq(i, 0);
	json_free(v);
	/* An exponent or fraction makes it a double even when whole. */
	v = parse("1e3");
	ck_assert_int_eq(json_get_int64(v, &i), -1);
	ck_assert_int_eq(json_get_number(v, &d), 0);
	ck_assert(d == 1000.0);
	json_free(v);
	v = parse("1E+2");
	json_get_number(v, &d);
	ck_assert(d == 100.0);
	json_free(v);
	v = parse("-2.5e-3");
	json_get_number(v, &d);
	ck_assert(d == -0.0025);
	json_free(v);
	/* Underflow rounds to zero rather than failing. */
	v = parse("1e-999");
	ck_assert_ptr_nonnull(v);
	json_get_number(v, &d);
	ck_assert(d == 0.0);
	json_free(v);
	v = parse("1.7976931348623157e308");
	ck_assert_ptr_nonnull(v);
	json_free(v);
	ck_assert_ptr_null(parse("1.7976931348623159e308"));

	/* Literal length limit: refused, not silently rounded. */
	memset(num, '1', JSON_MAX_NUMBER_LEN);
	num[JSON_MAX_NUMBER_LEN] = '\0';
	v = parse(num);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(json_get_int64(v, &i), -1);	/* too big for int64 */
	json_free(v);
	num[JSON_MAX_NUMBER_LEN] = '1';
	num[JSON_MAX_NUMBER_LEN + 1] = '\0';
	ck_assert_ptr_null(parse(num));
	ck_assert_msg(strstr(err, "number longer than"), "%s", err);

	ck_canon("[0,-0,1.5,-1.5,1e3,0.1,1e-7,123456789012]",
		 "[0,0,1.5,-1.5,1000,0.1,1e-07,123456789012]");
	ck_canon("[1e21,2.5e300,-1e-300]", "[1e+21,2.5e+300,-1e-300]");
}
END_TEST

static const char *writer_text(struct json_writer *w)
{
	const char *t = json_writer_text(w, NULL);

	ck_assert_msg(t, "writer failed");
	return t;
}

START_TEST(test_writer)
{
	struct json_writer w;
	size_t len;

	json_writer_init(&w);
	ck_assert_str_eq(writer_text(&w), "");
	json_obj_begin(&w);
	json_kv_string(&w, "state", "running");
	json_kv_int(&w, "neg", -5);
	json_kv_uint(&w, "big", UINT64_MAX);
	json_kv_int(&w, "min", INT64_MIN);
	json_kv_double(&w, "d", 0.1);
	json_kv_double(&w, "nan", NAN);
	json_kv_double(&w, "inf", -INFINITY);
	json_kv_bool(&w, "t", true);
	json_kv_null(&w, "n");
	json_kv_string(&w, "nullstr", NULL);
	json_kv_printf(&w, "fmt", "%d-%s", 7, "x\"y");
	json_key(&w, "arr");
	json_arr_begin(&w);
	json_put_int(&w, 1);
	json_arr_begin(&w);
	json_arr_end(&w);
	json_obj_begin(&w);
	json_obj_end(&w);
	json_put_stringn(&w, "ab\0c", 4);
	json_arr_end(&w);
	json_obj_end(&w);
	ck_assert_str_eq(writer_text(&w),
			 "{\"state\":\"running\",\"neg\":-5,\"big\":18446744073709551615,"
			 "\"min\":-9223372036854775808,\"d\":0.1,\"nan\":null,\"inf\":null,"
			 "\"t\":true,\"n\":null,\"nullstr\":null,\"fmt\":\"7-x\\\"y\","
			 "\"arr\":[1,[],{},\"ab\\u0000c\"]}");
	json_writer_text(&w, &len);
	ck_assert_uint_eq(len, strlen(writer_text(&w)));

	/* Reset keeps nothing but the buffer. */
	json_writer_reset(&w);
	ck_assert_str_eq(writer_text(&w), "");
	json_put_string(&w, "tab\there \x01 \xc3\xa9 bad\xff\xfe end \xe2\x82");
	ck_assert_str_eq(writer_text(&w),
			 "\"tab\\there \\u0001 \xc3\xa9 bad\\ufffd\\ufffd end \\ufffd\\ufffd\"");
	json_writer_raw(&w, "\n", 1);
	ck_assert_str_eq(writer_text(&w) + strlen(writer_text(&w)) - 1, "\n");
	json_writer_release(&w);
}
END_TEST

START_TEST(test_writer_misuse)
{
	struct json_writer w;
	int i;

	/* A value in an object without a key. */
	json_writer_init(&w);
	json_obj_begin(&w);
	json_put_int(&w, 1);
	ck_assert(json_writer_failed(&w));
	ck_assert_ptr_null(json_writer_text(&w, NULL));
	/* Failure sticks until reset. */
	json_obj_end(&w);
	ck_assert(json_writer_failed(&w));
	json_writer_reset(&w);
	ck_assert(!json_writer_failed(&w));

	/* A key in an array. */
	json_arr_begin(&w);
	json_key(&w, "k");
	ck_assert(json_writer_failed(&w));
	json_writer_reset(&w);

	/* Two keys in a row; an end right after a key; mismatched ends. */
	json_obj_begin(&w);
	json_key(&w, "a");
	json_key(&w, "b");
	ck_assert(json_writer_failed(&w));
	json_writer_reset(&w);
	json_obj_begin(&w);
	json_key(&w, "a");
	json_obj_end(&w);
	ck_assert(json_writer_failed(&w));
	json_writer_reset(&w);
	json_obj_begin(&w);
	json_arr_end(&w);
	ck_assert(json_writer_failed(&w));
	json_writer_reset(&w);
	json_obj_end(&w);
	ck_assert(json_writer_failed(&w));
	json_writer_reset(&w);
	json_key(&w, "top");
	ck_assert(json_writer_failed(&w));
	json_writer_reset(&w);

	/* Depth limit. */
	for (i = 0; i < JSON_WRITER_MAX_DEPTH; i++)
		json_arr_begin(&w);
	ck_assert(!json_writer_failed(&w));
	json_arr_begin(&w);
	ck_assert(json_writer_failed(&w));
	json_writer_release(&w);
}
END_TEST

static const char *const round_trip_docs[] = {
	"{\"ok\":true,\"state\":\"paused\",\"vcpu_exits\":[1,2,3],"
	"\"migration\":{\"state\":\"none\"},\"id\":null}",
	"[\"\\u00e9\\ud83d\\ude00\",\"\\\"quoted\\\"\",\"back\\\\slash\",\"\\n\\t\"]",
	"{\"nested\":{\"deeper\":{\"deepest\":[[[[[]]]]]}},\"empty\":\"\"}",
	"[-1.25e-10,3.14159265358979,0.30000000000000004,1e+300,-0,-0.0]",
	"{\"k\\u0001\":\"v\\u001f\",\"\\u007f\":1}",
};

START_TEST(test_round_trip)
{
	size_t i;

	/* write(parse(x)) is a fixed point, and values survive exactly. */
	for (i = 0; i < sizeof(round_trip_docs) / sizeof(round_trip_docs[0]); i++) {
		char once[4096];

		snprintf(once, sizeof(once), "%s", canon(round_trip_docs[i]));
		ck_assert_str_eq(canon(once), once);
	}
	{
		struct json_value *v = parse(canon("[0.30000000000000004,1e-300,5e-324]"));
		double d;

		json_get_number(v->array.items[0], &d);
		ck_assert(d == 0.30000000000000004);
		json_get_number(v->array.items[1], &d);
		ck_assert(d == 1e-300);
		json_get_number(v->array.items[2], &d);
		ck_assert(d == 5e-324);
		json_free(v);
	}
}
END_TEST

/* xorshift64*: fast, seeded, the same inputs on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/* Whatever parses must write, and what is written must parse back the same. */
static void fuzz_one(const char *buf, size_t len, const struct json_limits *lim)
{
	struct json_value *v = json_parse(buf, len, lim, err, sizeof(err));
	struct json_writer w1, w2;
	struct json_value *v2;
	const char *t1;
	size_t l1;

	if (!v) {
		ck_assert_msg(err[0], "refused without a message");
		return;
	}
	json_writer_init(&w1);
	json_put_value(&w1, v);
	t1 = json_writer_text(&w1, &l1);
	ck_assert_msg(t1, "writer failed on a parsed tree");
	v2 = json_parse(t1, l1, lim, err, sizeof(err));
	ck_assert_msg(v2, "own output does not parse: %s: %s", err, t1);
	json_writer_init(&w2);
	json_put_value(&w2, v2);
	ck_assert_str_eq(json_writer_text(&w2, NULL), t1);
	json_writer_release(&w1);
	json_writer_release(&w2);
	json_free(v);
	json_free(v2);
}

START_TEST(test_fuzz)
{
	static const char alphabet[] = "{}[]\",:\\/ ntrufalse0123456789.-+eEu\"\\\n\t";
	static const char *const seeds[] = {
		"{\"cmd\":\"status\",\"id\":[1,2.5e3,{\"x\":null}]}",
		"[\"\\ud83d\\ude00\",true,false,-0.5,\"\\u00e9\",{}]",
		"{\"a\":{\"b\":{\"c\":[\"\\n\",\"\\\"\"]}}}",
	};
	struct json_limits lim = { .max_depth = 8, .max_items = 64, .max_string = 256 };
	char buf[256];
	int iter, parsed = 0;

	for (iter = 0; iter < 100000; iter++) {
		size_t len = rng() % sizeof(buf), i;
		int mode = iter % 3;

		if (mode == 0) {
			/* Raw random bytes, NUL and high bytes included. */
			for (i = 0; i < len; i++)
				buf[i] = rng();
		} else if (mode == 1) {
			/* Random JSON-ish tokens: reaches deeper into the grammar. */
			for (i = 0; i < len; i++)
				buf[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
		} else {
			/* A valid document with a few bytes changed, cut or not. */
			const char *s = seeds[rng() % 3];
			int flips = rng() % 4;

			len = strlen(s);
			memcpy(buf, s, len);
			while (flips--)
				buf[rng() % len] = rng() % 2 ? (char)rng()
					: alphabet[rng() % (sizeof(alphabet) - 1)];
			if (rng() % 4 == 0)
				len = rng() % (len + 1);
		}
		/* Exactly @len bytes in a heap block: sanitizers see any overread. */
		{
			char *exact = malloc(len ? len : 1);
			struct json_value *v;

			memcpy(exact, buf, len);
			fuzz_one(exact, len, iter % 2 ? &lim : NULL);
			v = json_parse(exact, len, NULL, NULL, 0);
			parsed += !!v;
			json_free(v);
			free(exact);
		}
	}
	/* The mutation modes should produce some valid documents too. */
	ck_assert_int_gt(parsed, 100);
}
END_TEST

VLAB_SUITE_MAIN("json", "core", NULL, NULL, 60,
	test_valid_documents, test_tree_and_accessors, test_invalid_documents,
	test_string_escapes, test_utf8_len, test_depth_limit, test_length_limits,
	test_numbers, test_writer, test_writer_misuse, test_round_trip, test_fuzz);
