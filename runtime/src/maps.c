/*
 * Finding [vvar], [vvar_vclock] and [vdso] in maps text (vdso-restore.md §4.1).
 *
 * Unlike a substring search, the name column is compared whole, so a file
 * whose path merely contains "[vdso]" is not mistaken for the vDSO.
 */
#include "vdsokit/runtime.h"
#include "rt_sys.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex number of 1..16 digits at s[*i]; advances *i. */
static int parse_hex(const char *s, size_t n, size_t *i, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = *i;
	int d;
	while (*i < n && (d = hexval(s[*i])) >= 0) {
		if (*i - start >= 16)
			return -1;
		v = (v << 4) | (uint64_t)d;
		(*i)++;
	}
	if (*i == start)
		return -1;
	*out = v;
	return 0;
}

static int expect(const char *s, size_t n, size_t *i, char c)
{
	if (*i >= n || s[*i] != c)
		return -1;
	(*i)++;
	return 0;
}

/*
 * "start-end perms offset dev inode   name". Only the fields up to the
 * inode are required to be well formed; the name is the rest after blanks.
 */
int vk_rt_parse_maps_line(const char *s, size_t n, struct vk_rt_maps_line *out)
{
	size_t i = 0;
	uint64_t tmp;
	out->truncated = 0;
	if (parse_hex(s, n, &i, &out->start) || expect(s, n, &i, '-') ||
	    parse_hex(s, n, &i, &out->end) || expect(s, n, &i, ' '))
		return VK_RT_E_MAPS_PARSE;
	if (out->end <= out->start)
		return VK_RT_E_MAPS_PARSE;
	if (i + 4 > n)
		return VK_RT_E_MAPS_PARSE;
	out->prot = 0;
	if (s[i] == 'r')
		out->prot |= VK_PROT_READ;
	else if (s[i] != '-')
		return VK_RT_E_MAPS_PARSE;
	if (s[i + 1] == 'w')
		out->prot |= VK_PROT_WRITE;
	else if (s[i + 1] != '-')
		return VK_RT_E_MAPS_PARSE;
	if (s[i + 2] == 'x')
		out->prot |= VK_PROT_EXEC;
	else if (s[i + 2] != '-')
		return VK_RT_E_MAPS_PARSE;
	if (s[i + 3] != 'p' && s[i + 3] != 's')
		return VK_RT_E_MAPS_PARSE;
	i += 4;
	if (expect(s, n, &i, ' ') || parse_hex(s, n, &i, &tmp) || expect(s, n, &i, ' ') ||
	    parse_hex(s, n, &i, &tmp) || expect(s, n, &i, ':') || parse_hex(s, n, &i, &tmp) ||
	    expect(s, n, &i, ' '))
		return VK_RT_E_MAPS_PARSE;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return VK_RT_E_MAPS_PARSE;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i < n && s[i] != ' ')
		return VK_RT_E_MAPS_PARSE;
	while (i < n && s[i] == ' ')
		i++;
	out->name = s + i;
	out->name_len = n - i;
	return 0;
}

static int name_is(const struct vk_rt_maps_line *l, const char *want)
{
	size_t k = vk_rt_strlen(want);
	return l->name_len == k && vk_rt_memcmp(l->name, want, k) == 0;
}

static int set_once(struct vk_rt_range *r, const struct vk_rt_maps_line *l)
{
	if (r->end != 0)
		return VK_RT_E_DUPLICATE;
	r->start = l->start;
	r->end = l->end;
	return 0;
}

static int layout_line(void *ctx, const struct vk_rt_maps_line *l)
{
	struct vk_rt_layout *lay = ctx;
	lay->nr_lines++;
	if (l->truncated) /* special mappings have short lines */
		return 0;
	if (name_is(l, "[vdso]"))
		return set_once(&lay->vdso, l);
	if (name_is(l, "[vvar]"))
		return set_once(&lay->vvar, l);
	if (name_is(l, "[vvar_vclock]"))
		return set_once(&lay->vvar_vclock, l);
	return 0;
}

static int layout_finish(struct vk_rt_layout *lay)
{
	uint64_t vv_start, vv_end;
	if (lay->vdso.end == 0)
		return VK_RT_E_NO_VDSO;
	if (lay->vvar_vclock.end != 0) {
		/* The vclock pages are the tail of the old single vvar (§4.1). */
		if (lay->vvar.end == 0 || lay->vvar.end != lay->vvar_vclock.start)
			return VK_RT_E_LAYOUT;
	}
	if (lay->vvar.end == 0)
		return 0; /* pre-3.16 kernel: one [vdso] zone */
	vv_start = lay->vvar.start;
	vv_end = lay->vvar_vclock.end ? lay->vvar_vclock.end : lay->vvar.end;
	/* vDSO code reaches vvar at a fixed distance, so they must touch;
	 * either order is fine (§4.3). */
	if (vv_end == lay->vdso.start)
		lay->vdso_before_vvar = 0;
	else if (lay->vdso.end == vv_start)
		lay->vdso_before_vvar = 1;
	else
		return VK_RT_E_LAYOUT;
	return 0;
}

int vk_rt_parse_maps(const char *text, size_t len, struct vk_rt_layout *out)
{
	size_t pos = 0;
	if (!text || !out)
		return VK_RT_E_ARG;
	vk_rt_memset(out, 0, sizeof(*out));
	while (pos < len) {
		size_t e = pos;
		struct vk_rt_maps_line l;
		int rc;
		while (e < len && text[e] != '\n')
			e++;
		if (e > pos) { /* blank lines (e.g. a trailing one) are ignored */
			rc = vk_rt_parse_maps_line(text + pos, e - pos, &l);
			if (rc == 0)
				rc = layout_line(out, &l);
			if (rc)
				return rc;
		}
		pos = e + 1;
	}
	return layout_finish(out);
}

int vk_rt_walk_self_maps(char *buf, size_t cap, vk_rt_maps_cb cb, void *ctx)
{
	long fd;
	size_t fill = 0;
	int skipping = 0, rc = 0, eof = 0;

	if (cap < 128) /* room for the fixed columns of any line */
		return VK_RT_E_NOSPACE;
	fd = vk_open_ro("/proc/self/maps");
	if (fd < 0)
		return (int)fd;
	while (!rc && !(eof && fill == 0)) {
		size_t pos = 0, e;
		if (!eof && fill < cap) {
			long n = vk_read(fd, buf + fill, cap - fill);
			if (n == -VK_EINTR)
				continue;
			if (n < 0) {
				rc = (int)n;
				break;
			}
			if (n == 0)
				eof = 1;
			fill += (size_t)n;
		}
		/* Consume complete lines; at EOF the unterminated rest is one too. */
		for (;;) {
			struct vk_rt_maps_line l;
			for (e = pos; e < fill && buf[e] != '\n'; e++)
				;
			if (e == fill && !(eof && e > pos))
				break;
			if (skipping) {
				skipping = 0;
			} else if (e > pos) {
				rc = vk_rt_parse_maps_line(buf + pos, e - pos, &l);
				if (!rc)
					rc = cb(ctx, &l);
				if (rc)
					break;
			}
			pos = e < fill ? e + 1 : e;
		}
		if (rc)
			break;
		if (pos == 0 && fill == cap) {
			/* A line longer than the buffer: its prefix still gives the
			 * range, and no special mapping has such a long line. */
			if (!skipping) {
				struct vk_rt_maps_line l;
				rc = vk_rt_parse_maps_line(buf, fill, &l);
				l.truncated = 1;
				if (!rc)
					rc = cb(ctx, &l);
				skipping = 1;
			}
			fill = 0;
			continue;
		}
		vk_rt_memcpy(buf, buf + pos, fill - pos);
		fill -= pos;
	}
	vk_close(fd);
	return rc;
}

int vk_rt_read_layout(struct vk_rt_layout *out, char *buf, size_t cap)
{
	char local[512];
	int rc;
	if (!out)
		return VK_RT_E_ARG;
	if (!buf) {
		buf = local;
		cap = sizeof(local);
	}
	vk_rt_memset(out, 0, sizeof(*out));
	rc = vk_rt_walk_self_maps(buf, cap, layout_line, out);
	if (rc)
		return rc;
	return layout_finish(out);
}
