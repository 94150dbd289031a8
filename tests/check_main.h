/* SPDX-License-Identifier: GPL-2.0 */
/* One Check suite per test file; this supplies its main(). */
#ifndef VLAB_CHECK_MAIN_H
#define VLAB_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

/* A NULL-terminated list of tests for vlab_tcase(). */
#define VLAB_TESTS(...)	((const TTest *const[]){ __VA_ARGS__, NULL })

/*
 * Add test case @name to @s: @tests in order, around each an optional
 * checked fixture (run in the test's own process), and a timeout in
 * seconds (0: Check's default).
 *
 *	vlab_tcase(s, "split", setup, teardown, 0, VLAB_TESTS(pop_one, pop_chain));
 */
static inline TCase *vlab_tcase(Suite *s, const char *name, SFun setup, SFun teardown,
				double timeout, const TTest *const *tests)
{
	TCase *tc = tcase_create(name);

	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	if (timeout > 0)
		tcase_set_timeout(tc, timeout);
	for (; *tests; tests++)
		tcase_add_test(tc, *tests);
	suite_add_tcase(s, tc);
	return tc;
}

#define VLAB_TEST_MAIN(suite_fn)					\
int main(void)								\
{									\
	SRunner *sr = srunner_create(suite_fn());			\
	int failed;							\
									\
	srunner_run_all(sr, CK_NORMAL);					\
	failed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;			\
}

/*
 * A file whose suite is one test case: the suite and main() in one go.
 *
 *	VLAB_SUITE_MAIN("rtc", "state", setup, NULL, 0, state_roundtrip, state_corrupt);
 */
#define VLAB_SUITE_MAIN(suite_name, tcase_name, setup, teardown, timeout, ...)	\
static Suite *vlab_suite(void)							\
{										\
	Suite *s = suite_create(suite_name);					\
										\
	vlab_tcase(s, tcase_name, setup, teardown, timeout, VLAB_TESTS(__VA_ARGS__)); \
	return s;								\
}										\
VLAB_TEST_MAIN(vlab_suite)

#endif
