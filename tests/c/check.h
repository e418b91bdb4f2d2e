/* A tiny test harness for the C tests: CHECK records a failure with its location and goes on; each test binary
 * ends with check_summary(), which prints "N passed, N failed, N skipped" and returns the exit code. */
#ifndef HP_CHECK_H
#define HP_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed, check_skipped;

#define CHECK(cond, ...)                                                                                    \
	do {                                                                                                    \
		if (cond) {                                                                                         \
			check_passed++;                                                                                 \
		} else {                                                                                            \
			check_failed++;                                                                                 \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                          \
			printf(__VA_ARGS__);                                                                            \
			printf("\n");                                                                                   \
		}                                                                                                   \
	} while (0)

/* The thread's hp_last_error() contains text (the reason a call failed). */
#define CHECK_ERROR(text)                                                                                    \
	CHECK(strstr(hp_last_error(), (text)) != NULL, "hp_last_error() = \"%s\", expected \"%s\"", hp_last_error(), (text))

/* A test that cannot run here: said loudly, counted, never silent. */
#define SKIP(...)                                                                                           \
	do {                                                                                                    \
		check_skipped++;                                                                                    \
		printf("!!! SKIPPED: ");                                                                            \
		printf(__VA_ARGS__);                                                                                \
		printf(" !!!\n");                                                                                   \
	} while (0)

static inline int check_summary(const char *name)
{
	printf("%s: %d passed, %d failed, %d skipped\n", name, check_passed, check_failed, check_skipped);
	return check_failed ? 1 : 0;
}

#endif
