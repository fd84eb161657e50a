/* The child side of `vdsokit selftest`; protocol in selftest_child.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "selftest_child.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vdsokit/runtime.h>

#define PG 4096ull

/* ---- I/O ----------------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

/* One line without its '\n'; -1 at EOF or when it does not fit. */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char c;
		if (read_full(fd, &c, 1))
			return -1;
		if (c == '\n')
			break;
		if (n + 1 >= cap)
			return -1;
		buf[n++] = c;
	}
	buf[n] = 0;
	return (int)n;
}

/* ---- reference values: raw syscalls only ---------------------------------- */

static long sys_rc(long r)
{
	return r == -1 ? -errno : r;
}

static int64_t now_ns(void)
{
#if defined(SYS_clock_gettime64) && !defined(__x86_64__)
	struct { int64_t s, ns; } t;
	syscall(SYS_clock_gettime64, 1 /* CLOCK_MONOTONIC */, &t);
#else
	struct { long s, ns; } t;
	syscall(SYS_clock_gettime, 1 /* CLOCK_MONOTONIC */, &t);
#endif
	return (int64_t)t.s * 1000000000LL + t.ns;
}

struct kts { long sec, nsec; };      /* the native-width timespec/timeval */
struct kts64 { int64_t sec, nsec; }; /* __kernel_timespec of the i386 *_time64 calls */
struct ktz { int minuteswest, dsttime; };

typedef int (*gettime_fn)(long, struct kts *);
typedef int (*gettime64_fn)(long, struct kts64 *);
typedef int (*gtod_fn)(struct kts *, struct ktz *);
typedef long (*time_fn)(long *);
typedef int (*getcpu_fn)(unsigned *, unsigned *, void *);
typedef long (*getrandom_fn)(void *, size_t, unsigned, void *, size_t);

#define FN(type, addr) ((type)(uintptr_t)(addr))

/* The real time may be stepped between two calls; 2 ms keeps the sandwich meaningful (a stale or
 * empty vvar gives zeros or garbage) without flakes on a loaded machine. */
#define SLACK_NS 2000000LL
#define NCLOCKS 16 /* static clock ids 0..15; dynamic (negative) ids need an fd */

static int64_t ns_of(int64_t s, int64_t ns)
{
	return s * 1000000000LL + ns;
}

/* Every static clock id: accepted ones must sit between two syscalls, rejected ones must be
 * rejected with the same code. wide selects the *_time64 variant (i386). */
static int check_gettime(uint64_t addr, int wide, char *msg, size_t cap)
{
	int ok = 0, rejected = 0;
	for (long id = 0; id < NCLOCKS; id++) {
		long ra, rb;
		int rv;
		int64_t x, y, z;
		if (wide) {
#ifdef SYS_clock_gettime64
			struct kts64 a, v, b;
			ra = sys_rc(syscall(SYS_clock_gettime64, id, &a));
			rv = FN(gettime64_fn, addr)(id, &v);
			rb = sys_rc(syscall(SYS_clock_gettime64, id, &b));
			x = ns_of(a.sec, a.nsec), y = ns_of(v.sec, v.nsec), z = ns_of(b.sec, b.nsec);
#else
			snprintf(msg, cap, "no clock_gettime64 syscall in this build");
			return 1;
#endif
		} else {
			struct kts a, v, b;
			ra = sys_rc(syscall(SYS_clock_gettime, id, &a));
			rv = FN(gettime_fn, addr)(id, &v);
			rb = sys_rc(syscall(SYS_clock_gettime, id, &b));
			x = ns_of(a.sec, a.nsec), y = ns_of(v.sec, v.nsec), z = ns_of(b.sec, b.nsec);
		}
		if (rv != ra || rb != ra) {
			snprintf(msg, cap, "clock %ld: vdso returned %d, syscall %ld", id, rv, ra);
			return 1;
		}
		if (ra) {
			rejected++;
			continue;
		}
		if (!(x - SLACK_NS <= y && y <= z + SLACK_NS)) {
			snprintf(msg, cap, "clock %ld: syscall %lld, vdso %lld, syscall %lld", id, (long long)x,
				 (long long)y, (long long)z);
			return 1;
		}
		ok++;
	}
	if (ok < 6) {
		snprintf(msg, cap, "only %d clocks accepted", ok);
		return 1;
	}
	snprintf(msg, cap, "%d clocks between two syscalls (slack 2 ms), %d rejected alike", ok, rejected);
	return 0;
}

static int check_getres(uint64_t addr, int wide, char *msg, size_t cap)
{
	int ok = 0;
	for (long id = 0; id < NCLOCKS; id++) {
		long rs;
		int rv, same;
		if (wide) {
#ifdef SYS_clock_getres_time64
			struct kts64 s, v;
			memset(&s, 0x5a, sizeof(s));
			memset(&v, 0x5a, sizeof(v));
			rs = sys_rc(syscall(SYS_clock_getres_time64, id, &s));
			rv = FN(gettime64_fn, addr)(id, &v);
			same = memcmp(&s, &v, sizeof(s)) == 0;
#else
			snprintf(msg, cap, "no clock_getres_time64 syscall in this build");
			return 1;
#endif
		} else {
			struct kts s, v;
			memset(&s, 0x5a, sizeof(s));
			memset(&v, 0x5a, sizeof(v));
			rs = sys_rc(syscall(SYS_clock_getres, id, &s));
			rv = FN(gettime_fn, addr)(id, &v);
			same = memcmp(&s, &v, sizeof(s)) == 0;
		}
		if (rv != rs || (rs == 0 && !same)) {
			snprintf(msg, cap, "clock %ld: vdso %d, syscall %ld, values %s", id, rv, rs,
				 same ? "equal" : "differ");
			return 1;
		}
		ok += rs == 0;
	}
	snprintf(msg, cap, "%d clocks exactly equal to the syscall, the rest rejected alike", ok);
	return 0;
}

static int check_gtod(uint64_t addr, char *msg, size_t cap)
{
	struct kts a, v, b;
	struct ktz za, zv;
	memset(&za, 0x5a, sizeof(za));
	memset(&zv, 0x5a, sizeof(zv));
	long ra = sys_rc(syscall(SYS_gettimeofday, &a, &za));
	int rv = FN(gtod_fn, addr)(&v, &zv);
	long rb = sys_rc(syscall(SYS_gettimeofday, &b, NULL));
	if (ra || rv || rb) {
		snprintf(msg, cap, "returned %d (syscall %ld)", rv, ra);
		return 1;
	}
	int64_t x = ns_of(a.sec, a.nsec * 1000), y = ns_of(v.sec, v.nsec * 1000), z = ns_of(b.sec, b.nsec * 1000);
	if (!(x - SLACK_NS <= y && y <= z + SLACK_NS) || memcmp(&za, &zv, sizeof(za)) != 0) {
		snprintf(msg, cap, "syscall %lld, vdso %lld, syscall %lld, timezone %s", (long long)x,
			 (long long)y, (long long)z, memcmp(&za, &zv, sizeof(za)) ? "differs" : "equal");
		return 1;
	}
	snprintf(msg, cap, "between two syscalls, timezone equal");
	return 0;
}

static int check_time(uint64_t addr, char *msg, size_t cap)
{
	long t0 = syscall(SYS_time, NULL), t2 = 0;
	long t1 = FN(time_fn, addr)(&t2);
	long t3 = syscall(SYS_time, NULL);
	if (t1 != t2 || t1 < t0 || t1 > t3) {
		snprintf(msg, cap, "syscall %ld, vdso %ld (stored %ld), syscall %ld", t0, t1, t2, t3);
		return 1;
	}
	snprintf(msg, cap, "%ld, between two syscalls", t1);
	return 0;
}

static int check_getcpu(uint64_t addr, char *msg, size_t cap)
{
	unsigned c0 = 0, n0 = 0, c1 = ~0u, n1 = ~0u;
	cpu_set_t set;
	if (sys_rc(syscall(SYS_getcpu, &c0, &n0, NULL))) {
		snprintf(msg, cap, "getcpu syscall failed");
		return 1;
	}
	/* Pin to the current CPU so the two answers cannot differ by a migration. */
	CPU_ZERO(&set);
	CPU_SET(c0, &set);
	if (sched_setaffinity(0, sizeof(set), &set) || sys_rc(syscall(SYS_getcpu, &c0, &n0, NULL))) {
		snprintf(msg, cap, "cannot pin to cpu %u", c0);
		return 1;
	}
	int rv = FN(getcpu_fn, addr)(&c1, &n1, NULL);
	if (rv || c1 != c0 || n1 != n0) {
		snprintf(msg, cap, "vdso %d: cpu %u node %u, syscall cpu %u node %u", rv, c1, n1, c0, n0);
		return 1;
	}
	snprintf(msg, cap, "cpu %u node %u, as the syscall", c1, n1);
	return 0;
}

static int check_getrandom(uint64_t addr, char *msg, size_t cap)
{
	/* vgetrandom protocol: a NULL call with opaque_len ~0 describes the state to allocate. */
	struct { uint32_t size, prot, flags, reserved[13]; } params;
	unsigned char buf[64];
	memset(&params, 0, sizeof(params));
	long r = FN(getrandom_fn, addr)(NULL, 0, 0, &params, ~(size_t)0);
	if (r != 0 || params.size == 0 || params.size > PG) {
		snprintf(msg, cap, "state query returned %ld, size %u", r, params.size);
		return 1;
	}
	void *state = mmap(NULL, PG, (int)params.prot, (int)params.flags, -1, 0);
	if (state == MAP_FAILED) {
		snprintf(msg, cap, "cannot map a %u-byte state (prot %#x flags %#x)", params.size, params.prot,
			 params.flags);
		return 1;
	}
	int nz = 0, twice_same = 1;
	unsigned char first[64];
	for (int round = 0; round < 2; round++) {
		memset(buf, 0, sizeof(buf));
		r = FN(getrandom_fn, addr)(buf, sizeof(buf), 0, state, params.size);
		if (r != (long)sizeof(buf)) {
			snprintf(msg, cap, "returned %ld for %zu bytes", r, sizeof(buf));
			return 1;
		}
		if (round == 0)
			memcpy(first, buf, sizeof(buf));
		else
			twice_same = memcmp(first, buf, sizeof(buf)) == 0;
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		nz += buf[i] != 0;
	if (nz < 32 || twice_same) {
		snprintf(msg, cap, "%d of %zu bytes non-zero, two calls %s", nz, sizeof(buf),
			 twice_same ? "equal" : "differ");
		return 1;
	}
	snprintf(msg, cap, "filled %zu bytes twice (different, %d non-zero)", sizeof(buf), nz);
	return 0;
}

static const char *base_name(const char *n)
{
	return strncmp(n, "__vdso_", 7) == 0 ? n + 7 : n;
}

/* 0 pass, 1 fail, 2 skip (no safe way to call it). */
static int check_call(const char *name, uint64_t addr, char *msg, size_t cap)
{
	const char *b = base_name(name);
	if (!strcmp(b, "clock_gettime"))
		return check_gettime(addr, 0, msg, cap);
	if (!strcmp(b, "clock_gettime64"))
		return check_gettime(addr, 1, msg, cap);
	if (!strcmp(b, "clock_getres"))
		return check_getres(addr, 0, msg, cap);
	if (!strcmp(b, "clock_getres_time64"))
		return check_getres(addr, 1, msg, cap);
	if (!strcmp(b, "gettimeofday"))
		return check_gtod(addr, msg, cap);
	if (!strcmp(b, "time"))
		return check_time(addr, msg, cap);
	if (!strcmp(b, "getcpu"))
		return check_getcpu(addr, msg, cap);
	if (!strcmp(b, "getrandom"))
		return check_getrandom(addr, msg, cap);
	if (!strcmp(b, "__kernel_sigreturn") || !strcmp(b, "__kernel_rt_sigreturn")) {
		snprintf(msg, cap, "signal return: only a signal frame may enter it");
		return 2;
	}
	snprintf(msg, cap, "no known calling convention: not called");
	return 2;
}

/* ns per call of clock_gettime(CLOCK_MONOTONIC) through addr, and through the syscall. */
static void bench(int out, const char *name, uint64_t addr)
{
	enum { N = 2000 };
	struct kts ts;
	int64_t t0 = now_ns();
	for (int i = 0; i < N; i++)
		FN(gettime_fn, addr)(1, &ts);
	int64_t t1 = now_ns();
	for (int i = 0; i < N; i++)
		syscall(SYS_clock_gettime, 1, &ts);
	int64_t t2 = now_ns();
	dprintf(out, "bench %s %lld syscall %lld\n", name, (long long)((t1 - t0) / N),
		(long long)((t2 - t1) / N));
}

/* ---- layout helpers ---------------------------------------------------------- */

/* A free range: let the kernel choose, then give it back (never assume addresses). */
static uint64_t find_free(uint64_t len)
{
	void *p = mmap(NULL, len + 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	munmap(p, len + 2 * PG);
	return (uint64_t)(uintptr_t)p + PG; /* a page of distance from the neighbours */
}

static uint64_t block_size(const struct vk_rt_layout *l)
{
	uint64_t lo = l->vdso.start, hi = l->vdso.end;
	if (l->vvar.end && l->vvar.start < lo)
		lo = l->vvar.start;
	if (l->vvar.end > hi)
		hi = l->vvar.end;
	if (l->vvar_vclock.end > hi)
		hi = l->vvar_vclock.end;
	return hi - lo;
}

/*
 * The old vDSO as a restored process holds it (§6.1): the image's VVAR VMA as an empty anonymous
 * read-only mapping, then the vdso VMA as anonymous memory filled from the pages image, R|X.
 * PROT_NONE guard pages on both sides keep the kernel from merging them with neighbours, so the
 * VMAs start exactly where the mark says.
 */
static int map_old(const void *blob, size_t len, uint64_t vvar_pages, uint64_t vdso_pages, uint64_t *proxy,
		   uint64_t *vvar)
{
	uint64_t psize = (len + PG - 1) & ~(PG - 1);
	if (vdso_pages * PG > psize)
		psize = vdso_pages * PG;
	uint64_t total = PG + vvar_pages * PG + psize + PG;
	char *base = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return -1;
	char *vv = base + PG, *px = vv + vvar_pages * PG;
	if (vvar_pages && mmap(vv, vvar_pages * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -1;
	if (mmap(px, psize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -1;
	memcpy(px, blob, len);
	if (mprotect(px, psize, PROT_READ | PROT_EXEC))
		return -1;
	*proxy = (uint64_t)(uintptr_t)px;
	*vvar = vvar_pages ? (uint64_t)(uintptr_t)vv : 0;
	return 0;
}

/* ---- the case -------------------------------------------------------------- */

struct call {
	char name[VK_RT_NAME_MAX];
	uint64_t addr;
};

#define MAX_CALLS 64

int vk_st_child(int in, int out)
{
	static char line[256];
	static char text[64 * 1024];
	static struct vk_rt_plan plan;
	static struct vk_rt_result res;
	static struct call calls[MAX_CALLS];
	static char msg[512];
	struct vk_rt_layout live;
	uint64_t proxy = 0, vvar = 0, free_at;
	unsigned long long n1 = 0, n2 = 0, n3 = 0;
	int bad_line = 0, failed = 0, ncalls = 0;

	alarm(60); /* a hang in vDSO code becomes a SIGALRM death the parent reports */
	if (read_line(in, line, sizeof(line)) < 0)
		return 1;
	if (vk_rt_read_layout(&live, NULL, 0)) {
		dprintf(out, "end fail cannot read the layout\n");
		return 1;
	}
	if (strcmp(line, "case inplace") == 0) {
		/* nothing to map */
	} else if (sscanf(line, "case proxy %llu %llu %llu", &n1, &n2, &n3) == 3 && n1 > 0 && n1 <= (1u << 20) &&
		   n2 < 64 && n3 < 64) {
		void *blob = malloc((size_t)n1);
		if (!blob || read_full(in, blob, (size_t)n1) || map_old(blob, (size_t)n1, n2, n3, &proxy, &vvar)) {
			dprintf(out, "end fail cannot map the old vDSO\n");
			return 1;
		}
		free(blob);
	} else {
		dprintf(out, "end fail unknown case '%s'\n", line);
		return 1;
	}
	free_at = find_free(block_size(&live));
	dprintf(out, "ready %llx %llx %llx\n", (unsigned long long)free_at, (unsigned long long)proxy,
		(unsigned long long)vvar);

	if (read_line(in, line, sizeof(line)) < 0)
		return 0; /* the parent gave up (its report says why) */
	if (sscanf(line, "plan %llu", &n1) != 1 || n1 >= sizeof(text) || read_full(in, text, (size_t)n1)) {
		dprintf(out, "end fail bad plan header '%s'\n", line);
		return 1;
	}
	if (read_line(in, line, sizeof(line)) < 0 || sscanf(line, "calls %llu", &n2) != 1 || n2 > MAX_CALLS) {
		dprintf(out, "end fail bad calls header\n");
		return 1;
	}
	for (ncalls = 0; ncalls < (int)n2; ncalls++) {
		unsigned long long a;
		if (read_line(in, line, sizeof(line)) < 0 ||
		    sscanf(line, "%63s %llx", calls[ncalls].name, &a) != 2) {
			dprintf(out, "end fail bad call line\n");
			return 1;
		}
		calls[ncalls].addr = a;
	}
	int rc = vk_rt_plan_parse(text, (size_t)n1, &plan, &bad_line);
	if (rc) {
		dprintf(out, "end fail plan text: %s at line %d\n", vk_rt_strerror(rc), bad_line);
		return 1;
	}

	int64_t t0 = now_ns();
	rc = vk_rt_apply(&plan, &res);
	/* First thing: on i386 even syscall(2) enters the kernel through the cached vsyscall. */
	if (rc == 0)
		vk_rt_glibc_i386_follow_vdso(plan.vdso_addr - live.vdso.start);
	int64_t t1 = now_ns();
	dprintf(out, "apply %d %s moved=%u tramps=%u mark=%u rolled_back=%u ns=%lld\n", rc, vk_rt_strerror(rc),
		res.nr_moved, res.nr_tramps, res.mark_written, res.rolled_back, (long long)(t1 - t0));
	if (rc) {
		for (uint32_t i = 0; i < res.nr_steps; i++)
			dprintf(out, "step %s %d %#llx -> %#llx len %#llx\n", vk_rt_step_name(res.steps[i].kind),
				res.steps[i].code, (unsigned long long)res.steps[i].from,
				(unsigned long long)res.steps[i].to, (unsigned long long)res.steps[i].len);
		dprintf(out, "end fail\n");
		return 1;
	}

	const struct call *gt = NULL;
	for (int i = 0; i < ncalls; i++) {
		int r = check_call(calls[i].name, calls[i].addr, msg, sizeof(msg));
		dprintf(out, "call %s %s %s\n", calls[i].name, r == 0 ? "pass" : r == 1 ? "fail" : "skip", msg);
		failed += r == 1;
		if (r == 0 && !strcmp(base_name(calls[i].name), "clock_gettime"))
			gt = &calls[i];
	}
	if (gt)
		bench(out, gt->name, gt->addr);
	dprintf(out, "end %s\n", failed ? "fail" : "pass");

	/* Stay as we are until the parent has looked at /proc/PID (the mark case). */
	while (read(in, line, sizeof(line)) > 0)
		;
	return failed ? 1 : 0;
}
