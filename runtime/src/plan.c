/* Plan checking and the plan text form (docs/runtime-plan.md). */
#include "vdsokit/runtime.h"
#include "rt_sys.h"

void vk_rt_plan_init(struct vk_rt_plan *plan)
{
	vk_rt_memset(plan, 0, sizeof(*plan));
	plan->abi = VK_RT_ABI_X86_64;
	plan->orig_vvar_addr = VK_RT_NO_ADDR;
}

uint32_t vk_rt_tramp_len(uint32_t abi)
{
	return abi == VK_RT_ABI_X86_64 ? 16u : abi == VK_RT_ABI_I386 ? 11u : 0u;
}

static uint64_t rsize(const struct vk_rt_range *r)
{
	return r->end - r->start;
}

/* [a, a+al) and [b, b+bl) intersect; empty ranges never do. */
static int overlaps(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
	return al && bl && a < b + bl && b < a + al;
}

static int addr_ok(uint64_t a, uint64_t len)
{
	if (a + len < a)
		return 0;
	/* On i386 a 64-bit plan field may not fit the address space. */
	return (uint64_t)(uintptr_t)a == a && (uint64_t)(uintptr_t)(a + len) == a + len;
}

static int name_ok(const char *s)
{
	size_t i;
	for (i = 0; i < VK_RT_NAME_MAX; i++)
		if (!s[i])
			return 1;
	return 0;
}

int vk_rt_check_plan(const struct vk_rt_plan *p, const struct vk_rt_layout *live)
{
	const uint64_t pm = VK_RT_PAGE - 1;
	uint64_t delta, blk_lo, blk_hi, live_lo, live_hi;
	uint32_t tl, i, j;

	if (!p || !live)
		return VK_RT_E_ARG;
	tl = vk_rt_tramp_len(p->abi);
	if (!tl || (p->flags & ~(uint32_t)VK_RT_PLAN_MARK))
		return VK_RT_E_PLAN_INVALID;
	if (p->nr_tramps > VK_RT_MAX_TRAMPS || p->nr_unresolved > VK_RT_MAX_UNRESOLVED)
		return VK_RT_E_TOO_MANY;
	if (live->vdso.end == 0)
		return VK_RT_E_NO_VDSO;
	if ((p->vvar_addr | p->vvar_size | p->vclock_addr | p->vclock_size | p->vdso_addr |
	     p->vdso_size | p->proxy_addr | p->proxy_size) & pm)
		return VK_RT_E_PLAN_INVALID;
	if (!p->vdso_size || !addr_ok(p->vdso_addr, p->vdso_size) ||
	    !addr_ok(p->vvar_addr, p->vvar_size) || !addr_ok(p->vclock_addr, p->vclock_size) ||
	    !addr_ok(p->proxy_addr, p->proxy_size))
		return VK_RT_E_PLAN_INVALID;
	if (p->vclock_size && !p->vvar_size)
		return VK_RT_E_PLAN_INVALID;

	/* The kernel cannot split or grow special mappings on mremap, so the
	 * plan must name each one with its exact size (§6.2 check 1 and 3). */
	if ((p->vvar_size || p->vclock_size) && live->vvar.end == 0)
		return VK_RT_E_NO_VVAR;
	if (p->vdso_size != rsize(&live->vdso) || p->vvar_size != rsize(&live->vvar) ||
	    p->vclock_size != rsize(&live->vvar_vclock))
		return VK_RT_E_SIZE_MISMATCH;

	/* vDSO code addresses vvar PC-relatively: one shift for all three. */
	delta = p->vdso_addr - live->vdso.start;
	if (p->vvar_size && p->vvar_addr - live->vvar.start != delta)
		return VK_RT_E_PLACEMENT;
	if (p->vclock_size && p->vclock_addr - live->vvar_vclock.start != delta)
		return VK_RT_E_PLACEMENT;

	live_lo = live->vdso.start;
	live_hi = live->vdso.end;
	if (live->vvar.end) {
		if (live->vvar.start < live_lo)
			live_lo = live->vvar.start;
		if (live->vvar.end > live_hi)
			live_hi = live->vvar.end;
		if (live->vvar_vclock.end > live_hi)
			live_hi = live->vvar_vclock.end;
	}
	blk_lo = live_lo + delta;
	blk_hi = live_hi + delta;
	if (blk_hi < blk_lo || !addr_ok(blk_lo, blk_hi - blk_lo))
		return VK_RT_E_PLAN_INVALID;

	if (p->nr_tramps && !p->proxy_size)
		return VK_RT_E_PLAN_INVALID;
	if (p->proxy_size && (overlaps(p->proxy_addr, p->proxy_size, blk_lo, blk_hi - blk_lo) ||
			      overlaps(p->proxy_addr, p->proxy_size, live_lo, live_hi - live_lo)))
		return VK_RT_E_PLAN_INVALID;
	for (i = 0; i < p->nr_tramps; i++) {
		const struct vk_rt_tramp *t = &p->tramps[i];
		/* An entry missing in the new vDSO must be listed as unresolved,
		 * never sent to a guessed address (§6.4 "rt_vdso - 1"). */
		if (t->from < p->proxy_addr || t->from + tl > p->proxy_addr + p->proxy_size ||
		    t->from + tl < t->from)
			return VK_RT_E_TRAMP_RANGE;
		if (t->to < p->vdso_addr || t->to >= p->vdso_addr + p->vdso_size)
			return VK_RT_E_TRAMP_RANGE;
		if (p->abi == VK_RT_ABI_I386 && (t->to >> 32))
			return VK_RT_E_TRAMP_RANGE;
		if (!name_ok(t->name))
			return VK_RT_E_PLAN_INVALID;
		for (j = 0; j < i; j++)
			if (overlaps(t->from, tl, p->tramps[j].from, tl))
				return VK_RT_E_PLAN_INVALID;
	}
	for (i = 0; i < p->nr_unresolved; i++)
		if (!name_ok(p->unresolved[i]))
			return VK_RT_E_PLAN_INVALID;
	return 0;
}

/* ---- text form -------------------------------------------------------- */

struct cursor {
	const char *s;
	size_t n, i;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Next blank-separated token of the current line; 0 length at its end. */
static size_t token(struct cursor *c, const char **tok)
{
	size_t st;
	while (c->i < c->n && is_blank(c->s[c->i]))
		c->i++;
	st = c->i;
	while (c->i < c->n && !is_blank(c->s[c->i]))
		c->i++;
	*tok = c->s + st;
	return c->i - st;
}

static int tok_is(const char *t, size_t n, const char *w)
{
	size_t k = vk_rt_strlen(w);
	return n == k && vk_rt_memcmp(t, w, k) == 0;
}

static int num(const char *t, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	if (!n)
		return -1;
	if (n > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
		if (n - 2 > 16)
			return -1;
		for (i = 2; i < n; i++) {
			char ch = t[i];
			int d = ch >= '0' && ch <= '9' ? ch - '0'
				: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
				: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
			if (d < 0)
				return -1;
			v = (v << 4) | (uint64_t)d;
		}
	} else {
		for (; i < n; i++) {
			/* Compare with UINT64_MAX / 10 spelled out: a 64-bit division
			 * would pull in libgcc's __udivdi3 on i386. */
			const uint64_t lim = 1844674407370955161ull;
			uint64_t d;
			if (t[i] < '0' || t[i] > '9')
				return -1;
			d = (uint64_t)(t[i] - '0');
			if (v > lim || (v == lim && d > 5))
				return -1;
			v = v * 10 + d;
		}
	}
	*out = v;
	return 0;
}

static int copy_name(char dst[VK_RT_NAME_MAX], const char *t, size_t n)
{
	if (!n || n >= VK_RT_NAME_MAX)
		return -1;
	vk_rt_memcpy(dst, t, n);
	dst[n] = 0;
	return 0;
}

enum { SEEN_ABI = 1, SEEN_VVAR = 2, SEEN_VCLOCK = 4, SEEN_VDSO = 8, SEEN_PROXY = 16,
       SEEN_MARK = 32 };

static int parse_line(struct cursor *c, struct vk_rt_plan *p, unsigned *seen, int *done)
{
	const char *t, *a, *b;
	size_t tn = token(c, &t), an, bn;
	uint64_t x, y;

	if (!tn)
		return 0;
	if (tok_is(t, tn, "abi")) {
		an = token(c, &a);
		if (*seen & SEEN_ABI)
			return -1;
		*seen |= SEEN_ABI;
		if (tok_is(a, an, "x86_64"))
			p->abi = VK_RT_ABI_X86_64;
		else if (tok_is(a, an, "i386"))
			p->abi = VK_RT_ABI_I386;
		else
			return -1;
	} else if (tok_is(t, tn, "vvar") || tok_is(t, tn, "vvar_vclock") ||
		   tok_is(t, tn, "vdso") || tok_is(t, tn, "proxy")) {
		unsigned bit = tok_is(t, tn, "vvar") ? SEEN_VVAR
			     : tok_is(t, tn, "vvar_vclock") ? SEEN_VCLOCK
			     : tok_is(t, tn, "vdso") ? SEEN_VDSO : SEEN_PROXY;
		an = token(c, &a);
		bn = token(c, &b);
		if ((*seen & bit) || num(a, an, &x) || num(b, bn, &y))
			return -1;
		*seen |= bit;
		if (bit == SEEN_VVAR)
			p->vvar_addr = x, p->vvar_size = y;
		else if (bit == SEEN_VCLOCK)
			p->vclock_addr = x, p->vclock_size = y;
		else if (bit == SEEN_VDSO)
			p->vdso_addr = x, p->vdso_size = y;
		else
			p->proxy_addr = x, p->proxy_size = y;
	} else if (tok_is(t, tn, "mark")) {
		an = token(c, &a);
		bn = token(c, &b);
		if ((*seen & SEEN_MARK) || num(a, an, &x))
			return -1;
		if (tok_is(b, bn, "none"))
			y = VK_RT_NO_ADDR;
		else if (num(b, bn, &y))
			return -1;
		*seen |= SEEN_MARK;
		p->flags |= VK_RT_PLAN_MARK;
		p->orig_vdso_addr = x;
		p->orig_vvar_addr = y;
	} else if (tok_is(t, tn, "tramp")) {
		struct vk_rt_tramp *tr;
		const char *arrow;
		size_t arn;
		if (p->nr_tramps >= VK_RT_MAX_TRAMPS)
			return -1;
		tr = &p->tramps[p->nr_tramps];
		an = token(c, &a);
		/* The name is optional: an address token starts with a digit. */
		if (an && !(a[0] >= '0' && a[0] <= '9')) {
			if (copy_name(tr->name, a, an))
				return -1;
			an = token(c, &a);
		} else {
			tr->name[0] = 0;
		}
		arn = token(c, &arrow);
		bn = token(c, &b);
		if (num(a, an, &tr->from) || !tok_is(arrow, arn, "->") || num(b, bn, &tr->to))
			return -1;
		p->nr_tramps++;
	} else if (tok_is(t, tn, "unresolved")) {
		if (p->nr_unresolved >= VK_RT_MAX_UNRESOLVED)
			return -1;
		an = token(c, &a);
		if (copy_name(p->unresolved[p->nr_unresolved], a, an))
			return -1;
		p->nr_unresolved++;
	} else if (tok_is(t, tn, "end")) {
		*done = 1;
	} else {
		return -1;
	}
	/* Nothing may follow on the line but a comment. */
	an = token(c, &a);
	return an && a[0] != '#' ? -1 : 0;
}

int vk_rt_plan_parse(const char *text, size_t len, struct vk_rt_plan *out, int *bad_line)
{
	size_t pos = 0;
	unsigned seen = 0;
	int line = 0, header = 0, done = 0;

	if (bad_line)
		*bad_line = 0;
	if (!text || !out)
		return VK_RT_E_ARG;
	vk_rt_plan_init(out);
	while (pos < len) {
		size_t e = pos, k;
		struct cursor c;
		line++;
		while (e < len && text[e] != '\n')
			e++;
		/* Strip a comment, then look at what is left. */
		for (k = pos; k < e && text[k] != '#'; k++)
			;
		c.s = text + pos;
		c.n = k - pos;
		c.i = 0;
		pos = e + 1;
		{
			const char *t;
			size_t tn;
			struct cursor probe = c;
			tn = token(&probe, &t);
			if (!tn)
				continue;
			if (done)
				goto bad;
			if (!header) {
				const char *v;
				size_t vn = token(&probe, &v);
				if (!tok_is(t, tn, "vdsokit-plan") || !tok_is(v, vn, "1") ||
				    token(&probe, &v))
					goto bad;
				header = 1;
				continue;
			}
		}
		if (parse_line(&c, out, &seen, &done))
			goto bad;
	}
	/* A truncated file must not pass for a plan with fewer trampolines. */
	if (!header || !done || !(seen & SEEN_VDSO)) {
		line++;
		goto bad;
	}
	return 0;
bad:
	if (bad_line)
		*bad_line = line;
	return VK_RT_E_PLAN_PARSE;
}

struct out {
	char *b;
	size_t cap, len;
};

static void put(struct out *o, const char *s)
{
	for (; *s; s++, o->len++)
		if (o->len < o->cap)
			o->b[o->len] = *s;
}

static void put_hex(struct out *o, uint64_t v)
{
	char tmp[19];
	int i = 18;
	tmp[i] = 0;
	do {
		tmp[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	tmp[--i] = 'x';
	tmp[--i] = '0';
	put(o, tmp + i);
}

static void put_pair(struct out *o, const char *key, uint64_t a, uint64_t s)
{
	put(o, key);
	put(o, " ");
	put_hex(o, a);
	put(o, " ");
	put_hex(o, s);
	put(o, "\n");
}

long vk_rt_plan_format(const struct vk_rt_plan *p, char *buf, size_t cap)
{
	struct out o;
	uint32_t i;
	if (!p || !buf || !cap)
		return VK_RT_E_ARG;
	if (p->nr_tramps > VK_RT_MAX_TRAMPS || p->nr_unresolved > VK_RT_MAX_UNRESOLVED)
		return VK_RT_E_TOO_MANY;
	o.b = buf;
	o.cap = cap;
	o.len = 0;
	put(&o, "vdsokit-plan 1\n");
	put(&o, p->abi == VK_RT_ABI_I386 ? "abi i386\n" : "abi x86_64\n");
	if (p->vvar_size)
		put_pair(&o, "vvar", p->vvar_addr, p->vvar_size);
	if (p->vclock_size)
		put_pair(&o, "vvar_vclock", p->vclock_addr, p->vclock_size);
	put_pair(&o, "vdso", p->vdso_addr, p->vdso_size);
	if (p->proxy_size)
		put_pair(&o, "proxy", p->proxy_addr, p->proxy_size);
	if (p->flags & VK_RT_PLAN_MARK) {
		put(&o, "mark ");
		put_hex(&o, p->orig_vdso_addr);
		put(&o, " ");
		if (p->orig_vvar_addr == VK_RT_NO_ADDR)
			put(&o, "none");
		else
			put_hex(&o, p->orig_vvar_addr);
		put(&o, "\n");
	}
	for (i = 0; i < p->nr_tramps; i++) {
		const struct vk_rt_tramp *t = &p->tramps[i];
		put(&o, "tramp ");
		if (t->name[0] && name_ok(t->name)) {
			put(&o, t->name);
			put(&o, " ");
		}
		put_hex(&o, t->from);
		put(&o, " -> ");
		put_hex(&o, t->to);
		put(&o, "\n");
	}
	for (i = 0; i < p->nr_unresolved; i++) {
		if (!name_ok(p->unresolved[i]))
			return VK_RT_E_PLAN_INVALID;
		put(&o, "unresolved ");
		put(&o, p->unresolved[i]);
		put(&o, "\n");
	}
	put(&o, "end\n");
	if (o.len >= cap)
		return VK_RT_E_NOSPACE;
	buf[o.len] = 0;
	return (long)o.len;
}

int vk_rt_plan_load(const char *path, char *buf, size_t cap, struct vk_rt_plan *out,
		    int *bad_line)
{
	long n;
	if (!path || !buf || !out)
		return VK_RT_E_ARG;
	n = vk_rt_read_file(path, buf, cap);
	if (n < 0)
		return (int)n;
	return vk_rt_plan_parse(buf, (size_t)n, out, bad_line);
}
