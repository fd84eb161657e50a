/*
 * vdsoprobe: the project's own test program for real restores (tests/e2e/).
 *
 *   vdsoprobe OUTFILE [INTERVAL_MS]
 *
 * Calls every vDSO export a process can reach and compares each with the system call, so that a restore
 * that leaves one of them broken shows in the output (../shared/docs/real-restores.md §3: a proxy restore
 * leaves glibc clock_getres returning 0 ns). Static glibc (2.36 on Debian 12) reaches clock_gettime,
 * gettimeofday, time, getcpu and clock_getres through the vDSO; it never calls getrandom's vDSO entry, so
 * this program finds __vdso_getrandom in the mapped vDSO (AT_SYSINFO_EHDR) and calls it itself with a real
 * state, sized and mapped the way the vDSO asks for at opaque_len == ~0UL (its documented size query).
 *
 * Output: OUTFILE is opened once with O_APPEND (CRIU records no size for it, so any content restores).
 *   H pid=P uname=R vdso=0xADDR getrandom=present|absent state_size=N
 *   R n=N pid=P clock_gettime=V gettimeofday=V time=V getcpu=V clock_getres=V getrandom=V res_mono=S.NS
 *     sys_res_mono=S.NS res_rt=S.NS sys_res_rt=S.NS
 * once at start (H) and then one R line every INTERVAL_MS (default 100); V is ok, wrong or absent.
 * "ok" means: clock_gettime (MONOTONIC, REALTIME, BOOTTIME), gettimeofday and time lie between two system
 * calls made around them; getcpu returns 0 and the cpu/node one of those system calls saw; clock_getres
 * (MONOTONIC, REALTIME) equals the system call exactly; vDSO getrandom fills the whole buffer (return value
 * == length, not all zero) like the system call does.
 * The program makes itself a session leader (stdio is expected to be /dev/null or files), so CRIU needs no
 * --shell-job.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int outfd = -1;

static void out(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (n > 0 && write(outfd, buf, (size_t)n) != n)
		_exit(3);
}

/* The vDSO is an ELF image mapped by the kernel; its dynamic symbol table names the exports. */
static void *vdso_sym(uintptr_t base, const char *name)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	const Elf64_Sym *symtab = NULL;
	const char *strtab = NULL;
	const uint32_t *hash = NULL;
	uintptr_t load = 0;
	int have_load = 0;
	unsigned long i, n = 0;

	if (!base || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return NULL;
	ph = (const Elf64_Phdr *)(base + eh->e_phoff);
	for (i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !have_load) {
			load = base + ph[i].p_offset - ph[i].p_vaddr;
			have_load = 1;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const Elf64_Dyn *)(base + ph[i].p_offset);
		}
	}
	if (!dyn || !have_load)
		return NULL;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		if (dyn->d_tag == DT_SYMTAB)
			symtab = (const Elf64_Sym *)(load + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_STRTAB)
			strtab = (const char *)(load + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_HASH)
			hash = (const uint32_t *)(load + dyn->d_un.d_ptr);
	}
	if (!symtab || !strtab)
		return NULL;
	if (hash) {
		n = hash[1]; /* nchain == number of symbols */
	} else if (eh->e_shoff) {
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
		for (i = 0; i < eh->e_shnum; i++)
			if (sh[i].sh_type == SHT_DYNSYM && sh[i].sh_entsize)
				n = sh[i].sh_size / sh[i].sh_entsize;
	}
	for (i = 0; i < n; i++) {
		const Elf64_Sym *s = &symtab[i];
		if (s->st_shndx != SHN_UNDEF && s->st_name && strcmp(strtab + s->st_name, name) == 0)
			return (void *)(load + s->st_value);
	}
	return NULL;
}

/* __vdso_getrandom(buffer, len, flags, opaque_state, opaque_len); opaque_len == ~0UL asks for these. */
struct vgetrandom_params {
	uint32_t size_of_opaque_state;
	uint32_t mmap_prot;
	uint32_t mmap_flags;
	uint32_t reserved[13];
};
typedef ssize_t (*vgetrandom_fn)(void *, size_t, unsigned int, void *, size_t);

static vgetrandom_fn vgetrandom;
static void *rnd_state;
static size_t rnd_state_len;

static void setup_getrandom(uintptr_t base)
{
	struct vgetrandom_params p;
	long page = sysconf(_SC_PAGESIZE);
	size_t len;
	void *m;

	vgetrandom = (vgetrandom_fn)vdso_sym(base, "__vdso_getrandom");
	if (!vgetrandom)
		return;
	memset(&p, 0, sizeof(p));
	if (vgetrandom(NULL, 0, 0, &p, ~0UL) != 0 || p.size_of_opaque_state == 0) {
		vgetrandom = NULL;
		return;
	}
	len = ((size_t)p.size_of_opaque_state + (size_t)page - 1) & ~((size_t)page - 1);
	m = mmap(NULL, len, (int)p.mmap_prot, (int)p.mmap_flags, -1, 0);
	if (m == MAP_FAILED) {
		vgetrandom = NULL;
		return;
	}
	rnd_state = m;
	rnd_state_len = p.size_of_opaque_state;
}

static long long ns_of(const struct timespec *t) { return (long long)t->tv_sec * 1000000000LL + t->tv_nsec; }

static const char *verdict(int ok) { return ok ? "ok" : "wrong"; }

static int check_gettime(clockid_t id)
{
	struct timespec a, v, b;

	if (syscall(SYS_clock_gettime, id, &a) != 0 || clock_gettime(id, &v) != 0 ||
	    syscall(SYS_clock_gettime, id, &b) != 0)
		return 0;
	return ns_of(&a) <= ns_of(&v) && ns_of(&v) <= ns_of(&b);
}

static int check_gettimeofday(void)
{
	struct timeval a, v, b;

	if (syscall(SYS_gettimeofday, &a, NULL) != 0 || gettimeofday(&v, NULL) != 0 ||
	    syscall(SYS_gettimeofday, &b, NULL) != 0)
		return 0;
	long long la = a.tv_sec * 1000000LL + a.tv_usec, lv = v.tv_sec * 1000000LL + v.tv_usec,
		  lb = b.tv_sec * 1000000LL + b.tv_usec;
	return la <= lv && lv <= lb;
}

static int check_time(void)
{
	time_t a = (time_t)syscall(SYS_time, NULL), v = time(NULL), b = (time_t)syscall(SYS_time, NULL);
	return a <= v && v <= b;
}

static int check_getcpu(void)
{
	unsigned a_cpu = ~0u, a_node = ~0u, v_cpu = ~0u, v_node = ~0u, b_cpu = ~0u, b_node = ~0u;

	if (syscall(SYS_getcpu, &a_cpu, &a_node, NULL) != 0 || getcpu(&v_cpu, &v_node) != 0 ||
	    syscall(SYS_getcpu, &b_cpu, &b_node, NULL) != 0)
		return 0;
	return (v_cpu == a_cpu && v_node == a_node) || (v_cpu == b_cpu && v_node == b_node);
}

static int check_getres(clockid_t id, struct timespec *v, struct timespec *s)
{
	memset(v, 0xff, sizeof(*v));
	memset(s, 0xff, sizeof(*s));
	if (clock_getres(id, v) != 0 || syscall(SYS_clock_getres, id, s) != 0)
		return 0;
	return v->tv_sec == s->tv_sec && v->tv_nsec == s->tv_nsec;
}

static const char *check_getrandom(void)
{
	unsigned char v[32], s[32];
	size_t i, nonzero = 0;

	if (!vgetrandom)
		return "absent";
	memset(v, 0, sizeof(v));
	if (syscall(SYS_getrandom, s, sizeof(s), 0) != (long)sizeof(s))
		return "wrong";
	if (vgetrandom(v, sizeof(v), 0, rnd_state, rnd_state_len) != (ssize_t)sizeof(v))
		return "wrong";
	for (i = 0; i < sizeof(v); i++)
		nonzero |= v[i];
	return nonzero ? "ok" : "wrong";
}

int main(int argc, char **argv)
{
	struct utsname u;
	struct timespec slp;
	uintptr_t base;
	long interval_ms;
	unsigned long n;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: vdsoprobe OUTFILE [INTERVAL_MS]\n");
		return 2;
	}
	interval_ms = argc > 2 ? atol(argv[2]) : 100;
	if (interval_ms <= 0)
		interval_ms = 100;
	outfd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (outfd < 0) {
		perror(argv[1]);
		return 1;
	}
	(void)setsid();
	uname(&u);
	base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	setup_getrandom(base);
	out("H pid=%d uname=%s vdso=0x%lx getrandom=%s state_size=%zu\n", getpid(), u.release, (unsigned long)base,
	    vgetrandom ? "present" : "absent", rnd_state_len);

	for (n = 0;; n++) {
		struct timespec rm, srm, rr, srr;
		int gt = check_gettime(CLOCK_MONOTONIC) && check_gettime(CLOCK_REALTIME) &&
			 check_gettime(CLOCK_BOOTTIME);
		int tod = check_gettimeofday(), tm = check_time(), cpu = check_getcpu();
		int res = check_getres(CLOCK_MONOTONIC, &rm, &srm) & check_getres(CLOCK_REALTIME, &rr, &srr);
		const char *rnd = check_getrandom();

		out("R n=%lu pid=%d clock_gettime=%s gettimeofday=%s time=%s getcpu=%s clock_getres=%s getrandom=%s "
		    "res_mono=%ld.%09ld sys_res_mono=%ld.%09ld res_rt=%ld.%09ld sys_res_rt=%ld.%09ld\n",
		    n, getpid(), verdict(gt), verdict(tod), verdict(tm), verdict(cpu), verdict(res), rnd,
		    (long)rm.tv_sec, rm.tv_nsec, (long)srm.tv_sec, srm.tv_nsec, (long)rr.tv_sec, rr.tv_nsec,
		    (long)srr.tv_sec, srr.tv_nsec);

		slp.tv_sec = interval_ms / 1000;
		slp.tv_nsec = (interval_ms % 1000) * 1000000L;
		nanosleep(&slp, NULL);
	}
	return 0;
}
