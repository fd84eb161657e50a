/* Live tests of vk_runtime on the running kernel: moving the real
 * [vvar]/[vvar_vclock]/[vdso], proxy trampolines, the V3 mark, and the
 * refusals. Every case runs in a forked child (rt_test.h). */
#include "live_common.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

/* The mark as seen from outside: run the proxy scenario (with a move) in
 * a child, then read its rt vDSO through /proc/PID/mem. */
static int t_mark(void)
{
	int fds[2];
	CHECK_EQ_INT(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		struct vk_rt_layout l;
		if (vk_rt_read_layout(&l, NULL, 0))
			_exit(1);
		size_t sz = l.vdso.end - l.vdso.start;
		void *copy = malloc(sz);
		memcpy(copy, (const void *)(uintptr_t)l.vdso.start, sz);
		_exit(run_proxy(copy, sz, 1, fds[1]));
	}
	close(fds[1]);
	struct mark_report m;
	ssize_t got = read(fds[0], &m, sizeof(m));
	int rc = 1;
	if (got == (ssize_t)sizeof(m)) {
		char path[64];
		uint8_t b[40];
		uint64_t w[5];
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
		int fd = open(path, O_RDONLY);
		if (fd >= 0 && pread(fd, b, sizeof(b), (off_t)m.rt_vdso) == (ssize_t)sizeof(b)) {
			for (int i = 0; i < 5; i++) {
				w[i] = 0;
				for (int k = 7; k >= 0; k--)
					w[i] = (w[i] << 8) | b[i * 8 + k]; /* little endian */
			}
			fprintf(stderr, "mark: %016llx %#llx %llu %#llx %#llx\n",
				(unsigned long long)w[0], (unsigned long long)w[1],
				(unsigned long long)w[2], (unsigned long long)w[3],
				(unsigned long long)w[4]);
			rc = !(memcmp(b, "CRIUvDSO", 8) == 0 && w[0] == VK_RT_MARK_SIGNATURE &&
			       w[1] == m.orig_vdso && w[2] == 3 && w[3] == VK_RT_NO_ADDR &&
			       w[4] == m.rt_vvar);
		} else {
			perror("read /proc/PID/mem");
		}
		if (fd >= 0)
			close(fd);
	} else {
		fprintf(stderr, "child sent no mark report\n");
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return rc;
}

static int layout_same(const struct vk_rt_layout *a, const struct vk_rt_layout *b)
{
	return memcmp(&a->vvar, &b->vvar, 3 * sizeof(a->vvar)) == 0;
}

/* libc still reaches the vDSO where it was: nothing moved for good. */
static int libc_time_ok(void)
{
	struct timespec ts;
	return clock_gettime(CLOCK_MONOTONIC, &ts) == 0 && ts.tv_sec + ts.tv_nsec > 0;
}

static int t_occupied(void)
{
	struct vk_rt_layout l, l2;
	static struct vk_rt_plan p;
	struct vk_rt_result r;
	uint64_t lo, hi;
	unsigned char vec;

	CHECK_RC(vk_rt_read_layout(&l, NULL, 0), 0);
	block_of(&l, &lo, &hi);
	uint64_t base = find_free(hi - lo);
	/* Something already lives at the last page of the target block. */
	void *blk = mmap((void *)(uintptr_t)(base + (hi - lo) - PG), PG, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(blk != MAP_FAILED);
	vk_rt_plan_init(&p);
	plan_move(&p, &l, base);
	CHECK_RC(vk_rt_apply(&p, &r), VK_RT_E_OCCUPIED);
	CHECK_EQ_INT(r.nr_moved, 0);
	CHECK_EQ_INT(mincore(blk, PG, &vec), 0); /* not clobbered by MREMAP_FIXED */
	/* A target overlapping the live block itself is occupied too. */
	vk_rt_plan_init(&p);
	plan_move(&p, &l, lo + PG);
	CHECK_RC(vk_rt_apply(&p, &r), VK_RT_E_OCCUPIED);
	CHECK_RC(vk_rt_read_layout(&l2, NULL, 0), 0);
	CHECK(layout_same(&l, &l2));
	CHECK(libc_time_ok());
	return 0;
}

static int t_no_mapping(void)
{
	struct vk_rt_layout l, l2;
	static struct vk_rt_plan p;
	struct vk_rt_result r;
	uint64_t lo, hi;

	CHECK_RC(vk_rt_read_layout(&l, NULL, 0), 0);
	block_of(&l, &lo, &hi);
	uint64_t base = find_free(hi - lo + 4 * PG);
	vk_rt_plan_init(&p);
	plan_move(&p, &l, base);
	/* The proxy the plan patches does not exist (free range past the target). */
	p.proxy_addr = base + (hi - lo) + PG;
	p.proxy_size = 2 * PG;
	p.nr_tramps = 1;
	p.tramps[0].from = p.proxy_addr + 0x100;
	p.tramps[0].to = p.vdso_addr + 0x100;
	CHECK_RC(vk_rt_apply(&p, &r), VK_RT_E_NO_MAPPING);
	CHECK_EQ_INT(r.nr_moved, 0);
	CHECK_RC(vk_rt_read_layout(&l2, NULL, 0), 0);
	CHECK(layout_same(&l, &l2));
	CHECK(libc_time_ok());
	return 0;
}

static int t_size_mismatch(void)
{
	struct vk_rt_layout l;
	static struct vk_rt_plan p;
	struct vk_rt_result r;
	uint64_t lo, hi;

	CHECK_RC(vk_rt_read_layout(&l, NULL, 0), 0);
	block_of(&l, &lo, &hi);
	uint64_t base = find_free(hi - lo + 2 * PG);
	vk_rt_plan_init(&p);
	plan_move(&p, &l, base);
	p.vdso_size += PG;
	CHECK_RC(vk_rt_apply(&p, &r), VK_RT_E_SIZE_MISMATCH);
	if (l.vvar_vclock.end) {
		/* A pre-6.13 plan (vvar without vclock) on this kernel. */
		vk_rt_plan_init(&p);
		plan_move(&p, &l, base);
		p.vclock_addr = p.vclock_size = 0;
		CHECK_RC(vk_rt_apply(&p, &r), VK_RT_E_SIZE_MISMATCH);
	}
	CHECK_EQ_INT(r.nr_moved, 0);
	CHECK(libc_time_ok());
	return 0;
}

/* A step after the moves fails (the proxy is a read-only shared file
 * mapping, so mprotect(PROT_WRITE) gives EACCES): the moves are undone. */
static int t_rollback(void)
{
	struct vk_rt_layout l, l2;
	static struct vk_rt_plan p;
	struct vk_rt_result r;
	uint64_t lo, hi;
	char path[] = "/tmp/vk_rt_proxyXXXXXX";
	static uint8_t page[2 * PG];

	CHECK_RC(vk_rt_read_layout(&l, NULL, 0), 0);
	block_of(&l, &lo, &hi);
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	memset(page, 0x90, sizeof(page));
	CHECK(write(fd, page, sizeof(page)) == (ssize_t)sizeof(page));
	close(fd);
	fd = open(path, O_RDONLY);
	unlink(path);
	CHECK(fd >= 0);
	void *px = mmap(NULL, sizeof(page), PROT_READ, MAP_SHARED, fd, 0);
	CHECK(px != MAP_FAILED);

	vk_rt_plan_init(&p);
	plan_move(&p, &l, find_free(hi - lo));
	p.proxy_addr = (uint64_t)(uintptr_t)px;
	p.proxy_size = sizeof(page);
	p.nr_tramps = 1;
	p.tramps[0].from = p.proxy_addr + 0x40;
	p.tramps[0].to = p.vdso_addr + 0x40;
	p.flags = VK_RT_PLAN_MARK;
	p.orig_vdso_addr = p.proxy_addr;
	int rc = vk_rt_apply(&p, &r);
	log_result(&r);
	CHECK_RC(rc, -EACCES);
	CHECK_EQ_INT(r.rolled_back, 1);
	CHECK_EQ_INT(r.nr_moved, 0);
	CHECK_EQ_INT(r.mark_written, 0);
	CHECK_RC(vk_rt_read_layout(&l2, NULL, 0), 0);
	CHECK(layout_same(&l, &l2));
	CHECK(memcmp(px, page, sizeof(page)) == 0);
	CHECK(libc_time_ok()); /* would fault if the vDSO had stayed moved */
	return 0;
}

static const struct rt_case cases[] = {
	{"inplace", t_inplace},
	{"proxy", t_proxy},
	{"proxy_moved", t_proxy_moved},
	{"mark", t_mark},
	{"occupied", t_occupied},
	{"no_mapping", t_no_mapping},
	{"size_mismatch", t_size_mismatch},
	{"rollback", t_rollback},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return rt_main(cases, argc, argv);
}
