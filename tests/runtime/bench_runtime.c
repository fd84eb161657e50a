/* Benchmark (not a test): cost of one in-place remap of the live
 * [vvar]/[vvar_vclock]/[vdso] and of one proxy application (trampolines
 * for every export + mark), each in a loop in a forked child.
 * Usage: rt_bench [iterations]. Prints microseconds per operation. */
#include "live_common.h"

static double now_us(void)
{
	struct kts t;
	syscall(SYS_clock_gettime, 1 /* CLOCK_MONOTONIC */, &t); /* libc's vDSO pointer goes stale */
	return (double)t.sec * 1e6 + (double)t.nsec / 1e3;
}

static int bench_inplace(int iters)
{
	struct vk_rt_layout l;
	static struct vk_rt_plan there, back;
	struct vk_rt_result r;
	uint64_t lo, hi;
	CHECK_RC(vk_rt_read_layout(&l, NULL, 0), 0);
	block_of(&l, &lo, &hi);
	vk_rt_plan_init(&there);
	plan_move(&there, &l, find_free(hi - lo));
	vk_rt_plan_init(&back);
	plan_move(&back, &l, lo);
	double t0 = now_us();
	for (int i = 0; i < iters; i++) {
		CHECK_RC(vk_rt_apply(&there, &r), 0);
		vk_rt_glibc_i386_follow_vdso(there.vdso_addr - l.vdso.start);
		CHECK_RC(vk_rt_apply(&back, &r), 0);
		vk_rt_glibc_i386_follow_vdso(l.vdso.start - there.vdso_addr);
	}
	double t1 = now_us();
	printf("inplace_remap: %.2f us/op (%d ops, %u mappings each)\n", (t1 - t0) / (2.0 * iters),
	       2 * iters, r.nr_moved);
	return 0;
}

static int bench_proxy(int iters)
{
	struct vk_rt_layout l;
	struct vk_sym live[MAX_SYMS];
	static struct vk_rt_plan p;
	struct vk_rt_result r;
	uint64_t lo, hi;
	CHECK_RC(vk_rt_read_layout(&l, NULL, 0), 0);
	block_of(&l, &lo, &hi);
	size_t sz = l.vdso.end - l.vdso.start;
	int n = rt_elf_syms((const void *)(uintptr_t)l.vdso.start, sz, live, MAX_SYMS);
	CHECK(n > 0);
	void *px = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(px != MAP_FAILED);
	memcpy(px, (const void *)(uintptr_t)l.vdso.start, sz);
	CHECK_EQ_INT(mprotect(px, sz, PROT_READ | PROT_EXEC), 0);
	vk_rt_plan_init(&p);
	plan_move(&p, &l, lo);
	p.proxy_addr = (uint64_t)(uintptr_t)px;
	p.proxy_size = sz;
	p.flags = VK_RT_PLAN_MARK;
	p.orig_vdso_addr = p.proxy_addr;
	plan_tramps(&p, p.proxy_addr, live, n, p.vdso_addr, live, n);
	double t0 = now_us();
	for (int i = 0; i < iters; i++)
		CHECK_RC(vk_rt_apply(&p, &r), 0);
	double t1 = now_us();
	printf("proxy_apply: %.2f us/op (%d ops, %u trampolines + mark each)\n",
	       (t1 - t0) / iters, iters, r.nr_tramps);
	return 0;
}

static int iters_g = 2000;

static int run_inplace(void)
{
	return bench_inplace(iters_g);
}

static int run_proxy_b(void)
{
	return bench_proxy(iters_g);
}

static const struct rt_case cases[] = {
	{"inplace_remap", run_inplace},
	{"proxy_apply", run_proxy_b},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	if (argc > 1)
		iters_g = atoi(argv[1]) > 0 ? atoi(argv[1]) : iters_g;
	return rt_main(cases, 1, argv);
}
