/*
 * Reading a shared object's exported data without loading it: enough ELF
 * to find a dynamic symbol and read the bytes it starts with from the file,
 * so a plugin's descriptor can be checked before dlopen runs any of its
 * code.  Every offset and size read from the file is bounds-checked: the
 * input is untrusted.
 */
#ifndef WQ_ELF_H
#define WQ_ELF_H

#include <stddef.h>

/*
 * Reads the first len bytes of the object the dynamic symbol sym names,
 * from the ELF file open on fd (native class and machine only).  Returns 0,
 * or -1 with a short reason in err ("not an ELF file", "no symbol
 * workqd_plugin", "built for another machine", ...).
 */
int	wq_elf_read_symbol(int fd, const char *sym, void *buf, size_t len,
	    char *err, size_t errlen);

#endif /* WQ_ELF_H */
