/*
 * Executing a plan: move the special mappings (vdso-restore.md §6.3),
 * patch the proxy (§6.4) and mark the runtime vDSO (§5).
 */
#include "vdsokit/runtime.h"
#include "rt_sys.h"

#define VK_RT_MAX_PROXY_PAGES 16
#define TRAMP_MAX 16

static void put_le(uint8_t *p, uint64_t v, int n)
{
	int i;
	for (i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

int vk_rt_encode_tramp(uint32_t abi, uint64_t target, uint8_t *out, size_t cap)
{
	uint32_t len = vk_rt_tramp_len(abi);
	uint8_t *p = out;
	if (!len || !out)
		return VK_RT_E_ARG;
	if (cap < len)
		return VK_RT_E_NOSPACE;
	if (abi == VK_RT_ABI_X86_64) {
		/* movabs $target, %rax; jmp *%rax (§6.4). rax is free to clobber:
		 * it is caller-saved and holds no argument in the SysV ABI. */
		*p++ = 0x48;
		*p++ = 0xb8;
		put_le(p, target, 8);
		p += 8;
	} else {
		/* mov $target, %eax; jmp *%eax. eax carries no argument in the
		 * i386 cdecl calls the vDSO exports. */
		if (target >> 32)
			return VK_RT_E_TRAMP_RANGE;
		*p++ = 0xb8;
		put_le(p, target, 4);
		p += 4;
	}
	*p++ = 0xff;
	*p++ = 0xe0;
	/* int3 padding: a stray jump into the tail traps instead of running
	 * the old code's leftovers. */
	*p++ = 0xcc;
	*p++ = 0xcc;
	*p++ = 0xcc;
	*p++ = 0xcc;
	return (int)len;
}

int vk_rt_render_tramps(const struct vk_rt_plan *p, uint8_t *buf, uint64_t len)
{
	uint32_t i, tl;
	if (!p || !buf)
		return VK_RT_E_ARG;
	tl = vk_rt_tramp_len(p->abi);
	if (!tl || p->nr_tramps > VK_RT_MAX_TRAMPS)
		return VK_RT_E_PLAN_INVALID;
	/* All checks first, so a refusal writes nothing. */
	for (i = 0; i < p->nr_tramps; i++) {
		uint64_t from = p->tramps[i].from;
		if (from < p->proxy_addr || from - p->proxy_addr > len || len - (from - p->proxy_addr) < tl)
			return VK_RT_E_TRAMP_RANGE;
		if (p->abi == VK_RT_ABI_I386 && (p->tramps[i].to >> 32))
			return VK_RT_E_TRAMP_RANGE;
	}
	for (i = 0; i < p->nr_tramps; i++)
		vk_rt_encode_tramp(p->abi, p->tramps[i].to, buf + (p->tramps[i].from - p->proxy_addr), tl);
	return (int)p->nr_tramps;
}

void vk_rt_mark_encode(uint8_t out[40], uint64_t orig_vdso, uint64_t orig_vvar, uint64_t rt_vvar)
{
	put_le(out, VK_RT_MARK_SIGNATURE, 8);
	put_le(out + 8, orig_vdso, 8);
	put_le(out + 16, VK_RT_MARK_VERSION, 8);
	put_le(out + 24, orig_vvar, 8);
	put_le(out + 32, rt_vvar, 8);
}

/*
 * Write bytes into an R|X special mapping (the rt vDSO). The vdso VMA has
 * VM_MAYWRITE, so the kernel allows the RW flip and the store copies the
 * page for this process only (§5.1). The flip must cover the whole VMA:
 * special mappings refuse to be split, so a one-page mprotect fails with
 * EINVAL (observed on 6.18).
 */
static int poke_rx_vma(uint64_t vma, uint64_t len, uint64_t at, const uint8_t *bytes, size_t n)
{
	long rc = vk_mprotect(vma, len, VK_PROT_READ | VK_PROT_WRITE);
	if (rc)
		return (int)rc;
	vk_rt_memcpy((void *)(uintptr_t)at, bytes, n);
	return (int)vk_mprotect(vma, len, VK_PROT_READ | VK_PROT_EXEC);
}

int vk_rt_write_mark(uint64_t rt_vdso, uint64_t vdso_size, uint64_t orig_vdso, uint64_t orig_vvar,
		     uint64_t rt_vvar)
{
	uint8_t m[VK_RT_MARK_SIZE];
	if (!rt_vdso || ((rt_vdso | vdso_size) & (VK_RT_PAGE - 1)) || !vdso_size)
		return VK_RT_E_ARG;
	vk_rt_mark_encode(m, orig_vdso, orig_vvar, rt_vvar);
	return poke_rx_vma(rt_vdso, vdso_size, rt_vdso, m, sizeof(m));
}

/* ---- apply ------------------------------------------------------------ */

static void step(struct vk_rt_result *r, uint32_t kind, int code, uint64_t from, uint64_t to,
		 uint64_t len)
{
	struct vk_rt_step *s;
	if (r->nr_steps >= VK_RT_MAX_STEPS)
		return;
	s = &r->steps[r->nr_steps++];
	s->kind = kind;
	s->code = code;
	s->from = from;
	s->to = to;
	s->len = len;
}

/*
 * Free means "no VMA at all", tested page by page with mincore: it fails
 * with ENOMEM exactly where no VMA exists, including PROT_NONE holes that
 * msync would also report but reading maps again would not catch if they
 * appeared after the snapshot. One syscall per page is cheap for the few
 * pages of a vDSO.
 */
static int probe_free(uint64_t addr, uint64_t len)
{
	uint64_t a;
	unsigned char vec;
	for (a = addr; a < addr + len; a += VK_RT_PAGE) {
		long rc = vk_mincore(a, VK_RT_PAGE, &vec);
		if (rc == 0)
			return VK_RT_E_OCCUPIED;
		if (rc != -VK_ENOMEM)
			return (int)rc;
	}
	return 0;
}

struct prot_probe {
	uint64_t base;
	uint32_t npages;
	uint32_t prot[VK_RT_MAX_PROXY_PAGES];
	uint32_t have; /* bitmask of pages found mapped */
};

static int prot_line(void *ctx, const struct vk_rt_maps_line *l)
{
	struct prot_probe *pp = ctx;
	uint32_t i;
	for (i = 0; i < pp->npages; i++) {
		uint64_t a = pp->base + (uint64_t)i * VK_RT_PAGE;
		if (a >= l->start && a < l->end) {
			pp->prot[i] = l->prot;
			pp->have |= 1u << i;
		}
	}
	return 0;
}

struct move {
	uint32_t kind, undo_kind;
	uint64_t from, to, len;
};

static int undo_moves(struct vk_rt_result *r, struct move *mv, int n)
{
	int bad = 0;
	while (n-- > 0) {
		long rc = vk_mremap_fixed(mv[n].to, mv[n].len, mv[n].from);
		step(r, mv[n].undo_kind, (int)rc, mv[n].to, mv[n].from, mv[n].len);
		if (rc)
			bad = 1;
		else if (r->nr_moved)
			r->nr_moved--;
	}
	return bad;
}

struct patch {
	uint8_t saved[VK_RT_MAX_TRAMPS][TRAMP_MAX];
	uint32_t made_writable; /* bitmask of proxy pages we flipped */
};

/* Give back each flipped page its own protection from maps. */
static int restore_prots(const struct prot_probe *pp, struct patch *pa)
{
	uint32_t i;
	int rc = 0;
	for (i = 0; i < pp->npages; i++) {
		if (!(pa->made_writable & (1u << i)))
			continue;
		long r = vk_mprotect(pp->base + (uint64_t)i * VK_RT_PAGE, VK_RT_PAGE, (long)pp->prot[i]);
		if (r && !rc)
			rc = (int)r;
		else if (!r)
			pa->made_writable &= ~(1u << i);
	}
	return rc;
}

static int make_writable(const struct vk_rt_plan *p, const struct prot_probe *pp,
			 struct patch *pa, uint32_t tl)
{
	uint32_t i;
	for (i = 0; i < p->nr_tramps; i++) {
		/* Shifts, not division: 64-bit division is a libgcc call on i386. */
		uint64_t first = (p->tramps[i].from - pp->base) >> 12;
		uint64_t last = (p->tramps[i].from + tl - 1 - pp->base) >> 12;
		uint64_t k;
		for (k = first; k <= last; k++) {
			uint32_t bit = 1u << k;
			long rc;
			if ((pa->made_writable & bit) ||
			    (pp->prot[k] & (VK_PROT_READ | VK_PROT_WRITE)) ==
				    (VK_PROT_READ | VK_PROT_WRITE))
				continue;
			rc = vk_mprotect(pp->base + k * VK_RT_PAGE, VK_RT_PAGE,
					 (long)(pp->prot[k] | VK_PROT_READ | VK_PROT_WRITE));
			if (rc)
				return (int)rc;
			pa->made_writable |= bit;
		}
	}
	return 0;
}

/* Put saved bytes back under temporarily writable pages. */
static int undo_tramps(const struct vk_rt_plan *p, const struct prot_probe *pp,
		       struct patch *pa, uint32_t n, uint32_t tl)
{
	uint32_t i;
	int rc = make_writable(p, pp, pa, tl);
	if (rc)
		return rc;
	for (i = 0; i < n; i++)
		vk_rt_memcpy((void *)(uintptr_t)p->tramps[i].from, pa->saved[i], tl);
	return restore_prots(pp, pa);
}

int vk_rt_apply(const struct vk_rt_plan *p, struct vk_rt_result *res)
{
	struct vk_rt_result local;
	struct move mv[3];
	struct prot_probe pp;
	struct patch pa;
	uint64_t delta;
	uint32_t tl, i;
	int nmv = 0, done_mv = 0, rc;

	if (!res)
		res = &local;
	vk_rt_memset(res, 0, sizeof(*res));
	if (!p) {
		res->code = VK_RT_E_ARG;
		return res->code;
	}
	res->nr_unresolved = p->nr_unresolved;

	rc = vk_rt_read_layout(&res->before, 0, 0);
	step(res, VK_RT_STEP_READ_MAPS, rc, 0, 0, res->before.nr_lines);
	if (rc)
		goto out;
	rc = vk_rt_check_plan(p, &res->before);
	step(res, VK_RT_STEP_CHECK_PLAN, rc, 0, 0, 0);
	if (rc)
		goto out;
	tl = vk_rt_tramp_len(p->abi);

	/* Build the move list in the kernel's own naming; order does not
	 * matter because every target is checked free first. */
	delta = p->vdso_addr - res->before.vdso.start;
	if (delta) {
		if (p->vvar_size) {
			mv[nmv].kind = VK_RT_STEP_MOVE_VVAR;
			mv[nmv].undo_kind = VK_RT_STEP_UNDO_VVAR;
			mv[nmv].from = res->before.vvar.start;
			mv[nmv].to = p->vvar_addr;
			mv[nmv++].len = p->vvar_size;
		}
		if (p->vclock_size) {
			mv[nmv].kind = VK_RT_STEP_MOVE_VCLOCK;
			mv[nmv].undo_kind = VK_RT_STEP_UNDO_VCLOCK;
			mv[nmv].from = res->before.vvar_vclock.start;
			mv[nmv].to = p->vclock_addr;
			mv[nmv++].len = p->vclock_size;
		}
		mv[nmv].kind = VK_RT_STEP_MOVE_VDSO;
		mv[nmv].undo_kind = VK_RT_STEP_UNDO_VDSO;
		mv[nmv].from = res->before.vdso.start;
		mv[nmv].to = p->vdso_addr;
		mv[nmv++].len = p->vdso_size;
	}

	/* Probe everything before changing anything, so the common refusals
	 * leave the process untouched. MREMAP_FIXED would silently unmap
	 * whatever sits at the target. */
	for (i = 0; i < (uint32_t)nmv; i++) {
		rc = probe_free(mv[i].to, mv[i].len);
		if (rc) {
			step(res, VK_RT_STEP_PROBE, rc, mv[i].to, 0, mv[i].len);
			goto out;
		}
	}
	vk_rt_memset(&pp, 0, sizeof(pp));
	if (p->proxy_size) {
		char buf[512];
		pp.base = p->proxy_addr;
		if (p->proxy_size / VK_RT_PAGE > VK_RT_MAX_PROXY_PAGES) {
			rc = VK_RT_E_TOO_MANY;
			step(res, VK_RT_STEP_PROBE, rc, p->proxy_addr, 0, p->proxy_size);
			goto out;
		}
		pp.npages = (uint32_t)(p->proxy_size / VK_RT_PAGE);
		rc = vk_rt_walk_self_maps(buf, sizeof(buf), prot_line, &pp);
		if (!rc && pp.have != (uint32_t)((1ull << pp.npages) - 1))
			rc = VK_RT_E_NO_MAPPING;
		if (rc) {
			step(res, VK_RT_STEP_PROBE, rc, p->proxy_addr, 0, p->proxy_size);
			goto out;
		}
	}
	step(res, VK_RT_STEP_PROBE, 0, 0, 0, 0);

	for (done_mv = 0; done_mv < nmv; done_mv++) {
		rc = (int)vk_mremap_fixed(mv[done_mv].from, mv[done_mv].len, mv[done_mv].to);
		step(res, mv[done_mv].kind, rc, mv[done_mv].from, mv[done_mv].to, mv[done_mv].len);
		if (rc)
			goto undo_moves;
		res->nr_moved++;
	}

	pa.made_writable = 0;
	if (p->nr_tramps) {
		rc = make_writable(p, &pp, &pa, tl);
		if (!rc) {
			int w;
			for (i = 0; i < p->nr_tramps; i++)
				vk_rt_memcpy(pa.saved[i], (const void *)(uintptr_t)p->tramps[i].from, tl);
			/* The proxy itself is the buffer here (its pages are writable now). */
			w = vk_rt_render_tramps(p, (uint8_t *)(uintptr_t)p->proxy_addr, p->proxy_size);
			if (w >= 0)
				res->nr_tramps = p->nr_tramps;
			rc = restore_prots(&pp, &pa);
			if (w < 0)
				rc = w;
		}
		step(res, VK_RT_STEP_TRAMPS, rc, p->proxy_addr, 0, p->nr_tramps);
		if (rc) {
			if (res->nr_tramps) {
				int u = undo_tramps(p, &pp, &pa, res->nr_tramps, tl);
				step(res, VK_RT_STEP_UNDO_TRAMPS, u, p->proxy_addr, 0, res->nr_tramps);
				if (!u)
					res->nr_tramps = 0;
			} else {
				restore_prots(&pp, &pa);
			}
			goto undo_moves;
		}
	}

	if (p->flags & VK_RT_PLAN_MARK) {
		uint8_t saved[VK_RT_MARK_SIZE];
		uint64_t rt_vvar = p->vvar_size ? p->vvar_addr : VK_RT_NO_ADDR;
		vk_rt_memcpy(saved, (const void *)(uintptr_t)p->vdso_addr, sizeof(saved));
		rc = vk_rt_write_mark(p->vdso_addr, p->vdso_size, p->orig_vdso_addr, p->orig_vvar_addr,
				      rt_vvar);
		step(res, VK_RT_STEP_MARK, rc, p->vdso_addr, 0, VK_RT_MARK_SIZE);
		if (rc) {
			/* The page may already be a private copy: put the ELF
			 * header bytes back so the vDSO parses again. */
			poke_rx_vma(p->vdso_addr, p->vdso_size, p->vdso_addr, saved, sizeof(saved));
			if (res->nr_tramps) {
				int u = undo_tramps(p, &pp, &pa, res->nr_tramps, tl);
				step(res, VK_RT_STEP_UNDO_TRAMPS, u, p->proxy_addr, 0, res->nr_tramps);
				if (!u)
					res->nr_tramps = 0;
			}
			goto undo_moves;
		}
		res->mark_written = 1;
	}

	vk_rt_memcpy(&res->after, &res->before, sizeof(res->after));
	if (delta) {
		struct vk_rt_range *r[3] = {&res->after.vvar, &res->after.vvar_vclock, &res->after.vdso};
		for (i = 0; i < 3; i++)
			if (r[i]->end) {
				r[i]->start += delta;
				r[i]->end += delta;
			}
	}
	rc = 0;
	goto out;

undo_moves:
	res->rolled_back = 1;
	if (undo_moves(res, mv, done_mv))
		rc = VK_RT_E_ROLLBACK;
out:
	res->code = rc;
	return rc;
}
