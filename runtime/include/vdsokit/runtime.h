/*
 * vdsokit runtime: a freestanding restore-time library.
 *
 * It runs inside a process being restored, possibly before libc exists,
 * so it uses no libc, no heap and no global state: every function works
 * on caller-provided memory and talks to the kernel through raw syscalls.
 *
 * Three jobs, matching docs/vdso-restore.md:
 *   - find the kernel's [vvar], [vvar_vclock] and [vdso] (§4.1);
 *   - move them to planned addresses with mremap (§6.3 in-place remap);
 *   - patch a proxy vDSO with jump trampolines and mark the runtime
 *     vDSO with a CRIU V3 mark (§6.4, §5).
 *
 * Every entry point returns 0 (or a length) on success and a negative
 * code on failure: either -errno from a syscall or one of VK_RT_E_*.
 */
#ifndef VDSOKIT_RUNTIME_H
#define VDSOKIT_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error codes ------------------------------------------------------ */

/* Own codes sit below -4095 so they never collide with -errno values. */
#define VK_RT_E_BASE 4096
enum {
	VK_RT_E_OCCUPIED      = -(VK_RT_E_BASE + 1), /* a target range is already mapped */
	VK_RT_E_NO_MAPPING    = -(VK_RT_E_BASE + 2), /* a range the plan relies on is not mapped */
	VK_RT_E_NO_VDSO       = -(VK_RT_E_BASE + 3), /* maps have no [vdso] */
	VK_RT_E_NO_VVAR       = -(VK_RT_E_BASE + 4), /* plan moves a vvar the kernel does not have */
	VK_RT_E_SIZE_MISMATCH = -(VK_RT_E_BASE + 5), /* plan sizes differ from the live mappings */
	VK_RT_E_PLAN_INVALID  = -(VK_RT_E_BASE + 6), /* plan is inconsistent in itself */
	VK_RT_E_PLACEMENT     = -(VK_RT_E_BASE + 7), /* plan does not keep vvar/vdso distances */
	VK_RT_E_DUPLICATE     = -(VK_RT_E_BASE + 8), /* a special mapping appears twice */
	VK_RT_E_LAYOUT        = -(VK_RT_E_BASE + 9), /* vvar/vclock/vdso not contiguous */
	VK_RT_E_MAPS_PARSE    = -(VK_RT_E_BASE + 10), /* malformed /proc/<pid>/maps line */
	VK_RT_E_TRAMP_RANGE   = -(VK_RT_E_BASE + 11), /* trampoline source/target out of range */
	VK_RT_E_NOSPACE       = -(VK_RT_E_BASE + 12), /* output buffer too small */
	VK_RT_E_PLAN_PARSE    = -(VK_RT_E_BASE + 13), /* plan text has a bad line */
	VK_RT_E_TOO_MANY      = -(VK_RT_E_BASE + 14), /* capacity of a fixed array exceeded */
	VK_RT_E_ROLLBACK      = -(VK_RT_E_BASE + 15), /* undoing a failed step failed too */
	VK_RT_E_ARG           = -(VK_RT_E_BASE + 16), /* NULL pointer or bad argument */
};

/* Name of a code: own codes, common errnos, "OK" for 0, "unknown" else. */
const char *vk_rt_strerror(int code);

/* ---- live layout ------------------------------------------------------ */

#define VK_RT_PAGE 4096u

/* Half-open [start, end); start == end == 0 means "absent". */
struct vk_rt_range {
	uint64_t start;
	uint64_t end;
};

struct vk_rt_layout {
	struct vk_rt_range vvar;        /* [vvar] alone, without the vclock part */
	struct vk_rt_range vvar_vclock; /* [vvar_vclock] (Linux >= 6.13) */
	struct vk_rt_range vdso;        /* [vdso] */
	uint32_t vdso_before_vvar;      /* 1 when [vdso] is below [vvar] */
	uint32_t nr_lines;              /* maps lines seen, for diagnostics */
};

/*
 * Parse maps text (the format of /proc/<pid>/maps) held in a buffer.
 * Pure: no syscalls, so tests can feed layouts of other kernels.
 * Checks (§4.1): at most one of each name, [vdso] present,
 * [vvar_vclock] directly after [vvar], the vvar block touching [vdso].
 */
int vk_rt_parse_maps(const char *text, size_t len, struct vk_rt_layout *out);

/*
 * Read /proc/self/maps with raw open/read and parse it. buf/cap is the
 * scratch line buffer; with buf == NULL a 512-byte stack buffer is used.
 * Lines longer than the buffer are handled (their tail is skipped).
 */
int vk_rt_read_layout(struct vk_rt_layout *out, char *buf, size_t cap);

/* ---- plan ------------------------------------------------------------- */

#define VK_RT_MAX_TRAMPS     64
#define VK_RT_MAX_UNRESOLVED 32
#define VK_RT_NAME_MAX       64

enum vk_rt_abi {
	VK_RT_ABI_X86_64 = 1, /* 16-byte trampoline: movabs rax; jmp *rax; int3 x4 */
	VK_RT_ABI_I386   = 2, /* 11-byte trampoline: mov eax; jmp *eax; int3 x4 */
};

enum {
	VK_RT_PLAN_MARK = 1u << 0, /* write the V3 mark into the runtime vDSO */
};

struct vk_rt_tramp {
	uint64_t from;              /* old entry, inside the proxy */
	uint64_t to;                /* new entry, inside the runtime vDSO after the move */
	char name[VK_RT_NAME_MAX];  /* optional, NUL-terminated, for logs */
};

/*
 * What to do. Sizes must equal the live mappings (the kernel refuses
 * partial moves of special mappings). A size of 0 means "the kernel has
 * no such mapping". All addresses are absolute and page aligned, except
 * trampoline ends.
 */
struct vk_rt_plan {
	uint32_t abi;               /* enum vk_rt_abi */
	uint32_t flags;             /* VK_RT_PLAN_* */
	uint64_t vvar_addr, vvar_size;     /* target of [vvar] */
	uint64_t vclock_addr, vclock_size; /* target of [vvar_vclock] */
	uint64_t vdso_addr, vdso_size;     /* target of [vdso] (the runtime vDSO) */
	uint64_t proxy_addr, proxy_size;   /* the old vDSO bytes to patch; 0 = none */
	uint64_t orig_vdso_addr;    /* mark field; usually proxy_addr */
	uint64_t orig_vvar_addr;    /* mark field; ~0 when the image had no vvar */
	uint32_t nr_tramps;
	uint32_t nr_unresolved;
	struct vk_rt_tramp tramps[VK_RT_MAX_TRAMPS];
	/* Exported by the old vDSO, missing in the new one: left unpatched. */
	char unresolved[VK_RT_MAX_UNRESOLVED][VK_RT_NAME_MAX];
};

/* Zero a plan and set the fields whose neutral value is not 0. */
void vk_rt_plan_init(struct vk_rt_plan *plan);

/*
 * Check a plan against a layout without touching memory: sizes, order
 * and distances of vvar/vclock/vdso, trampoline ranges. Pure.
 */
int vk_rt_check_plan(const struct vk_rt_plan *plan, const struct vk_rt_layout *live);

/*
 * Plan text form (docs/runtime-plan.md). Both are pure.
 * parse: on error *bad_line (if not NULL) gets the 1-based line number.
 * format: returns the length written (a NUL follows) or VK_RT_E_NOSPACE.
 */
int vk_rt_plan_parse(const char *text, size_t len, struct vk_rt_plan *out, int *bad_line);
long vk_rt_plan_format(const struct vk_rt_plan *plan, char *buf, size_t cap);

/* Read a plan file with raw syscalls into buf, then parse it. */
int vk_rt_plan_load(const char *path, char *buf, size_t cap, struct vk_rt_plan *out,
		    int *bad_line);

/* ---- result ----------------------------------------------------------- */

enum vk_rt_step_kind {
	VK_RT_STEP_READ_MAPS = 1,
	VK_RT_STEP_CHECK_PLAN,
	VK_RT_STEP_PROBE,       /* target ranges free? proxy range mapped? */
	VK_RT_STEP_MOVE_VVAR,
	VK_RT_STEP_MOVE_VCLOCK,
	VK_RT_STEP_MOVE_VDSO,
	VK_RT_STEP_TRAMPS,
	VK_RT_STEP_MARK,
	VK_RT_STEP_UNDO_TRAMPS,
	VK_RT_STEP_UNDO_VDSO,
	VK_RT_STEP_UNDO_VCLOCK,
	VK_RT_STEP_UNDO_VVAR,
};

#define VK_RT_MAX_STEPS 16

struct vk_rt_step {
	uint32_t kind;   /* enum vk_rt_step_kind */
	int32_t code;    /* 0 or a negative code */
	uint64_t from;   /* source address (move) or first address written */
	uint64_t to;     /* destination address, 0 if not a move */
	uint64_t len;
};

struct vk_rt_result {
	int32_t code;            /* final code, same as the return value */
	uint32_t nr_moved;       /* mappings moved and left moved */
	uint32_t nr_tramps;      /* trampolines written and left written */
	uint32_t nr_unresolved;  /* copied from the plan, for the log */
	uint32_t mark_written;
	uint32_t rolled_back;    /* 1 when a failure undid earlier steps */
	uint32_t nr_steps;
	uint32_t pad;
	struct vk_rt_layout before;
	struct vk_rt_layout after; /* expected layout when code == 0 */
	struct vk_rt_step steps[VK_RT_MAX_STEPS];
};

const char *vk_rt_step_name(uint32_t kind);

/* ---- execution -------------------------------------------------------- */

/*
 * Execute a plan on the calling process:
 *   read maps -> check plan -> probe targets and proxy -> move vvar,
 *   vclock, vdso -> write trampolines -> write mark.
 * Targets must be unmapped (VK_RT_E_OCCUPIED otherwise; the caller
 * unmaps what it wants replaced). On any failure after the first change
 * everything done so far is undone in reverse order.
 * res may be NULL.
 */
int vk_rt_apply(const struct vk_rt_plan *plan, struct vk_rt_result *res);

/*
 * Encode one trampoline jumping to target. Returns its length (16 or 11)
 * or a negative code (i386 target above 4 GiB, cap too small).
 */
int vk_rt_encode_tramp(uint32_t abi, uint64_t target, uint8_t *out, size_t cap);

/*
 * Write every trampoline of a plan into buf, a copy of the proxy's bytes (buf[0] is proxy_addr,
 * len bytes). Pure: the caller decides how the bytes reach the process (vk_rt_apply writes the
 * proxy itself, `vdsokit fixup` writes a copy through /proc/PID/mem). Every trampoline must lie
 * inside [proxy_addr, proxy_addr + len). Returns the number written or a negative code; on error
 * nothing has been written.
 */
int vk_rt_render_tramps(const struct vk_rt_plan *plan, uint8_t *buf, uint64_t len);

/* Trampoline length for an abi, 0 if unknown. */
uint32_t vk_rt_tramp_len(uint32_t abi);

/* The CRIU V3 vDSO mark, §5.2: five little-endian u64 words. */
#define VK_RT_MARK_SIGNATURE 0x4f53447655495243ull /* "CRIUvDSO" */
#define VK_RT_MARK_VERSION   3u
#define VK_RT_MARK_SIZE      40u
#define VK_RT_NO_ADDR        (~(uint64_t)0)

/* Fill a 40-byte mark image (pure). */
void vk_rt_mark_encode(uint8_t out[40], uint64_t orig_vdso, uint64_t orig_vvar,
		       uint64_t rt_vvar);

/*
 * Write the mark at rt_vdso (offset 0), making the whole vDSO VMA
 * (vdso_size bytes) RW for the duration and R|X afterwards (§5.1); the
 * kernel refuses to split a special mapping, so one page is not enough.
 */
int vk_rt_write_mark(uint64_t rt_vdso, uint64_t vdso_size, uint64_t orig_vdso,
		     uint64_t orig_vvar, uint64_t rt_vvar);

/* ---- freestanding helpers (exported because tests use them too) ------- */

void *vk_rt_memcpy(void *dst, const void *src, size_t n);
void *vk_rt_memset(void *dst, int c, size_t n);
int vk_rt_memcmp(const void *a, const void *b, size_t n);
size_t vk_rt_strlen(const char *s);

/*
 * i386 glibc enters the kernel through __kernel_vsyscall, whose address it caches in the thread
 * control block (tcbhead_t.sysinfo at %gs:0x10). After the vDSO moved by `delta`, the caller must
 * shift that cached address too, or the next libc syscall jumps into the old, unmapped place. The
 * runtime itself uses int $0x80 and needs no fix. A no-op on x86_64. glibc-specific by nature.
 */
static inline void vk_rt_glibc_i386_follow_vdso(uint64_t delta)
{
#if defined(__i386__)
	unsigned long v;
	__asm__ volatile("movl %%gs:0x10, %0" : "=r"(v));
	v += (unsigned long)delta;
	__asm__ volatile("movl %0, %%gs:0x10" : : "r"(v) : "memory");
#else
	(void)delta;
#endif
}

#ifdef __cplusplus
}
#endif

#endif /* VDSOKIT_RUNTIME_H */
