/* SPDX-License-Identifier: GPL-2.0 */
/* One Check suite per test file; this supplies its main(). */
#ifndef VLAB_CHECK_MAIN_H
#define VLAB_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

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

#endif
