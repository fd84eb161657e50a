/* Minimal test harness for the runtime tests: plain C, each case runs in
 * a forked child so a fault in a vDSO call or a bad remap cannot take
 * down the test run. A case returns 0 (pass), 1 (fail) or RT_SKIP. */
#ifndef RT_TEST_H
#define RT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RT_SKIP 77

#define CHECK(cond)                                                                     \
	do {                                                                            \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			return 1;                                                       \
		}                                                                       \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                              \
	do {                                                                            \
		long long va_ = (long long)(a), vb_ = (long long)(b);                   \
		if (va_ != vb_) {                                                       \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld vs %lld\n", __FILE__, \
				__LINE__, #a, #b, va_, vb_);                            \
			return 1;                                                       \
		}                                                                       \
	} while (0)

#define CHECK_RC(expr, want)                                                            \
	do {                                                                            \
		int rc_ = (expr);                                                       \
		if (rc_ != (want)) {                                                    \
			fprintf(stderr, "%s:%d: %s returned %d (%s), want %d (%s)\n",   \
				__FILE__, __LINE__, #expr, rc_, vk_rt_strerror(rc_),    \
				(int)(want), vk_rt_strerror(want));                     \
			return 1;                                                       \
		}                                                                       \
	} while (0)

struct rt_case {
	const char *name;
	int (*fn)(void);
};

/* argv[1] names one case; no argument runs them all. Exit status: 0 all
 * passed, RT_SKIP when every selected case skipped, 1 otherwise. */
static inline int rt_main(const struct rt_case *cases, int argc, char **argv)
{
	int ran = 0, failed = 0, skipped = 0;
	for (const struct rt_case *c = cases; c->name; c++) {
		if (argc > 1 && strcmp(argv[1], c->name) != 0)
			continue;
		ran++;
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			int r = c->fn();
			fflush(NULL);
			_exit(r);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			printf("PASS %s\n", c->name);
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == RT_SKIP) {
			printf("SKIP %s\n", c->name);
			skipped++;
		} else {
			if (WIFSIGNALED(st))
				printf("FAIL %s (signal %d)\n", c->name, WTERMSIG(st));
			else
				printf("FAIL %s (exit %d)\n", c->name, WEXITSTATUS(st));
			failed++;
		}
	}
	if (!ran) {
		fprintf(stderr, "no case named %s\n", argc > 1 ? argv[1] : "(none)");
		return 1;
	}
	if (failed)
		return 1;
	return skipped == ran ? RT_SKIP : 0;
}

#endif
