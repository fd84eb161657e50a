/* Freestanding helpers: byte functions, error names, whole-file read. */
#include "vdsokit/runtime.h"
#include "rt_sys.h"

/*
 * Plain loops. The build passes -fno-tree-loop-distribute-patterns so gcc
 * cannot turn these back into calls to the libc memcpy/memset we avoid.
 */
void *vk_rt_memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}

void *vk_rt_memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int vk_rt_memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

size_t vk_rt_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

const char *vk_rt_strerror(int code)
{
	/* A switch rather than a pointer table: a table of pointers needs
	 * load-time relocations, which a position-independent blob copied
	 * into a restorer would not get. */
	switch (code) {
	case 0: return "OK";
	case VK_RT_E_OCCUPIED: return "VK_RT_E_OCCUPIED: target range already mapped";
	case VK_RT_E_NO_MAPPING: return "VK_RT_E_NO_MAPPING: required range not mapped";
	case VK_RT_E_NO_VDSO: return "VK_RT_E_NO_VDSO: no [vdso] in maps";
	case VK_RT_E_NO_VVAR: return "VK_RT_E_NO_VVAR: plan moves a vvar the kernel lacks";
	case VK_RT_E_SIZE_MISMATCH: return "VK_RT_E_SIZE_MISMATCH: plan sizes differ from live mappings";
	case VK_RT_E_PLAN_INVALID: return "VK_RT_E_PLAN_INVALID: inconsistent plan";
	case VK_RT_E_PLACEMENT: return "VK_RT_E_PLACEMENT: plan changes vvar/vdso relative placement";
	case VK_RT_E_DUPLICATE: return "VK_RT_E_DUPLICATE: special mapping listed twice";
	case VK_RT_E_LAYOUT: return "VK_RT_E_LAYOUT: vvar/vclock/vdso not contiguous";
	case VK_RT_E_MAPS_PARSE: return "VK_RT_E_MAPS_PARSE: malformed maps line";
	case VK_RT_E_TRAMP_RANGE: return "VK_RT_E_TRAMP_RANGE: trampoline outside proxy or runtime vDSO";
	case VK_RT_E_NOSPACE: return "VK_RT_E_NOSPACE: buffer too small";
	case VK_RT_E_PLAN_PARSE: return "VK_RT_E_PLAN_PARSE: bad plan line";
	case VK_RT_E_TOO_MANY: return "VK_RT_E_TOO_MANY: fixed capacity exceeded";
	case VK_RT_E_ROLLBACK: return "VK_RT_E_ROLLBACK: undo after failure failed";
	case VK_RT_E_ARG: return "VK_RT_E_ARG: bad argument";
	case -1: return "EPERM";
	case -2: return "ENOENT";
	case -4: return "EINTR";
	case -9: return "EBADF";
	case -12: return "ENOMEM";
	case -13: return "EACCES";
	case -14: return "EFAULT";
	case -16: return "EBUSY";
	case -17: return "EEXIST";
	case -22: return "EINVAL";
	case -24: return "EMFILE";
	case -28: return "ENOSPC";
	case -38: return "ENOSYS";
	default: return "unknown";
	}
}

const char *vk_rt_step_name(uint32_t kind)
{
	switch (kind) {
	case VK_RT_STEP_READ_MAPS: return "read_maps";
	case VK_RT_STEP_CHECK_PLAN: return "check_plan";
	case VK_RT_STEP_PROBE: return "probe";
	case VK_RT_STEP_MOVE_VVAR: return "move_vvar";
	case VK_RT_STEP_MOVE_VCLOCK: return "move_vvar_vclock";
	case VK_RT_STEP_MOVE_VDSO: return "move_vdso";
	case VK_RT_STEP_TRAMPS: return "trampolines";
	case VK_RT_STEP_MARK: return "mark";
	case VK_RT_STEP_UNDO_TRAMPS: return "undo_trampolines";
	case VK_RT_STEP_UNDO_VDSO: return "undo_vdso";
	case VK_RT_STEP_UNDO_VCLOCK: return "undo_vvar_vclock";
	case VK_RT_STEP_UNDO_VVAR: return "undo_vvar";
	default: return "unknown";
	}
}

long vk_rt_read_file(const char *path, char *buf, size_t cap)
{
	long fd = vk_open_ro(path);
	size_t len = 0;
	if (fd < 0)
		return fd;
	for (;;) {
		long n;
		if (len == cap) {
			vk_close(fd);
			return VK_RT_E_NOSPACE;
		}
		n = vk_read(fd, buf + len, cap - len);
		if (n == -VK_EINTR)
			continue;
		if (n < 0) {
			vk_close(fd);
			return n;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	vk_close(fd);
	return (long)len;
}
