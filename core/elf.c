/*
 * Reading one exported data symbol of a shared object from the file (see
 * elf.h).
 *
 * DESIGN: the section headers lead to the dynamic symbol table (SHT_DYNSYM)
 * and its string table; the symbol's address is turned into a file offset
 * through the PT_LOAD program headers, the way the dynamic linker would map
 * it, and the bytes are read from there.  Nothing is mapped and nothing is
 * read whole: each header, each batch of symbols and each name is pread(2)
 * on its own, after its range was checked against the file's size with
 * overflow-safe arithmetic, so a hostile file can make this fail but never
 * read outside what it holds.  Only the running binary's class, byte order
 * and machine are accepted: a plugin for anything else could not be loaded.
 *
 * <linux/elf.h> is used rather than <elf.h> because -Icore makes
 * <elf.h> name this module's own header.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elf.h>

#include "elf.h"

#if defined(__x86_64__)
#define HOST_MACHINE	EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE	EM_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_MACHINE	EM_RISCV
#elif defined(__powerpc64__)
#define HOST_MACHINE	EM_PPC64
#elif defined(__s390x__)
#define HOST_MACHINE	EM_S390
#elif defined(__loongarch__) && __loongarch_grlen == 64
#define HOST_MACHINE	EM_LOONGARCH
#else
#error "workqd loads ELF64 plugins: add this machine's EM_ constant"
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA	ELFDATA2LSB
#else
#define HOST_DATA	ELFDATA2MSB
#endif

#ifndef STB_GNU_UNIQUE
#define STB_GNU_UNIQUE	10
#endif

#define NAME_MAX_BYTES	256	/* longest symbol name looked up, with NUL */
#define SYM_BATCH	64	/* symbols read per pread */

struct elf {
	int		 fd;
	uint64_t	 size;		/* of the file, bounds every read */
	Elf64_Ehdr	 eh;
	uint64_t	 shnum;
	uint64_t	 phnum;
	char		*err;
	size_t		 errlen;
};

static int
fail(struct elf *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct elf *e, const char *fmt, ...)
{
	va_list ap;

	if (e->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(e->err, e->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Nonzero if [off, off + len) lies inside the file. */
static int
inside(const struct elf *e, uint64_t off, uint64_t len)
{
	return off <= e->size && len <= e->size - off;
}

/* Reads exactly len bytes at off, which must lie inside the file. */
static int
rd(struct elf *e, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	if (!inside(e, off, len))
		return fail(e, "truncated file");
	while (done < len) {
		n = pread(e->fd, (char *)buf + done, len - done,
		    (off_t)(off + done));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return fail(e, "read error: %s", strerror(errno));
		if (n == 0)
			return fail(e, "truncated file");
		done += (size_t)n;
	}
	return 0;
}

/* Reads the i-th entry of a table of entsize-byte entries at off. */
static int
entry(struct elf *e, uint64_t off, uint64_t i, void *buf, size_t entsize)
{
	/* Callers checked that the whole table lies inside the file. */
	return rd(e, off + i * entsize, buf, entsize);
}

static int
ident(struct elf *e)
{
	struct stat st;
	size_t n;

	if (fstat(e->fd, &st) == -1)
		return fail(e, "cannot stat: %s", strerror(errno));
	e->size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
	n = e->size < sizeof(e->eh) ? (size_t)e->size : sizeof(e->eh);
	memset(&e->eh, 0, sizeof(e->eh));
	if (n < SELFMAG)
		return fail(e, "not an ELF file");
	if (rd(e, 0, &e->eh, n) == -1)
		return -1;
	if (memcmp(e->eh.e_ident, ELFMAG, SELFMAG) != 0)
		return fail(e, "not an ELF file");
	if (n > EI_CLASS && e->eh.e_ident[EI_CLASS] != ELFCLASS64)
		return fail(e, "not a 64-bit ELF file");
	if (n < sizeof(e->eh))
		return fail(e, "truncated file");
	if (e->eh.e_ident[EI_DATA] != HOST_DATA ||
	    e->eh.e_machine != HOST_MACHINE)
		return fail(e, "built for another machine");
	if (e->eh.e_ident[EI_VERSION] != EV_CURRENT ||
	    e->eh.e_version != EV_CURRENT)
		return fail(e, "unknown ELF version");
	if (e->eh.e_type != ET_DYN)
		return fail(e, "not a shared object");
	return 0;
}

/* Finds the number of section and program headers and checks that both
   tables lie inside the file. */
static int
tables(struct elf *e)
{
	Elf64_Shdr sh0;

	if (e->eh.e_shoff == 0 || e->eh.e_shentsize != sizeof(Elf64_Shdr))
		return fail(e, "no section headers");
	if (e->eh.e_phoff == 0 || e->eh.e_phentsize != sizeof(Elf64_Phdr))
		return fail(e, "no program headers");
	e->shnum = e->eh.e_shnum;
	e->phnum = e->eh.e_phnum;
	/* Past 0xff00 sections or 0xffff segments, the real counts are kept
	   in section 0. */
	if (e->shnum == 0 || e->phnum == PN_XNUM) {
		if (rd(e, e->eh.e_shoff, &sh0, sizeof(sh0)) == -1)
			return -1;
		if (e->shnum == 0)
			e->shnum = sh0.sh_size;
		if (e->phnum == PN_XNUM)
			e->phnum = sh0.sh_info;
	}
	if (e->eh.e_shoff > e->size ||
	    e->shnum > (e->size - e->eh.e_shoff) / sizeof(Elf64_Shdr) ||
	    e->eh.e_phoff > e->size ||
	    e->phnum > (e->size - e->eh.e_phoff) / sizeof(Elf64_Phdr))
		return fail(e, "truncated file");
	return 0;
}

/* Reads section i; with data, its contents must lie inside the file. */
static int
section(struct elf *e, uint64_t i, Elf64_Shdr *sh, int data)
{
	if (entry(e, e->eh.e_shoff, i, sh, sizeof(*sh)) == -1)
		return -1;
	if (data && !inside(e, sh->sh_offset, sh->sh_size))
		return fail(e, "truncated file");
	return 0;
}

/* The dynamic symbol table and its string table. */
static int
dynsym(struct elf *e, Elf64_Shdr *sym, Elf64_Shdr *str)
{
	uint64_t i;

	for (i = 0; i < e->shnum; i++) {
		if (section(e, i, sym, 0) == -1)
			return -1;
		if (sym->sh_type == SHT_DYNSYM)
			break;
	}
	if (i == e->shnum)
		return fail(e, "no dynamic symbol table");
	if (!inside(e, sym->sh_offset, sym->sh_size))
		return fail(e, "truncated file");
	if (sym->sh_entsize != sizeof(Elf64_Sym) || sym->sh_link == 0 ||
	    sym->sh_link >= e->shnum)
		return fail(e, "bad dynamic symbol table");
	if (section(e, sym->sh_link, str, 1) == -1)
		return -1;
	if (str->sh_type != SHT_STRTAB)
		return fail(e, "bad dynamic string table");
	return 0;
}

/* 1 if the string at off in str is name (of length len), 0 if not. */
static int
named(struct elf *e, const Elf64_Shdr *str, uint64_t off, const char *name,
    size_t len)
{
	char buf[NAME_MAX_BYTES];

	if (off >= str->sh_size || len + 1 > str->sh_size - off)
		return 0;
	if (rd(e, str->sh_offset + off, buf, len + 1) == -1)
		return -1;
	return memcmp(buf, name, len) == 0 && buf[len] == '\0';
}

/* Nonzero for a symbol the object defines and exports. */
static int
exported(const Elf64_Sym *s)
{
	int bind = ELF64_ST_BIND(s->st_info);

	return s->st_shndx != SHN_UNDEF &&
	    (bind == STB_GLOBAL || bind == STB_WEAK || bind == STB_GNU_UNIQUE);
}

static int
lookup(struct elf *e, const char *name, Elf64_Sym *out)
{
	Elf64_Shdr symtab, str;
	Elf64_Sym batch[SYM_BATCH];
	uint64_t n, i, k;
	size_t len = strlen(name);
	int r;

	if (len + 1 > NAME_MAX_BYTES)
		return fail(e, "symbol name too long");
	if (dynsym(e, &symtab, &str) == -1)
		return -1;
	n = symtab.sh_size / sizeof(Elf64_Sym);
	for (i = 0; i < n; i += k) {
		k = n - i < SYM_BATCH ? n - i : SYM_BATCH;
		if (rd(e, symtab.sh_offset + i * sizeof(Elf64_Sym), batch,
		    (size_t)k * sizeof(Elf64_Sym)) == -1)
			return -1;
		for (uint64_t j = 0; j < k; j++) {
			if (!exported(&batch[j]))
				continue;
			if ((r = named(e, &str, batch[j].st_name, name,
			    len)) != 0) {
				*out = batch[j];
				return r == 1 ? 0 : -1;
			}
		}
	}
	return fail(e, "no symbol %s", name);
}

/* Maps the address of a len-byte object to its offset in the file. */
static int
locate(struct elf *e, const char *name, uint64_t addr, uint64_t len,
    uint64_t *off)
{
	Elf64_Phdr ph;
	uint64_t d;

	for (uint64_t i = 0; i < e->phnum; i++) {
		if (entry(e, e->eh.e_phoff, i, &ph, sizeof(ph)) == -1)
			return -1;
		if (ph.p_type != PT_LOAD || addr < ph.p_vaddr ||
		    addr - ph.p_vaddr >= ph.p_memsz)
			continue;
		d = addr - ph.p_vaddr;
		if (d > ph.p_filesz || len > ph.p_filesz - d)
			return fail(e, "%s is not stored in the file", name);
		if (ph.p_offset > UINT64_MAX - d)
			return fail(e, "truncated file");
		*off = ph.p_offset + d;
		return 0;
	}
	return fail(e, "%s is outside the loaded segments", name);
}

int
wq_elf_read_symbol(int fd, const char *sym, void *buf, size_t len,
    char *err, size_t errlen)
{
	struct elf e = { .fd = fd, .err = err, .errlen = errlen };
	Elf64_Sym s;
	uint64_t off = 0;

	if (ident(&e) == -1 || tables(&e) == -1 || lookup(&e, sym, &s) == -1)
		return -1;
	if (ELF64_ST_TYPE(s.st_info) != STT_OBJECT)
		return fail(&e, "%s is not a data object", sym);
	if (s.st_shndx == SHN_ABS || s.st_shndx == SHN_COMMON)
		return fail(&e, "%s is not stored in the file", sym);
	if (s.st_size < len)
		return fail(&e, "%s is too small", sym);
	if (locate(&e, sym, s.st_value, len, &off) == -1)
		return -1;
	return rd(&e, off, buf, len);
}
