/* Test helper: list the functions a vDSO image exports, from its bytes.
 * Works on any blob (live vDSO, a copy, a vDSO file from a corpus), ELF32
 * or ELF64, through the section headers, which kernel vDSO images keep. */
#ifndef RT_VDSO_ELF_H
#define RT_VDSO_ELF_H

#include <elf.h>
#include <stdint.h>
#include <string.h>

struct vk_sym {
	char name[64];
	uint64_t off;  /* from the image start: st_value - first PT_LOAD p_vaddr */
	uint64_t size; /* st_size */
};

#define RT_DEFINE_ELF_SYMS(BITS)                                                            \
	static int rt_elf_syms##BITS(const uint8_t *b, size_t n, struct vk_sym *out, int max)   \
	{                                                                                   \
		const Elf##BITS##_Ehdr *eh = (const void *)b;                               \
		uint64_t load = 0;                                                          \
		int cnt = 0, have_load = 0;                                                 \
		if (n < sizeof(*eh) || eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf##BITS##_Phdr) > n || \
		    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf##BITS##_Shdr) > n)     \
			return -1;                                                          \
		const Elf##BITS##_Phdr *ph = (const void *)(b + eh->e_phoff);               \
		for (int i = 0; i < eh->e_phnum; i++)                                       \
			if (ph[i].p_type == PT_LOAD && !have_load) {                        \
				load = ph[i].p_vaddr;                                       \
				have_load = 1;                                              \
			}                                                                   \
		const Elf##BITS##_Shdr *sh = (const void *)(b + eh->e_shoff);               \
		for (int i = 0; i < eh->e_shnum; i++) {                                     \
			if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum)    \
				continue;                                                   \
			const Elf##BITS##_Shdr *st = &sh[sh[i].sh_link];                    \
			if (sh[i].sh_offset + sh[i].sh_size > n || st->sh_offset + st->sh_size > n) \
				return -1;                                                  \
			const Elf##BITS##_Sym *sym = (const void *)(b + sh[i].sh_offset);   \
			size_t ns = sh[i].sh_size / sizeof(*sym);                           \
			for (size_t k = 0; k < ns && cnt < max; k++) {                      \
				unsigned bind = ELF##BITS##_ST_BIND(sym[k].st_info);        \
				if (sym[k].st_shndx == SHN_UNDEF ||                         \
				    ELF##BITS##_ST_TYPE(sym[k].st_info) != STT_FUNC ||      \
				    (bind != STB_GLOBAL && bind != STB_WEAK) ||             \
				    sym[k].st_name >= st->sh_size)                          \
					continue;                                           \
				const char *nm = (const char *)b + st->sh_offset + sym[k].st_name; \
				snprintf(out[cnt].name, sizeof(out[cnt].name), "%s", nm);   \
				out[cnt].off = sym[k].st_value - load;                      \
				out[cnt].size = sym[k].st_size;                             \
				cnt++;                                                      \
			}                                                                   \
		}                                                                           \
		return cnt;                                                                 \
	}

RT_DEFINE_ELF_SYMS(32)
RT_DEFINE_ELF_SYMS(64)

/* Exported functions of an ELF32 or ELF64 image; -1 when it does not parse. */
static inline int rt_elf_syms(const void *blob, size_t n, struct vk_sym *out, int max)
{
	const uint8_t *b = blob;
	if (n < EI_NIDENT || memcmp(b, ELFMAG, SELFMAG) != 0)
		return -1;
	if (b[EI_CLASS] == ELFCLASS64)
		return rt_elf_syms64(b, n, out, max);
	if (b[EI_CLASS] == ELFCLASS32)
		return rt_elf_syms32(b, n, out, max);
	return -1;
}

/* Find "__vdso_<base>" (or "<base>" itself); NULL if absent. */
static inline const struct vk_sym *rt_find_sym(const struct vk_sym *s, int n, const char *name)
{
	char full[80];
	snprintf(full, sizeof(full), "__vdso_%s", name);
	for (int i = 0; i < n; i++)
		if (strcmp(s[i].name, full) == 0)
			return &s[i];
	for (int i = 0; i < n; i++)
		if (strcmp(s[i].name, name) == 0)
			return &s[i];
	return NULL;
}

#endif
