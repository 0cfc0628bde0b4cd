/*
 * fuzz_config: libFuzzer harness for the configuration parser.  Any
 * text must either load (and free cleanly) or fail with one message
 * that starts with the file's name.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/kvfs-fuzz-config.XXXXXX", err[1024];
	struct config cfg;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	if (fd < 0)
		return 0;
	f = fdopen(fd, "w");
	if (!f || fwrite(data, 1, size, f) != size) {
		if (f)
			fclose(f);
		unlink(path);
		return 0;
	}
	fclose(f);
	err[0] = '\0';
	if (config_load(path, &cfg, err, sizeof(err)) == 0)
		config_free(&cfg);
	else if (strncmp(err, path, strlen(path)) != 0)
		abort(); /* every error names the file */
	unlink(path);
	return 0;
}
