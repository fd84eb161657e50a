/*
 * Raw syscalls for the runtime. The library may run before libc is set up
 * (or with libc's vDSO pointers pointing at a moved vDSO), so it never
 * calls libc: each syscall is one inline instruction.
 */
#ifndef VK_RT_SYS_H
#define VK_RT_SYS_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
#define VK_NR_read     0
#define VK_NR_close    3
#define VK_NR_mprotect 10
#define VK_NR_mremap   25
#define VK_NR_mincore  27
#define VK_NR_openat   257

static inline long vk_sys5(long n, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__i386__)
#define VK_NR_read     3
#define VK_NR_close    6
#define VK_NR_mprotect 125
#define VK_NR_mremap   163
#define VK_NR_mincore  218
#define VK_NR_openat   295

/* int $0x80 takes up to six arguments; five are enough here, which keeps
 * ebp free for the frame pointer. */
static inline long vk_sys5(long n, long a, long b, long c, long d, long e)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory");
	return ret;
}
#else
#error "vdsokit runtime supports x86_64 and i386 only"
#endif

#define VK_AT_FDCWD      (-100)
#define VK_O_RDONLY      0
#define VK_O_CLOEXEC     02000000
#define VK_PROT_READ     1
#define VK_PROT_WRITE    2
#define VK_PROT_EXEC     4
#define VK_MREMAP_MAYMOVE 1
#define VK_MREMAP_FIXED   2
#define VK_EINTR  4
#define VK_ENOMEM 12

static inline long vk_open_ro(const char *path)
{
	return vk_sys5(VK_NR_openat, VK_AT_FDCWD, (long)path, VK_O_RDONLY | VK_O_CLOEXEC, 0, 0);
}
static inline long vk_read(long fd, void *buf, size_t n)
{
	return vk_sys5(VK_NR_read, fd, (long)buf, (long)n, 0, 0);
}
static inline long vk_close(long fd)
{
	return vk_sys5(VK_NR_close, fd, 0, 0, 0, 0);
}
static inline long vk_mprotect(uint64_t addr, uint64_t len, long prot)
{
	return vk_sys5(VK_NR_mprotect, (long)(uintptr_t)addr, (long)len, prot, 0, 0);
}
/* 0 or -errno; the raw syscall returns the new address on success. */
static inline long vk_mremap_fixed(uint64_t old, uint64_t len, uint64_t dst)
{
	long r = vk_sys5(VK_NR_mremap, (long)(uintptr_t)old, (long)len, (long)len,
			 VK_MREMAP_MAYMOVE | VK_MREMAP_FIXED, (long)(uintptr_t)dst);
	if (r < 0 && r >= -4095)
		return r;
	return (uint64_t)(uintptr_t)r == dst ? 0 : -VK_ENOMEM;
}
static inline long vk_mincore(uint64_t addr, uint64_t len, unsigned char *vec)
{
	return vk_sys5(VK_NR_mincore, (long)(uintptr_t)addr, (long)len, (long)vec, 0, 0);
}

/* Read a whole file into buf; returns the length or -errno / VK_RT_E_NOSPACE. */
long vk_rt_read_file(const char *path, char *buf, size_t cap);

/* Internal maps walker, shared by the layout parser and the live probes. */
struct vk_rt_maps_line {
	uint64_t start, end;
	uint32_t prot;          /* VK_PROT_* from the perms column */
	const char *name;       /* name column, not NUL-terminated; may be empty */
	size_t name_len;
	int truncated;          /* the line was longer than the buffer */
};
typedef int (*vk_rt_maps_cb)(void *ctx, const struct vk_rt_maps_line *line);

int vk_rt_parse_maps_line(const char *s, size_t n, struct vk_rt_maps_line *out);
/* Streams /proc/self/maps through buf, calling cb per line; cb != 0 stops. */
int vk_rt_walk_self_maps(char *buf, size_t cap, vk_rt_maps_cb cb, void *ctx);

#endif
