/* Unit tests of the pure parts of vk_runtime: maps text of several kernel
 * generations, plan checks, the plan text form, trampoline and mark bytes. */
#include <vdsokit/runtime.h>

#include "rt_test.h"

/* Linux 6.18 (observed on the build host): [vvar] 4 + [vvar_vclock] 2 + [vdso] 2. */
static const char maps_618[] =
	"55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1835123                    /usr/bin/cat\n"
	"7f30f6800000-7f30f6828000 r--p 00000000 fd:01 1837000                    /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7f30f69f5000-7f30f69f9000 r--p 00000000 00:00 0                          [vvar]\n"
	"7f30f69f9000-7f30f69fb000 r--p 00000000 00:00 0                          [vvar_vclock]\n"
	"7f30f69fb000-7f30f69fd000 r-xp 00000000 00:00 0                          [vdso]\n"
	"7ffc1a2b3000-7ffc1a2d4000 rw-p 00000000 00:00 0                          [stack]\n";

/* Linux 5.10 / 6.1 / 6.12: [vvar] 4 pages directly below [vdso] 2 pages. */
static const char maps_510[] =
	"7ffd4a5e6000-7ffd4a607000 rw-p 00000000 00:00 0                          [stack]\n"
	"7ffd4a7f2000-7ffd4a7f6000 r--p 00000000 00:00 0                          [vvar]\n"
	"7ffd4a7f6000-7ffd4a7f8000 r-xp 00000000 00:00 0                          [vdso]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

/* Mid-2014 layout: [vdso] first, [vvar] right above it. */
static const char maps_vdso_first[] =
	"7fff5c1fe000-7fff5c200000 r-xp 00000000 00:00 0                          [vdso]\n"
	"7fff5c200000-7fff5c202000 r--p 00000000 00:00 0                          [vvar]\n";

/* Before 3.16: a single [vdso] zone, no [vvar]. */
static const char maps_pre316[] =
	"00400000-0040b000 r-xp 00000000 08:01 131                                /bin/cat\n"
	"7fff8d3ff000-7fff8d400000 r-xp 00000000 00:00 0                          [vdso]\n"
	"ffffffffff600000-ffffffffff601000 r-xp 00000000 00:00 0                  [vsyscall]\n";

static int parse(const char *s, struct vk_rt_layout *l)
{
	return vk_rt_parse_maps(s, strlen(s), l);
}

static int t_maps_618(void)
{
	struct vk_rt_layout l;
	CHECK_RC(parse(maps_618, &l), 0);
	CHECK(l.vvar.start == 0x7f30f69f5000ull && l.vvar.end == 0x7f30f69f9000ull);
	CHECK(l.vvar_vclock.start == 0x7f30f69f9000ull && l.vvar_vclock.end == 0x7f30f69fb000ull);
	CHECK(l.vdso.start == 0x7f30f69fb000ull && l.vdso.end == 0x7f30f69fd000ull);
	CHECK_EQ_INT(l.vdso_before_vvar, 0);
	CHECK_EQ_INT(l.nr_lines, 6);
	return 0;
}

static int t_maps_510(void)
{
	struct vk_rt_layout l;
	CHECK_RC(parse(maps_510, &l), 0); /* last line has no newline */
	CHECK(l.vvar.end - l.vvar.start == 4 * 4096);
	CHECK(l.vvar_vclock.start == 0 && l.vvar_vclock.end == 0);
	CHECK(l.vdso.start == 0x7ffd4a7f6000ull && l.vdso.end - l.vdso.start == 2 * 4096);
	CHECK_EQ_INT(l.vdso_before_vvar, 0);
	return 0;
}

static int t_maps_vdso_first(void)
{
	struct vk_rt_layout l;
	CHECK_RC(parse(maps_vdso_first, &l), 0);
	CHECK_EQ_INT(l.vdso_before_vvar, 1);
	CHECK(l.vvar.start == 0x7fff5c200000ull);
	return 0;
}

static int t_maps_pre316(void)
{
	struct vk_rt_layout l;
	CHECK_RC(parse(maps_pre316, &l), 0);
	CHECK(l.vvar.end == 0 && l.vvar_vclock.end == 0);
	CHECK(l.vdso.end - l.vdso.start == 4096);
	return 0;
}

static int t_maps_malformed(void)
{
	struct vk_rt_layout l;
	static const char *bad[] = {
		"garbage\n7f0000000000-7f0000002000 r-xp 00000000 00:00 0 [vdso]\n",
		"7f0000002000-7f0000000000 r-xp 00000000 00:00 0 [vdso]\n", /* end < start */
		"7f0000000000 7f0000002000 r-xp 00000000 00:00 0 [vdso]\n", /* no dash */
		"7f0000000000-7f0000002000 rzxp 00000000 00:00 0 [vdso]\n", /* bad perms */
		"7f0000000000-7f0000002000 r-xp 00000000 0000 0 [vdso]\n",  /* bad dev */
		"7f0000000000-7f0000002000 r-xp 00000000 00:00 x [vdso]\n", /* bad inode */
		"7f0000000000-7f0000002000 r-x\n",                          /* cut short */
		"117f0000000000000-117f0000000002000 r-xp 00000000 00:00 0 [vdso]\n", /* 17 digits */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &l);
		if (rc != VK_RT_E_MAPS_PARSE) {
			fprintf(stderr, "bad[%zu] gave %d (%s)\n", i, rc, vk_rt_strerror(rc));
			return 1;
		}
	}
	/* Structural errors. */
	CHECK_RC(parse("7f0000000000-7f0000002000 r-xp 00000000 00:00 0 [vdso]\n"
		       "7f0000004000-7f0000006000 r-xp 00000000 00:00 0 [vdso]\n", &l),
		 VK_RT_E_DUPLICATE);
	CHECK_RC(parse("7f0000000000-7f0000004000 r--p 00000000 00:00 0 [vvar]\n", &l),
		 VK_RT_E_NO_VDSO);
	CHECK_RC(parse("", &l), VK_RT_E_NO_VDSO);
	/* Gap between [vvar] and [vdso]. */
	CHECK_RC(parse("7f0000000000-7f0000004000 r--p 00000000 00:00 0 [vvar]\n"
		       "7f0000005000-7f0000007000 r-xp 00000000 00:00 0 [vdso]\n", &l),
		 VK_RT_E_LAYOUT);
	/* [vvar_vclock] must directly follow [vvar]. */
	CHECK_RC(parse("7f0000000000-7f0000002000 r--p 00000000 00:00 0 [vvar_vclock]\n"
		       "7f0000002000-7f0000006000 r--p 00000000 00:00 0 [vvar]\n"
		       "7f0000006000-7f0000008000 r-xp 00000000 00:00 0 [vdso]\n", &l),
		 VK_RT_E_LAYOUT);
	/* A path merely containing the name is an ordinary file, and blank
	 * lines and CRLF-free trailing whitespace-less text are fine. */
	CHECK_RC(parse("7e0000000000-7e0000001000 r--p 00000000 fd:01 42 /tmp/[vdso]\n\n"
		       "7f0000000000-7f0000002000 r-xp 00000000 00:00 0 [vdso]\n", &l),
		 0);
	CHECK(l.vdso.start == 0x7f0000000000ull);
	CHECK_RC(vk_rt_parse_maps(NULL, 0, &l), VK_RT_E_ARG);
	return 0;
}

/* The live reader must give the same answer with a tiny buffer, which
 * forces the long-line path on every file-backed line. */
static int t_read_layout_small_buffer(void)
{
	struct vk_rt_layout a, b;
	char small[128], big[8192];
	CHECK_RC(vk_rt_read_layout(&a, big, sizeof(big)), 0);
	CHECK_RC(vk_rt_read_layout(&b, small, sizeof(small)), 0);
	CHECK(memcmp(&a.vdso, &b.vdso, sizeof(a.vdso)) == 0);
	CHECK(memcmp(&a.vvar, &b.vvar, sizeof(a.vvar)) == 0);
	CHECK(memcmp(&a.vvar_vclock, &b.vvar_vclock, sizeof(a.vvar)) == 0);
	CHECK_EQ_INT(a.nr_lines, b.nr_lines);
	CHECK_RC(vk_rt_read_layout(&b, small, 16), VK_RT_E_NOSPACE);
	return 0;
}

/* A plan that moves the 6.18 layout of maps_618 up by 1 GiB. */
static void plan_618(struct vk_rt_plan *p, const struct vk_rt_layout *l)
{
	const uint64_t d = 1ull << 30;
	vk_rt_plan_init(p);
	p->vvar_addr = l->vvar.start + d;
	p->vvar_size = l->vvar.end - l->vvar.start;
	p->vclock_addr = l->vvar_vclock.start + d;
	p->vclock_size = l->vvar_vclock.end - l->vvar_vclock.start;
	p->vdso_addr = l->vdso.start + d;
	p->vdso_size = l->vdso.end - l->vdso.start;
	p->proxy_addr = 0x7f1000000000ull;
	p->proxy_size = 0x2000;
	p->flags = VK_RT_PLAN_MARK;
	p->orig_vdso_addr = p->proxy_addr;
	p->orig_vvar_addr = p->proxy_addr - 0x6000;
	p->nr_tramps = 2;
	p->tramps[0].from = p->proxy_addr + 0xaf0;
	p->tramps[0].to = p->vdso_addr + 0xaf0;
	strcpy(p->tramps[0].name, "__vdso_clock_gettime");
	p->tramps[1].from = p->proxy_addr + 0x810;
	p->tramps[1].to = p->vdso_addr + 0x810;
	p->nr_unresolved = 1;
	strcpy(p->unresolved[0], "__vdso_clock_gettime64");
}

static int t_check_plan(void)
{
	struct vk_rt_layout l618, l510, lpre, lfirst;
	struct vk_rt_plan p;
	CHECK_RC(parse(maps_618, &l618), 0);
	CHECK_RC(parse(maps_510, &l510), 0);
	CHECK_RC(parse(maps_pre316, &lpre), 0);
	CHECK_RC(parse(maps_vdso_first, &lfirst), 0);

	plan_618(&p, &l618);
	CHECK_RC(vk_rt_check_plan(&p, &l618), 0);
	/* A 6.18 plan on a 5.10 kernel: the vclock part does not exist. */
	CHECK_RC(vk_rt_check_plan(&p, &l510), VK_RT_E_SIZE_MISMATCH);
	/* Any vvar on a kernel without vvar (pre-3.16). */
	CHECK_RC(vk_rt_check_plan(&p, &lpre), VK_RT_E_NO_VVAR);
	/* A plan without vvar on a kernel that has one would strand it. */
	plan_618(&p, &l618);
	p.vvar_size = p.vclock_size = 0;
	CHECK_RC(vk_rt_check_plan(&p, &l618), VK_RT_E_SIZE_MISMATCH);
	/* vvar shifted differently from vdso. */
	plan_618(&p, &l618);
	p.vvar_addr += 0x1000;
	CHECK_RC(vk_rt_check_plan(&p, &l618), VK_RT_E_PLACEMENT);
	plan_618(&p, &l618);
	p.vclock_addr -= 0x2000;
	CHECK_RC(vk_rt_check_plan(&p, &l618), VK_RT_E_PLACEMENT);
	/* Misaligned target. */
	plan_618(&p, &l618);
	p.vdso_addr += 8;
	CHECK_RC(vk_rt_check_plan(&p, &l618), VK_RT_E_PLAN_INVALID);
	/* Trampoline running past the proxy end, or aimed outside the rt vDSO. */
	plan_618(&p, &l618);
	p.tramps[1].from = p.proxy_addr + p.proxy_size - 8;
	CHECK_RC(vk_rt_check_plan(&p, &l618), VK_RT_E_TRAMP_RANGE);
	plan_618(&p, &l618);
	p.tramps[1].to = p.vdso_addr - 1; /* CRIU's "rt_vdso - 1" for a missing symbol */
	CHECK_RC(vk_rt_check_plan(&p, &l618), VK_RT_E_TRAMP_RANGE);
	/* Two trampolines overlapping. */
	plan_618(&p, &l618);
	p.tramps[1].from = p.tramps[0].from + 8;
	CHECK_RC(vk_rt_check_plan(&p, &l618), VK_RT_E_PLAN_INVALID);
	/* i386 trampolines need 32-bit targets. */
	plan_618(&p, &l618);
	p.abi = VK_RT_ABI_I386;
	CHECK_RC(vk_rt_check_plan(&p, &l618), VK_RT_E_TRAMP_RANGE);
	plan_618(&p, &l618);
	p.abi = 9;
	CHECK_RC(vk_rt_check_plan(&p, &l618), VK_RT_E_PLAN_INVALID);
	plan_618(&p, &l618);
	p.nr_tramps = VK_RT_MAX_TRAMPS + 1;
	CHECK_RC(vk_rt_check_plan(&p, &l618), VK_RT_E_TOO_MANY);
	/* Proxy inside the target block. */
	plan_618(&p, &l618);
	p.proxy_addr = p.vvar_addr;
	CHECK_RC(vk_rt_check_plan(&p, &l618), VK_RT_E_PLAN_INVALID);

	/* 5.10 layout, no proxy: a pure in-place move. */
	vk_rt_plan_init(&p);
	p.vvar_addr = 0x7f0000000000ull;
	p.vvar_size = 0x4000;
	p.vdso_addr = 0x7f0000004000ull;
	p.vdso_size = 0x2000;
	CHECK_RC(vk_rt_check_plan(&p, &l510), 0);
	/* The same plan on a vdso-first kernel keeps sizes wrong and order wrong. */
	CHECK(vk_rt_check_plan(&p, &lfirst) != 0);
	/* vdso-first layout, vvar above it. */
	vk_rt_plan_init(&p);
	p.vdso_addr = 0x7f0000000000ull;
	p.vdso_size = 0x2000;
	p.vvar_addr = 0x7f0000002000ull;
	p.vvar_size = 0x2000;
	CHECK_RC(vk_rt_check_plan(&p, &lfirst), 0);
	/* Pre-3.16: vdso alone. */
	vk_rt_plan_init(&p);
	p.vdso_addr = 0x7f0000000000ull;
	p.vdso_size = 0x1000;
	CHECK_RC(vk_rt_check_plan(&p, &lpre), 0);
	p.vdso_size = 0x2000;
	CHECK_RC(vk_rt_check_plan(&p, &lpre), VK_RT_E_SIZE_MISMATCH);
	return 0;
}

/* A kernel without vvar (pre-3.16), simulated through maps text: any plan
 * that moves a vvar is refused with VK_RT_E_NO_VVAR, one without passes. */
static int t_no_vvar_kernel(void)
{
	struct vk_rt_layout l;
	struct vk_rt_plan p;
	CHECK_RC(parse(maps_pre316, &l), 0);
	vk_rt_plan_init(&p);
	p.vdso_addr = 0x7f0000004000ull;
	p.vdso_size = 0x1000;
	p.vvar_addr = 0x7f0000000000ull;
	p.vvar_size = 0x4000;
	CHECK_RC(vk_rt_check_plan(&p, &l), VK_RT_E_NO_VVAR);
	p.vclock_addr = 0x7f0000004000ull;
	p.vclock_size = 0x2000;
	p.vdso_addr = 0x7f0000006000ull;
	CHECK_RC(vk_rt_check_plan(&p, &l), VK_RT_E_NO_VVAR);
	p.vvar_size = p.vclock_size = 0;
	CHECK_RC(vk_rt_check_plan(&p, &l), 0);
	return 0;
}

static int t_plan_text_roundtrip(void)
{
	struct vk_rt_layout l;
	struct vk_rt_plan p, q;
	char buf[8192], small[64];
	int bad = -1;
	CHECK_RC(parse(maps_618, &l), 0);
	plan_618(&p, &l);
	long n = vk_rt_plan_format(&p, buf, sizeof(buf));
	CHECK(n > 0 && (size_t)n == strlen(buf));
	printf("%s", buf);
	CHECK_RC(vk_rt_plan_parse(buf, (size_t)n, &q, &bad), 0);
	CHECK(memcmp(&p, &q, sizeof(p)) == 0);
	CHECK_EQ_INT(vk_rt_plan_format(&p, small, sizeof(small)), VK_RT_E_NOSPACE);
	/* Without vvar, without mark: "none" and absent lines. */
	vk_rt_plan_init(&p);
	p.vdso_addr = 0x1000;
	p.vdso_size = 0x1000;
	p.flags = VK_RT_PLAN_MARK;
	p.orig_vdso_addr = 0x5000;
	n = vk_rt_plan_format(&p, buf, sizeof(buf));
	CHECK(n > 0 && strstr(buf, "mark 0x5000 none\n"));
	CHECK_RC(vk_rt_plan_parse(buf, (size_t)n, &q, &bad), 0);
	CHECK(memcmp(&p, &q, sizeof(p)) == 0);
	return 0;
}

static int t_plan_text_parse(void)
{
	struct vk_rt_plan p;
	int bad = 0;
	static const char ok[] =
		"# written by hand\n"
		"vdsokit-plan 1\n"
		"abi x86_64\n"
		"vvar 0x7f0000000000 0x4000   # 4 pages\n"
		"vvar_vclock 0x7f0000004000 8192\n"
		"vdso 0x7f0000006000 0x2000\n"
		"proxy 0x7f1000000000 0x2000\n"
		"mark 0x7f1000000000 none\n"
		"tramp __vdso_clock_gettime 0x7f1000000af0 -> 0x7f0000006af0\n"
		"tramp 0x7f1000000810 -> 0x7f0000006810\n"
		"unresolved __vdso_clock_gettime64\n"
		"end\n";
	CHECK_RC(vk_rt_plan_parse(ok, strlen(ok), &p, &bad), 0);
	CHECK(p.vclock_size == 0x2000 && p.vvar_size == 0x4000);
	CHECK(p.nr_tramps == 2 && strcmp(p.tramps[0].name, "__vdso_clock_gettime") == 0);
	CHECK(p.tramps[1].name[0] == 0 && p.tramps[1].to == 0x7f0000006810ull);
	CHECK(p.flags == VK_RT_PLAN_MARK && p.orig_vvar_addr == VK_RT_NO_ADDR);
	CHECK(p.nr_unresolved == 1);

	struct { const char *text; int line; } bads[] = {
		{"abi x86_64\nend\n", 1},                              /* no header */
		{"vdsokit-plan 2\nend\n", 1},                          /* wrong version */
		{"vdsokit-plan 1\nabi arm64\nend\n", 2},
		{"vdsokit-plan 1\nvdso 0x1000\nend\n", 2},             /* missing size */
		{"vdsokit-plan 1\nvdso 0x1000 0x1000 extra\nend\n", 2},
		{"vdsokit-plan 1\nvdso 0x1000 0x1000\nvdso 0x1000 0x1000\nend\n", 3},
		{"vdsokit-plan 1\nvdso 0x1000 0x1000\ntramp a 0x1 => 0x2\nend\n", 3},
		{"vdsokit-plan 1\nvdso 0x1000 0x1000\nfrob 1\nend\n", 3},
		{"vdsokit-plan 1\nvdso 0x1000 0x1000\n", 3},            /* truncated: no end */
		{"vdsokit-plan 1\nend\n", 3},                            /* no vdso line */
		{"vdsokit-plan 1\nvdso 0x1000 0x1000\nend\nvdso 1 1\n", 4}, /* after end */
		{"vdsokit-plan 1\nvdso 0x10000000000000000 0x1000\nend\n", 2},
		{"vdsokit-plan 1\nvdso 18446744073709551616 0x1000\nend\n", 2},
	};
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		int rc = vk_rt_plan_parse(bads[i].text, strlen(bads[i].text), &p, &bad);
		if (rc != VK_RT_E_PLAN_PARSE || bad != bads[i].line) {
			fprintf(stderr, "bads[%zu]: rc %d line %d, want line %d\n", i, rc, bad,
				bads[i].line);
			return 1;
		}
	}
	const char *maxv = "vdsokit-plan 1\nvdso 18446744073709551615 0\nend";
	CHECK_RC(vk_rt_plan_parse(maxv, strlen(maxv), &p, &bad), 0);
	CHECK(p.vdso_addr == ~0ull);
	return 0;
}

static int t_plan_load(void)
{
	char path[] = "/tmp/vk_rt_planXXXXXX", buf[4096];
	struct vk_rt_plan p;
	int bad, fd = mkstemp(path);
	CHECK(fd >= 0);
	const char *t = "vdsokit-plan 1\nvdso 0x7f0000000000 0x2000\nend\n";
	CHECK(write(fd, t, strlen(t)) == (ssize_t)strlen(t));
	close(fd);
	CHECK_RC(vk_rt_plan_load(path, buf, sizeof(buf), &p, &bad), 0);
	CHECK(p.vdso_addr == 0x7f0000000000ull);
	CHECK_RC(vk_rt_plan_load(path, buf, 8, &p, &bad), VK_RT_E_NOSPACE);
	unlink(path);
	CHECK_RC(vk_rt_plan_load(path, buf, sizeof(buf), &p, &bad), -2 /* ENOENT */);
	return 0;
}

static int t_tramp_bytes(void)
{
	uint8_t b[16];
	static const uint8_t want64[16] = {0x48, 0xb8, 0xf0, 0x0a, 0x00, 0x00, 0x00, 0x7f,
					   0x00, 0x00, 0xff, 0xe0, 0xcc, 0xcc, 0xcc, 0xcc};
	static const uint8_t want32[11] = {0xb8, 0xf0, 0x0a, 0x34, 0xf7, 0xff,
					   0xe0, 0xcc, 0xcc, 0xcc, 0xcc};
	CHECK_RC(vk_rt_encode_tramp(VK_RT_ABI_X86_64, 0x7f0000000af0ull, b, sizeof(b)), 16);
	CHECK(memcmp(b, want64, 16) == 0); /* the example of vdso-restore.md §6.4 */
	CHECK_RC(vk_rt_encode_tramp(VK_RT_ABI_I386, 0xf7340af0ull, b, sizeof(b)), 11);
	CHECK(memcmp(b, want32, 11) == 0);
	CHECK_RC(vk_rt_encode_tramp(VK_RT_ABI_I386, 0x100000000ull, b, sizeof(b)),
		 VK_RT_E_TRAMP_RANGE);
	CHECK_RC(vk_rt_encode_tramp(VK_RT_ABI_X86_64, 0, b, 15), VK_RT_E_NOSPACE);
	CHECK_RC(vk_rt_encode_tramp(0, 0, b, 16), VK_RT_E_ARG);
	return 0;
}

/* vk_rt_render_tramps: a plan's trampolines written into a copy of the proxy (what `vdsokit fixup`
 * then writes through /proc/PID/mem); all checks before any byte, so a refusal leaves the buffer. */
static int t_render_tramps(void)
{
	static struct vk_rt_plan p;
	static uint8_t buf[8192], zero[8192];
	uint8_t one[16];
	vk_rt_plan_init(&p);
	p.abi = VK_RT_ABI_X86_64;
	p.proxy_addr = 0x7fff00000000ull;
	p.proxy_size = sizeof(buf);
	p.nr_tramps = 2;
	p.tramps[0].from = p.proxy_addr + 0xb70;
	p.tramps[0].to = 0x37e80;
	p.tramps[1].from = p.proxy_addr + sizeof(buf) - 16; /* the last 16 bytes: still inside */
	p.tramps[1].to = 0x37810;
	CHECK_RC(vk_rt_render_tramps(&p, buf, sizeof(buf)), 2);
	CHECK_RC(vk_rt_encode_tramp(VK_RT_ABI_X86_64, 0x37e80, one, sizeof(one)), 16);
	CHECK(memcmp(buf + 0xb70, one, 16) == 0);
	CHECK_RC(vk_rt_encode_tramp(VK_RT_ABI_X86_64, 0x37810, one, sizeof(one)), 16);
	CHECK(memcmp(buf + sizeof(buf) - 16, one, 16) == 0);
	CHECK(memcmp(buf, zero, 0xb70) == 0);
	memset(buf, 0, sizeof(buf));
	p.tramps[1].from = p.proxy_addr + sizeof(buf) - 15; /* one byte past the end */
	CHECK_RC(vk_rt_render_tramps(&p, buf, sizeof(buf)), VK_RT_E_TRAMP_RANGE);
	CHECK(memcmp(buf, zero, sizeof(buf)) == 0);
	p.tramps[1].from = p.proxy_addr - 1;
	CHECK_RC(vk_rt_render_tramps(&p, buf, sizeof(buf)), VK_RT_E_TRAMP_RANGE);
	p.abi = VK_RT_ABI_I386;
	p.tramps[1].from = p.proxy_addr;
	p.tramps[1].to = 0x100000000ull;
	CHECK_RC(vk_rt_render_tramps(&p, buf, sizeof(buf)), VK_RT_E_TRAMP_RANGE);
	CHECK(memcmp(buf, zero, sizeof(buf)) == 0);
	CHECK_RC(vk_rt_render_tramps(0, buf, sizeof(buf)), VK_RT_E_ARG);
	return 0;
}

static int t_mark_bytes(void)
{
	uint8_t m[40];
	vk_rt_mark_encode(m, 0x7f0000006000ull, VK_RT_NO_ADDR, 0x7e0000000000ull);
	CHECK(memcmp(m, "CRIUvDSO", 8) == 0);
	CHECK(m[8] == 0x00 && m[9] == 0x60 && m[13] == 0x7f && m[14] == 0);
	CHECK(m[16] == 3 && m[17] == 0);
	for (int i = 24; i < 32; i++)
		CHECK(m[i] == 0xff);
	CHECK(m[36] == 0x00 && m[37] == 0x7e);
	return 0;
}

static int t_strerror(void)
{
	for (int c = VK_RT_E_ARG; c <= VK_RT_E_OCCUPIED; c++)
		CHECK(strcmp(vk_rt_strerror(c), "unknown") != 0);
	CHECK(strncmp(vk_rt_strerror(VK_RT_E_OCCUPIED), "VK_RT_E_OCCUPIED", 16) == 0);
	CHECK(strcmp(vk_rt_strerror(0), "OK") == 0);
	CHECK(strcmp(vk_rt_strerror(-22), "EINVAL") == 0);
	CHECK(strcmp(vk_rt_strerror(-99999), "unknown") == 0);
	for (uint32_t k = VK_RT_STEP_READ_MAPS; k <= VK_RT_STEP_UNDO_VVAR; k++)
		CHECK(strcmp(vk_rt_step_name(k), "unknown") != 0);
	return 0;
}

static const struct rt_case cases[] = {
	{"maps_618", t_maps_618},
	{"maps_510", t_maps_510},
	{"maps_vdso_first", t_maps_vdso_first},
	{"maps_pre316", t_maps_pre316},
	{"maps_malformed", t_maps_malformed},
	{"read_layout_small_buffer", t_read_layout_small_buffer},
	{"check_plan", t_check_plan},
	{"no_vvar_kernel", t_no_vvar_kernel},
	{"plan_text_roundtrip", t_plan_text_roundtrip},
	{"plan_text_parse", t_plan_text_parse},
	{"plan_load", t_plan_load},
	{"tramp_bytes", t_tramp_bytes},
	{"render_tramps", t_render_tramps},
	{"mark_bytes", t_mark_bytes},
	{"strerror", t_strerror},
	{NULL, NULL},
};

int main(int argc, char **argv)
{
	return rt_main(cases, argc, argv);
}
