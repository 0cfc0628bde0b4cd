/*
 * fuzz_name: libFuzzer harness for the key <-> file name codec.  Any
 * name that decodes must be the canonical spelling of what it decodes
 * to; any valid key must survive key -> path -> key unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *name, size_t len, int flags)
{
	char seg[NAME_KEY_MAX], again[NAME_NAME_MAX + 1];
	size_t seg_len, again_len;
	bool is_value;

	if (name_decode(name, len, flags, seg, &seg_len, &is_value))
		return;
	if (name_encode(seg, seg_len, flags | (is_value ? NAME_VALUE : 0),
			again, &again_len))
		abort(); /* a decoded segment must encode */
	if (again_len != len || memcmp(again, name, len))
		abort(); /* two names for one segment */
}

static void check_key(const char *key, size_t len, int flags)
{
	char path[4 * NAME_NAME_MAX], back[NAME_KEY_MAX];
	size_t back_len;

	if (name_key_check(key, len))
		return;
	if (name_key_to_path(key, len, flags, path, sizeof(path)))
		abort(); /* every valid key has a path */
	if (name_path_to_key(path, flags, back, &back_len))
		abort();
	if (back_len != len || memcmp(back, key, len))
		abort(); /* the path names another key */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	if (size > 2 * NAME_NAME_MAX)
		return 0;
	check_name(s, size, 0);
	check_name(s, size, NAME_FLAT);
	check_key(s, size, 0);
	check_key(s, size, NAME_FLAT);
	return 0;
}
