/* Shared pieces of the live runtime tests (native and -m32 builds):
 * calling vDSO entry points and comparing them with raw syscalls, free
 * range finding, and building proxy plans from any vDSO blob. */
#ifndef RT_LIVE_COMMON_H
#define RT_LIVE_COMMON_H

#define _GNU_SOURCE
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

#include "rt_test.h"
#include "vdso_elf.h"

/* Each program including this uses a different subset of the helpers. */
#pragma GCC diagnostic ignored "-Wunused-function"

#if defined(__x86_64__)
#define RT_ABI VK_RT_ABI_X86_64
#else
#define RT_ABI VK_RT_ABI_I386
#endif

#define PG 4096ull
#define MAX_SYMS 128

/* After a move libc's cached vDSO pointers are stale, so every reference
 * value comes from syscall(2), which never goes through the vDSO. */
static long sys_rc(long r)
{
	return r == -1 ? -errno : r;
}

struct kts { long sec, nsec; };      /* timespec of the native-width calls */
struct kts64 { int64_t sec, nsec; }; /* __kernel_timespec (i386 *_time64 calls) */
struct ktv { long sec, usec; };

typedef int (*gettime_fn)(long, struct kts *);
typedef int (*gettime64_fn)(long, struct kts64 *);
typedef int (*gtod_fn)(struct ktv *, void *);
typedef long (*time_fn)(long *);
typedef int (*getcpu_fn)(unsigned *, unsigned *, void *);
typedef long (*getrandom_fn)(void *, size_t, unsigned, void *, size_t);

#define FN(type, base, sym) ((type)(uintptr_t)((base) + (sym)->off))

/* Real time may be stepped between two calls; 2 ms keeps the sandwich
 * test meaningful (a broken vvar gives zeros or garbage) without flakes. */
#define SLACK_NS 2000000LL

static int64_t ns_of(int64_t s, int64_t ns)
{
	return s * 1000000000LL + ns;
}

static int check_clock(long id, const struct vk_sym *gt, const struct vk_sym *gr,
		       const struct vk_sym *gt64, uint64_t base, int *accepted)
{
	struct kts a, v, b, r1, r2;
	memset(&r1, 0x5a, sizeof(r1));
	memset(&r2, 0x5a, sizeof(r2));
	long rs = sys_rc(syscall(SYS_clock_getres, id, &r1));
	if (gr) {
		int rv = FN(gettime_fn, base, gr)(id, &r2);
		CHECK_EQ_INT(rv, rs);
		if (rs == 0)
			CHECK(memcmp(&r1, &r2, sizeof(r1)) == 0); /* exactly equal */
	}
	long ra = sys_rc(syscall(SYS_clock_gettime, id, &a));
	int rv = FN(gettime_fn, base, gt)(id, &v);
	long rb = sys_rc(syscall(SYS_clock_gettime, id, &b));
	CHECK_EQ_INT(rv, ra);
	CHECK_EQ_INT(rb, ra);
	if (ra == 0) {
		int64_t x = ns_of(a.sec, a.nsec), y = ns_of(v.sec, v.nsec), z = ns_of(b.sec, b.nsec);
		if (!(x - SLACK_NS <= y && y <= z + SLACK_NS)) {
			fprintf(stderr, "clock %ld: syscall %lld, vdso %lld, syscall %lld\n", id,
				(long long)x, (long long)y, (long long)z);
			return 1;
		}
		(*accepted)++;
	}
#ifdef SYS_clock_gettime64
	if (gt64) {
		struct kts64 a6, v6, b6;
		ra = sys_rc(syscall(SYS_clock_gettime64, id, &a6));
		rv = FN(gettime64_fn, base, gt64)(id, &v6);
		rb = sys_rc(syscall(SYS_clock_gettime64, id, &b6));
		CHECK_EQ_INT(rv, ra);
		if (ra == 0)
			CHECK(ns_of(a6.sec, a6.nsec) - SLACK_NS <= ns_of(v6.sec, v6.nsec) &&
			      ns_of(v6.sec, v6.nsec) <= ns_of(b6.sec, b6.nsec) + SLACK_NS);
	}
#else
	(void)gt64;
#endif
	return 0;
}

/* Call every time function a vDSO image exports through base + offset
 * and compare with the syscalls. */
static int check_calls(uint64_t base, const struct vk_sym *s, int n)
{
	const struct vk_sym *gt = rt_find_sym(s, n, "clock_gettime");
	const struct vk_sym *gr = rt_find_sym(s, n, "clock_getres");
	const struct vk_sym *gt64 = rt_find_sym(s, n, "clock_gettime64");
	const struct vk_sym *gtod = rt_find_sym(s, n, "gettimeofday");
	const struct vk_sym *tm = rt_find_sym(s, n, "time");
	const struct vk_sym *cpu = rt_find_sym(s, n, "getcpu");
	const struct vk_sym *rnd = rt_find_sym(s, n, "getrandom");
	int accepted = 0;

	CHECK(gt && gtod);
	/* Every static clock id, valid or not: rejected ids must be rejected
	 * the same way by both. Dynamic (negative) ids need an fd; skipped. */
	for (long id = 0; id < 16; id++)
		if (check_clock(id, gt, gr, gt64, base, &accepted))
			return 1;
	CHECK(accepted >= 6);

	struct ktv a, v, b;
	CHECK_EQ_INT(sys_rc(syscall(SYS_gettimeofday, &a, NULL)), 0);
	CHECK_EQ_INT(FN(gtod_fn, base, gtod)(&v, NULL), 0);
	CHECK_EQ_INT(sys_rc(syscall(SYS_gettimeofday, &b, NULL)), 0);
	CHECK(ns_of(a.sec, a.usec * 1000) - SLACK_NS <= ns_of(v.sec, v.usec * 1000) &&
	      ns_of(v.sec, v.usec * 1000) <= ns_of(b.sec, b.usec * 1000) + SLACK_NS);

	if (tm) {
		long t0 = syscall(SYS_time, NULL), t1, t2 = 0;
		t1 = FN(time_fn, base, tm)(&t2);
		CHECK(t1 == t2);
		CHECK(t0 <= t1 && t1 <= syscall(SYS_time, NULL));
	}
	if (cpu) {
		unsigned c0 = 0, n0 = 0, c1 = ~0u, n1 = ~0u;
		cpu_set_t set;
		CHECK_EQ_INT(sys_rc(syscall(SYS_getcpu, &c0, &n0, NULL)), 0);
		CPU_ZERO(&set);
		CPU_SET(c0, &set);
		CHECK_EQ_INT(sched_setaffinity(0, sizeof(set), &set), 0); /* no migration */
		CHECK_EQ_INT(sys_rc(syscall(SYS_getcpu, &c0, &n0, NULL)), 0);
		CHECK_EQ_INT(FN(getcpu_fn, base, cpu)(&c1, &n1, NULL), 0);
		CHECK_EQ_INT(c1, c0);
		CHECK_EQ_INT(n1, n0);
	}
	if (rnd) {
		/* vgetrandom protocol: a NULL call with opaque_len ~0 describes
		 * the state mapping to allocate. */
		struct { uint32_t size, prot, flags, reserved[13]; } params;
		unsigned char buf[32], ref[32];
		memset(&params, 0, sizeof(params));
		CHECK_EQ_INT(FN(getrandom_fn, base, rnd)(NULL, 0, 0, &params, ~(size_t)0), 0);
		CHECK(params.size > 0 && params.size <= PG);
		void *state = mmap(NULL, PG, (int)params.prot, (int)params.flags, -1, 0);
		CHECK(state != MAP_FAILED);
		memset(buf, 0, sizeof(buf));
		CHECK_EQ_INT(FN(getrandom_fn, base, rnd)(buf, sizeof(buf), 0, state, params.size), 32);
		CHECK_EQ_INT(syscall(SYS_getrandom, ref, sizeof(ref), 0), 32);
		int nz = 0;
		for (size_t i = 0; i < sizeof(buf); i++)
			nz += buf[i] != 0;
		CHECK(nz > 8);
	}
	return 0;
}

/* A free range: let the kernel choose, then give it back. */
static uint64_t find_free(uint64_t len)
{
	void *p = mmap(NULL, len + 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	munmap(p, len + 2 * PG);
	return (uint64_t)(uintptr_t)p + PG; /* one page of distance from neighbours */
}

static void block_of(const struct vk_rt_layout *l, uint64_t *lo, uint64_t *hi)
{
	*lo = l->vdso.start;
	*hi = l->vdso.end;
	if (l->vvar.end && l->vvar.start < *lo)
		*lo = l->vvar.start;
	if (l->vvar_vclock.end > *hi)
		*hi = l->vvar_vclock.end;
	if (l->vvar.end > *hi)
		*hi = l->vvar.end;
}

/* Targets: the live block shifted so it starts at new_lo. */
static void plan_move(struct vk_rt_plan *p, const struct vk_rt_layout *l, uint64_t new_lo)
{
	uint64_t lo, hi;
	block_of(l, &lo, &hi);
	uint64_t d = new_lo - lo;
	p->abi = RT_ABI;
	p->vdso_addr = l->vdso.start + d;
	p->vdso_size = l->vdso.end - l->vdso.start;
	if (l->vvar.end) {
		p->vvar_addr = l->vvar.start + d;
		p->vvar_size = l->vvar.end - l->vvar.start;
	}
	if (l->vvar_vclock.end) {
		p->vclock_addr = l->vvar_vclock.start + d;
		p->vclock_size = l->vvar_vclock.end - l->vvar_vclock.start;
	}
}

static const char *base_name(const char *n)
{
	return strncmp(n, "__vdso_", 7) == 0 ? n + 7 : n;
}

static int cmp_off(const void *a, const void *b)
{
	const struct vk_sym *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * Trampolines from every function of an old vDSO image (mapped at proxy)
 * to the same function of the runtime vDSO at rt. This is the test's
 * stand-in for the C++ planner, kept blob-agnostic so it can run on any
 * vDSO of a corpus. Aliases share an entry and get one trampoline.
 * Skipped: __kernel_vsyscall (eax holds the syscall number, so a
 * trampoline through eax would break it, vdso-restore.md §4.5) and
 * entries too close to the next export for a whole trampoline.
 * Names with no runtime counterpart go to the unresolved list.
 */
static int plan_tramps(struct vk_rt_plan *p, uint64_t proxy, const struct vk_sym *old_in, int nold,
		       uint64_t rt, const struct vk_sym *live, int nlive)
{
	struct vk_sym old[MAX_SYMS];
	uint32_t tl = vk_rt_tramp_len(p->abi);
	memcpy(old, old_in, (size_t)nold * sizeof(*old));
	qsort(old, (size_t)nold, sizeof(*old), cmp_off);
	p->nr_tramps = p->nr_unresolved = 0;
	for (int i = 0; i < nold;) {
		int j = i;
		const struct vk_sym *hit = NULL;
		int vsyscall = 0;
		for (; j < nold && old[j].off == old[i].off; j++) {
			if (strcmp(old[j].name, "__kernel_vsyscall") == 0)
				vsyscall = 1;
			/* Prefer the __vdso_ spelling of an alias for the log. */
			for (int k = 0; k < nlive; k++)
				if (strcmp(base_name(live[k].name), base_name(old[j].name)) == 0 &&
				    (!hit || strncmp(live[k].name, "__vdso_", 7) == 0))
					hit = &live[k];
		}
		int room = j >= nold || old[j].off - old[i].off >= tl;
		if (vsyscall || !room) {
			fprintf(stderr, "  not patched: %s\n", old[i].name);
		} else if (!hit) {
			if (p->nr_unresolved < VK_RT_MAX_UNRESOLVED)
				snprintf(p->unresolved[p->nr_unresolved++], VK_RT_NAME_MAX, "%s",
					 old[i].name);
		} else if (p->nr_tramps < VK_RT_MAX_TRAMPS) {
			struct vk_rt_tramp *t = &p->tramps[p->nr_tramps++];
			t->from = proxy + old[i].off;
			t->to = rt + hit->off;
			snprintf(t->name, sizeof(t->name), "%s", hit->name);
		}
		i = j;
	}
	return (int)p->nr_tramps;
}

static void log_result(const struct vk_rt_result *r)
{
	fprintf(stderr, "  result %d (%s): moved %u tramps %u mark %u rolled_back %u\n", r->code,
		vk_rt_strerror(r->code), r->nr_moved, r->nr_tramps, r->mark_written, r->rolled_back);
	for (uint32_t i = 0; i < r->nr_steps; i++)
		fprintf(stderr, "   step %-18s %5d %#llx -> %#llx len %#llx\n",
			vk_rt_step_name(r->steps[i].kind), r->steps[i].code,
			(unsigned long long)r->steps[i].from, (unsigned long long)r->steps[i].to,
			(unsigned long long)r->steps[i].len);
}

struct mark_report {
	uint64_t rt_vdso, orig_vdso, rt_vvar;
};

/*
 * Proxy scenario: the old vDSO bytes (blob) sit at a fresh address like a
 * restored image's vdso VMA; the plan patches them to jump into the live
 * vDSO (optionally moved first); calls go through the OLD entry points.
 * With report_fd >= 0 the mark address is sent there and the process
 * waits to be inspected.
 */
static int run_proxy(const void *blob, size_t blob_size, int move, int report_fd)
{
	struct vk_rt_layout l;
	struct vk_sym live[MAX_SYMS], old[MAX_SYMS];
	static struct vk_rt_plan p; /* 5 KiB: keep it off the stack */
	struct vk_rt_result r;
	uint64_t lo, hi;

	CHECK_RC(vk_rt_read_layout(&l, NULL, 0), 0);
	block_of(&l, &lo, &hi);
	int nlive = rt_elf_syms((const void *)(uintptr_t)l.vdso.start, l.vdso.end - l.vdso.start,
				live, MAX_SYMS);
	int nold = rt_elf_syms(blob, blob_size, old, MAX_SYMS);
	CHECK(nlive > 0 && nold > 0);

	uint64_t psize = (blob_size + PG - 1) & ~(PG - 1);
	void *px = mmap(NULL, psize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(px != MAP_FAILED);
	memcpy(px, blob, blob_size);
	CHECK_EQ_INT(mprotect(px, psize, PROT_READ | PROT_EXEC), 0);
	uint64_t proxy = (uint64_t)(uintptr_t)px;

	vk_rt_plan_init(&p);
	plan_move(&p, &l, move ? find_free(hi - lo) : lo);
	p.proxy_addr = proxy;
	p.proxy_size = psize;
	p.flags = VK_RT_PLAN_MARK;
	p.orig_vdso_addr = proxy;
	p.orig_vvar_addr = VK_RT_NO_ADDR;
	CHECK(plan_tramps(&p, proxy, old, nold, p.vdso_addr, live, nlive) >= 4);

	char text[8192];
	CHECK(vk_rt_plan_format(&p, text, sizeof(text)) > 0);
	fprintf(stderr, "%s", text);

	int rc = vk_rt_apply(&p, &r);
	if (rc == 0)
		vk_rt_glibc_i386_follow_vdso(p.vdso_addr - l.vdso.start);
	log_result(&r);
	CHECK_RC(rc, 0);
	CHECK_EQ_INT(r.nr_tramps, p.nr_tramps);
	CHECK_EQ_INT(r.mark_written, 1);
	for (uint32_t i = 0; i < p.nr_tramps; i++) {
		uint8_t want[16];
		int n = vk_rt_encode_tramp(p.abi, p.tramps[i].to, want, sizeof(want));
		CHECK(memcmp((const void *)(uintptr_t)p.tramps[i].from, want, (size_t)n) == 0);
	}
	/* The proxy must be back to r-x: the library restores protections. */
	CHECK_EQ_INT(mprotect(px, psize, PROT_READ | PROT_EXEC), 0);
	{
		FILE *f = fopen("/proc/self/maps", "r");
		char line[512];
		int seen = 0;
		CHECK(f);
		while (fgets(line, sizeof(line), f))
			if (strtoull(line, NULL, 16) == proxy) {
				CHECK(strncmp(strchr(line, ' ') + 1, "r-xp", 4) == 0);
				seen = 1;
			}
		fclose(f);
		CHECK(seen);
	}

	if (check_calls(proxy, old, nold))
		return 1;

	if (report_fd >= 0) {
		struct mark_report m = {p.vdso_addr, proxy, p.vvar_size ? p.vvar_addr : VK_RT_NO_ADDR};
		CHECK(write(report_fd, &m, sizeof(m)) == (ssize_t)sizeof(m));
		for (;;)
			pause();
	}
	return 0;
}

static int t_inplace(void)
{
	struct vk_rt_layout l, l2;
	struct vk_sym syms[MAX_SYMS];
	struct vk_rt_plan *p = calloc(1, sizeof(*p));
	struct vk_rt_result r;
	uint64_t lo, hi;

	CHECK(p);
	CHECK_RC(vk_rt_read_layout(&l, NULL, 0), 0);
	block_of(&l, &lo, &hi);
	vk_rt_plan_init(p);
	plan_move(p, &l, find_free(hi - lo));
	int rc = vk_rt_apply(p, &r);
	if (rc == 0)
		vk_rt_glibc_i386_follow_vdso(p->vdso_addr - l.vdso.start);
	log_result(&r);
	CHECK_RC(rc, 0);
	CHECK_EQ_INT(r.nr_moved, 1 + (l.vvar.end != 0) + (l.vvar_vclock.end != 0));
	CHECK_RC(vk_rt_read_layout(&l2, NULL, 0), 0);
	/* The kernel keeps the names of moved special mappings (§6.3). */
	CHECK(l2.vdso.start == p->vdso_addr && l2.vvar.start == p->vvar_addr);
	CHECK(memcmp(&l2.vvar, &r.after.vvar, 3 * sizeof(l2.vvar)) == 0);
	int n = rt_elf_syms((const void *)(uintptr_t)p->vdso_addr, p->vdso_size, syms, MAX_SYMS);
	CHECK(n > 0);
	return check_calls(p->vdso_addr, syms, n);
}

static int t_proxy_common(int move)
{
	struct vk_rt_layout l;
	CHECK_RC(vk_rt_read_layout(&l, NULL, 0), 0);
	size_t sz = l.vdso.end - l.vdso.start;
	void *copy = malloc(sz); /* the old bytes a restored process holds */
	CHECK(copy);
	memcpy(copy, (const void *)(uintptr_t)l.vdso.start, sz);
	return run_proxy(copy, sz, move, -1);
}

static int t_proxy(void)
{
	return t_proxy_common(0);
}

static int t_proxy_moved(void)
{
	return t_proxy_common(1);
}

#endif
