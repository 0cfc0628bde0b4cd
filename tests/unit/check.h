/*
 * check: the unit tests' few macros.  Each check prints "ok N - what"
 * or "not ok N - what" (TAP), tests/run.sh counts them.  A unit test
 * program exits 1 if any check failed.
 */
#ifndef KVFS_CHECK_H
#define KVFS_CHECK_H

#include <stdio.h>

static int check_count, check_failed;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		check_count++;                                                 \
		if (cond) {                                                    \
			printf("ok %d - ", check_count);                       \
		} else {                                                       \
			check_failed++;                                        \
			printf("not ok %d - %s:%d: ", check_count, __FILE__,   \
			       __LINE__);                                      \
		}                                                              \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
	} while (0)

#define CHECK_DONE() (check_failed ? 1 : 0)

#endif
