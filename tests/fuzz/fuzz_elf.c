/*
 * libFuzzer target for core/elf.c: the loader reads a plugin's descriptor
 * from the file before anything else looks at it, so wq_elf_read_symbol
 * must refuse any input without reading outside it or crashing.
 *
 * Each input is written to a memfd (the function takes a descriptor) and
 * the descriptor's ABI header and its whole ABI 1 size are looked up, the
 * two reads module.c makes.  Seed corpus: tests/fuzz/corpus/elf.
 *
 *   clang -std=c11 -D_GNU_SOURCE -Icore -g -O1 \
 *     -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_elf.c core/elf.c \
 *     -o fuzz_elf && ./fuzz_elf -max_total_time=60 corpus tests/fuzz/corpus/elf
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf.h"
#include "workqd/plugin.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
input_fd(const uint8_t *data, size_t size)
{
	static int fd = -1;
	size_t done = 0;
	ssize_t n;

	if (fd == -1 && (fd = memfd_create("fuzz_elf", MFD_CLOEXEC)) == -1)
		abort();
	if (ftruncate(fd, 0) == -1)
		abort();
	while (done < size) {
		if ((n = pwrite(fd, data + done, size - done,
		    (off_t)done)) <= 0)
			abort();
		done += (size_t)n;
	}
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wq_plugin d;
	char err[256];
	int fd = input_fd(data, size);

	err[0] = '\0';
	if (wq_elf_read_symbol(fd, WQ_PLUGIN_SYMBOL, &d,
	    offsetof(struct wq_plugin, name), err, sizeof(err)) == -1) {
		/* A refusal always says why. */
		if (err[0] == '\0' || strlen(err) >= sizeof(err))
			abort();
		return 0;
	}
	(void)wq_elf_read_symbol(fd, WQ_PLUGIN_SYMBOL, &d, sizeof(d), err,
	    sizeof(err));
	return 0;
}
