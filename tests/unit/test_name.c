/*
 * test_name: the key <-> file name codec.  Exact examples for every row
 * of the table in name.h, in both layouts; a round-trip property over
 * random keys from a fixed seed; mutated names, which must either fail
 * or be exactly the canonical spelling of what they decode to; and the
 * documented errno of each malformed name and invalid key.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "name.h"

#include "check.h"

#define PATH_ROOM 4096 /* the longest path of a valid key is 1538 bytes */
#define ROUNDS	  20000
#define S(lit)	  lit, sizeof(lit) - 1 /* a literal with its length */

static const char *layout(int flags)
{
	return (flags & NAME_FLAT) ? "flat" : "tree";
}

/* Print bytes in C-string notation, for diagnostics. */
static void put_bytes(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void diag(const char *what, const char *s, size_t len, int rc)
{
	printf("# %s: ", what);
	put_bytes(stdout, s, len);
	printf(" (len %zu, rc %d)\n", len, rc);
}

static bool same(const char *a, size_t a_len, const char *b, size_t b_len)
{
	return a_len == b_len && memcmp(a, b, a_len) == 0;
}

/*
 * One row of the table: seg encodes to name with flags, and name
 * decodes back to seg with the value flag as given.
 */
static void check_name(const char *seg, size_t seg_len, int flags,
		       const char *name, size_t name_len, const char *what)
{
	char out[NAME_NAME_MAX + 1], back[NAME_KEY_MAX];
	size_t out_len = 0, back_len = 0;
	bool is_value = false, ok;
	int rc;

	rc = name_encode(seg, seg_len, flags, out, &out_len);
	ok = rc == 0 && same(out, out_len, name, name_len);
	CHECK(ok && out[out_len] == '\0', "%s: encode %s", layout(flags), what);

	rc = name_decode(name, name_len, flags, back, &back_len, &is_value);
	ok = rc == 0 && same(back, back_len, seg, seg_len);
	CHECK(ok && is_value == !!(flags & NAME_VALUE), "%s: decode %s",
	      layout(flags), what);
}

/* A whole key and its path, both directions. */
static void check_path(const char *key, size_t key_len, int flags,
		       const char *path, const char *what)
{
	char out[PATH_ROOM], back[NAME_KEY_MAX];
	size_t back_len = 0;
	int rc;

	rc = name_key_to_path(key, key_len, flags, out, sizeof(out));
	CHECK(rc == 0 && strcmp(out, path) == 0, "%s: key to path %s",
	      layout(flags), what);
	rc = name_path_to_key(path, flags, back, &back_len);
	CHECK(rc == 0 && same(back, back_len, key, key_len),
	      "%s: path to key %s", layout(flags), what);
}

/* How many of the len bytes at s are c, from the start. */
static size_t span(const char *s, size_t len, char c)
{
	size_t n = 0;

	while (n < len && s[n] == c)
		n++;
	return n;
}

static void check_decode_fails(const char *name, size_t len, int flags,
			       int want, const char *what)
{
	char out[NAME_KEY_MAX + 16];
	size_t seg_len = 0;
	bool is_value = false;
	int rc;

	/* Guard bytes past NAME_KEY_MAX show an overrun on any input. */
	memset(out, 0xa5, sizeof(out));
	rc = name_decode(name, len, flags, out, &seg_len, &is_value);
	for (size_t i = NAME_KEY_MAX; i < sizeof(out); i++)
		if ((unsigned char)out[i] != 0xa5)
			rc = -9999;
	CHECK(rc == want, "%s: %s is %d (got %d)", layout(flags), what, want,
	      rc);
}

static void test_table(void)
{
	static const char letters[] = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]~_";
	char seg[3], name[5];

	for (int f = 0; f <= NAME_FLAT; f += NAME_FLAT) {
		check_name(S("a^b"), f, S("a^^b"), "a^b <-> a^^b");
		check_name(S("^"), f, S("^^"), "^ <-> ^^");
		check_name(S("a\nb"), f, S("a^Jb"), "a\\nb <-> a^Jb");
		check_name(S("\x7f"), f, S("^?"), "DEL <-> ^?");
		check_name(S("\x1e"), f, S("^~"), "0x1e <-> ^~");
		check_name(S("caf\xc3\xa9 \xf0\x9f\x98\x80"), f,
			   S("caf\xc3\xa9 \xf0\x9f\x98\x80"),
			   "non-ASCII and spaces verbatim");
		check_name(S("e^v"), f, S("e^^v"), "e^v <-> e^^v");
		check_path(S("a^b"), f, "a^^b", "a^b");
		check_path(S("a\nb"), f, "a^Jb", "a\\nb");
	}

	/* Every control byte, alone and inside text, in both layouts. */
	for (int f = 0; f <= NAME_FLAT; f += NAME_FLAT) {
		bool all_ok = true;

		for (int c = 0; c < 0x20; c++) {
			char out[NAME_NAME_MAX + 1], back[NAME_KEY_MAX];
			size_t out_len = 0, back_len = 0;
			bool is_value;

			seg[0] = 'x', seg[1] = (char)c, seg[2] = 'y';
			name[0] = 'x', name[1] = '^', name[2] = letters[c];
			name[3] = 'y';
			if (name_encode(seg, 3, f, out, &out_len) != 0 ||
			    !same(out, out_len, name, 4) ||
			    name_decode(name, 4, f, back, &back_len,
					&is_value) != 0 ||
			    !same(back, back_len, seg, 3)) {
				diag("control byte", seg, 3, 0);
				all_ok = false;
			}
		}
		CHECK(all_ok,
		      "%s: bytes 0x00..0x1f <-> ^@ ^A..^Z ^[ ^\\ ^] ^~ ^_",
		      layout(f));
		check_name(S("\0"), f, S("^@"), "U+0000 <-> ^@");
		check_name(S("\x1b"), f, S("^["), "ESC <-> ^[");
		check_name(S("\x1c"), f, S("^\\"), "0x1c <-> ^\\");
		check_name(S("\x1f"), f, S("^_"), "0x1f <-> ^_");
	}

	/* '/': a separator in the tree, ^s in the flat layout. */
	check_name(S("user/1"), NAME_FLAT, S("user^s1"), "user/1 <-> user^s1");
	check_path(S("user/1"), NAME_FLAT, "user^s1", "user/1");
	check_path(S("user/1"), 0, "user/1", "user/1");

	/* "." and "..": escaped as segments, never keys of their own. */
	check_name(S("."), 0, S("^."), ". <-> ^.");
	check_name(S(".."), 0, S("^.."), ".. <-> ^..");
	check_name(S("..."), 0, S("..."), "... verbatim");
	check_name(S(".a"), 0, S(".a"), ".a verbatim");
	check_path(S("./a/../b"), 0, "^./a/^../b", "./a/../b");
	check_path(S("./a/../b"), NAME_FLAT, ".^sa^s..^sb", "./a/../b");

	/* Empty segments. */
	check_name(S(""), 0, S("^e"), "empty <-> ^e");
	check_path(S("https://x"), 0, "https:/^e/x", "https://x");
	check_path(S("https://x"), NAME_FLAT, "https:^s^sx", "https://x");
	check_path(S("a/"), 0, "a/^e", "a/");
	check_path(S("a/"), NAME_FLAT, "a^s", "a/");
	check_path(S("/"), 0, "^e/^e", "/");
	check_path(S("/"), NAME_FLAT, "^s", "/");
	check_path(S("https://example.com/a?b=c"), 0,
		   "https:/^e/example.com/a?b=c", "a URL");
	check_path(S("https://example.com/a?b=c"), NAME_FLAT,
		   "https:^s^sexample.com^sa?b=c", "a URL");

	/* The ^v suffix, tree layout only. */
	check_name(S("a"), NAME_VALUE, S("a^v"), "value a <-> a^v");
	check_name(S(""), NAME_VALUE, S("^e^v"), "value of empty <-> ^e^v");
	check_name(S("."), NAME_VALUE, S("^.^v"), "value . <-> ^.^v");
	check_name(S("a^"), NAME_VALUE, S("a^^^v"), "value a^ <-> a^^^v");
	check_name(S("a\n"), NAME_VALUE, S("a^J^v"), "value a\\n <-> a^J^v");
	check_name(S("a^v"), 0, S("a^^v"), "a^v <-> a^^v, not a value");
}

/* Encode seg with flags; the name's length, or a negative errno. */
static long enc(const char *seg, size_t seg_len, int flags)
{
	char out[NAME_NAME_MAX + 1];
	size_t out_len = 0;
	int rc = name_encode(seg, seg_len, flags, out, &out_len);

	if (rc == 0 && out[out_len] != '\0')
		return -9999;
	return rc ? rc : (long)out_len;
}

static void test_encode_errors(void)
{
	char seg[NAME_KEY_MAX + 1];

	CHECK(enc(S("a/b"), 0) == -EINVAL,
	      "tree: encoding a segment with '/' is -EINVAL");
	CHECK(enc(S(""), NAME_FLAT) == -EINVAL,
	      "flat: encoding the empty key is -EINVAL");
	CHECK(enc(S("."), NAME_FLAT) == -EINVAL,
	      "flat: encoding the key . is -EINVAL");
	CHECK(enc(S(".."), NAME_FLAT) == -EINVAL,
	      "flat: encoding the key .. is -EINVAL");
	CHECK(enc(S("a"), NAME_FLAT | NAME_VALUE) == -EINVAL,
	      "flat: ^v is -EINVAL");
	CHECK(enc(S("a\xff"), 0) == -EILSEQ,
	      "encoding invalid UTF-8 is -EILSEQ");

	memset(seg, 'a', sizeof(seg));
	CHECK(enc(seg, NAME_KEY_MAX + 1, 0) == -ENAMETOOLONG,
	      "encoding a 513-byte segment is -ENAMETOOLONG");
	CHECK(enc(seg, NAME_KEY_MAX, NAME_FLAT) == NAME_KEY_MAX,
	      "a 512-byte key encodes to 512 bytes");

	/* The worst cases: every byte escaped. */
	memset(seg, '\n', sizeof(seg));
	CHECK(enc(seg, NAME_KEY_MAX, NAME_FLAT) == NAME_NAME_MAX,
	      "512 escaped bytes fill exactly 1024 bytes");
	CHECK(enc(seg, NAME_KEY_MAX - 1, NAME_VALUE) == NAME_NAME_MAX,
	      "511 escaped bytes with ^v fill exactly 1024 bytes");
	CHECK(enc(seg, NAME_KEY_MAX, NAME_VALUE) == -ENAMETOOLONG,
	      "512 escaped bytes with ^v do not fit: -ENAMETOOLONG");
}

static void test_decode_errors(void)
{
	static const struct {
		const char *name;
		size_t len;
		int flags, err;
		const char *what;
	} bad[] = {
	    {S("^"), 0, -EINVAL, "a lone ^"},
	    {S("a^"), 0, -EINVAL, "a lone trailing ^"},
	    {S("a^"), NAME_FLAT, -EINVAL, "a lone trailing ^"},
	    {S("^x"), 0, -EINVAL, "^ + unknown byte x"},
	    {S("^a"), NAME_FLAT, -EINVAL, "^ + unknown byte a"},
	    {S("^0"), 0, -EINVAL, "^ + unknown byte 0"},
	    {S("^ "), 0, -EINVAL, "^ + space"},
	    {S("^`"), 0, -EINVAL, "^ + backquote"},
	    {S("^/"), NAME_FLAT, -EINVAL, "^ + /"},
	    {S("^\xc3\xa9"), 0, -EINVAL, "^ + non-ASCII"},
	    {S("^s"), 0, -EINVAL, "^s in the tree layout"},
	    {S("a^sb"), 0, -EINVAL, "^s in the tree layout"},
	    {S("^e"), NAME_FLAT, -EINVAL, "^e in the flat layout"},
	    {S("a^e"), 0, -EINVAL, "^e after text"},
	    {S("^ea"), 0, -EINVAL, "^e before text"},
	    {S("^e^e"), 0, -EINVAL, "^e twice"},
	    {S("^e^@"), 0, -EINVAL, "^e before an escape"},
	    {S("^v^e"), 0, -EINVAL, "^v before ^e"},
	    {S("^.x"), 0, -EINVAL, "^.x"},
	    {S("x^."), 0, -EINVAL, "x^."},
	    {S("^.^."), 0, -EINVAL, "^.^. for .."},
	    {S("^..."), 0, -EINVAL, "^... for ..."},
	    {S("^."), NAME_FLAT, -EINVAL, "^. (the key .)"},
	    {S("^.."), NAME_FLAT, -EINVAL, "^.. (the key ..)"},
	    {S("."), 0, -EINVAL, "a bare ."},
	    {S(".."), 0, -EINVAL, "a bare .."},
	    {S(""), 0, -EINVAL, "the empty name"},
	    {S(""), NAME_FLAT, -EINVAL, "the empty name"},
	    {S("a^v"), NAME_FLAT, -EINVAL, "^v in the flat layout"},
	    {S("^v"), 0, -EINVAL, "^v alone (empty is ^e^v)"},
	    {S("a^vb"), 0, -EINVAL, "^v before the end"},
	    {S("a^v^v"), 0, -EINVAL, "^v twice"},
	    {S("a/b"), 0, -EINVAL, "a raw /"},
	    {S("a/b"), NAME_FLAT, -EINVAL, "a raw / (must be ^s)"},
	    {S("a\0b"), 0, -EINVAL, "a raw NUL"},
	    {S("a\nb"), NAME_FLAT, -EINVAL, "a raw control byte"},
	    {S("a\x7f"), 0, -EINVAL, "a raw DEL"},
	    {S("\xff"), 0, -EILSEQ, "byte 0xff"},
	    {S("a\x80"), 0, -EILSEQ, "a lone continuation byte"},
	    {S("a\xc3"), NAME_FLAT, -EILSEQ, "a truncated character"},
	    {S("\xe2\x82"), 0, -EILSEQ, "a truncated 3-byte character"},
	    {S("\xc0\xaf"), 0, -EILSEQ, "overlong 2-byte /"},
	    {S("\xc1\xbf"), 0, -EILSEQ, "overlong 2-byte DEL"},
	    {S("\xe0\x80\xaf"), NAME_FLAT, -EILSEQ, "overlong 3-byte /"},
	    {S("\xe0\x9f\xbf"), 0, -EILSEQ, "overlong 3-byte U+07FF"},
	    {S("\xf0\x80\x80\xaf"), 0, -EILSEQ, "overlong 4-byte /"},
	    {S("\xf0\x8f\xbf\xbf"), 0, -EILSEQ, "overlong 4-byte U+FFFF"},
	    {S("\xed\xa0\x80"), 0, -EILSEQ, "surrogate U+D800"},
	    {S("\xed\xbf\xbf"), NAME_FLAT, -EILSEQ, "surrogate U+DFFF"},
	    {S("\xf4\x90\x80\x80"), 0, -EILSEQ, "U+110000"},
	    {S("\xf5\x80\x80\x80"), 0, -EILSEQ, "lead byte 0xf5"},
	    {S("^\xff"), 0, -EILSEQ, "^ + invalid UTF-8 (EILSEQ first)"},
	};
	char name[2 * NAME_NAME_MAX], out[NAME_KEY_MAX];
	size_t seg_len = 0;
	bool is_value = true;
	int rc;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_decode_fails(bad[i].name, bad[i].len, bad[i].flags,
				   bad[i].err, bad[i].what);

	/* Length limits, with guard bytes behind the output. */
	memset(name, 'a', sizeof(name));
	check_decode_fails(name, NAME_KEY_MAX + 1, 0, -ENAMETOOLONG,
			   "a 513-byte segment");
	check_decode_fails(name, NAME_KEY_MAX + 1, NAME_FLAT, -ENAMETOOLONG,
			   "a 513-byte key");
	check_decode_fails(name, NAME_NAME_MAX + 1, 0, -ENAMETOOLONG,
			   "a 1025-byte name");
	check_decode_fails(name, sizeof(name), NAME_FLAT, -ENAMETOOLONG,
			   "a 2048-byte name");
	for (size_t i = 0; i + 1 < sizeof(name); i += 2)
		name[i] = '^', name[i + 1] = 'A';
	check_decode_fails(name, NAME_NAME_MAX + 2, 0, -ENAMETOOLONG,
			   "513 escapes (1026 bytes)");
	memcpy(name + NAME_NAME_MAX, "^v", 2);
	check_decode_fails(name, NAME_NAME_MAX + 2, 0, -ENAMETOOLONG,
			   "512 escapes + ^v (1026 bytes)");
	memcpy(name, "^^", 2);
	check_decode_fails(name, NAME_NAME_MAX - 1, 0, -EINVAL,
			   "511 escapes + lone ^");

	/* And the largest names that are fine. */
	for (size_t i = 0; i + 1 < sizeof(name); i += 2)
		name[i] = '^', name[i + 1] = 'A';
	rc = name_decode(name, NAME_NAME_MAX, 0, out, &seg_len, &is_value);
	CHECK(rc == 0 && seg_len == NAME_KEY_MAX && !is_value,
	      "512 escapes (1024 bytes) decode to 512 bytes");
	memcpy(name + NAME_NAME_MAX - 2, "^v", 2);
	rc = name_decode(name, NAME_NAME_MAX, 0, out, &seg_len, &is_value);
	CHECK(rc == 0 && seg_len == NAME_KEY_MAX - 1 && is_value,
	      "511 escapes + ^v (1024 bytes) decode to a value");
}

static void test_key_check(void)
{
	char key[NAME_KEY_MAX + 1];

	memset(key, 'k', sizeof(key));
	CHECK(name_key_check(key, 0) == -EINVAL, "key check: empty is -EINVAL");
	CHECK(name_key_check(S(".")) == -EINVAL, "key check: . is -EINVAL");
	CHECK(name_key_check(S("..")) == -EINVAL, "key check: .. is -EINVAL");
	CHECK(name_key_check(key, NAME_KEY_MAX + 1) == -ENAMETOOLONG,
	      "key check: 513 bytes is -ENAMETOOLONG");
	CHECK(name_key_check(key, NAME_KEY_MAX) == 0,
	      "key check: 512 bytes is fine");
	CHECK(name_key_check(S("a\xc3(")) == -EILSEQ,
	      "key check: invalid UTF-8 is -EILSEQ");
	CHECK(name_key_check(S("\xed\xa0\x80")) == -EILSEQ,
	      "key check: a surrogate is -EILSEQ");
	CHECK(name_key_check(S("\0")) == 0, "key check: U+0000 is fine");
	CHECK(name_key_check(S("...")) == 0, "key check: ... is fine");
	CHECK(name_key_check(S("./")) == 0, "key check: ./ is fine");
	CHECK(name_key_check(S("/")) == 0, "key check: / is fine");
	CHECK(name_key_check(S(" \t\x7f")) == 0,
	      "key check: spaces and control bytes are fine");

	CHECK(name_utf8_valid(S("\0\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80"
				"\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
				"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf")),
	      "utf8: the boundary code points are valid");
	CHECK(!name_utf8_valid(S("\xc2")), "utf8: a truncated 2-byte form");
	CHECK(!name_utf8_valid(S("\xe0\xa0")), "utf8: a truncated 3-byte form");
	CHECK(!name_utf8_valid(S("\xf0\x90\x80")),
	      "utf8: a truncated 4-byte form");
	CHECK(!name_utf8_valid(S("\xc2\xc0")), "utf8: a bad continuation");
	CHECK(!name_utf8_valid(S("\xe1\x80\x20")),
	      "utf8: ASCII inside a 3-byte form");
}

static void test_path_errors(void)
{
	char key[NAME_KEY_MAX + 1], out[PATH_ROOM];
	size_t key_len = 0;
	int rc;

	CHECK(name_key_to_path(S("."), 0, out, sizeof(out)) == -EINVAL,
	      "key to path: the key . is -EINVAL");
	CHECK(name_key_to_path(S(".."), NAME_FLAT, out, sizeof(out)) == -EINVAL,
	      "key to path: the key .. is -EINVAL");
	CHECK(name_key_to_path(S(""), 0, out, sizeof(out)) == -EINVAL,
	      "key to path: the empty key is -EINVAL");
	CHECK(name_key_to_path(S("\xff"), 0, out, sizeof(out)) == -EILSEQ,
	      "key to path: invalid UTF-8 is -EILSEQ");
	rc = name_key_to_path(S("a/b"), 0, out, 4);
	CHECK(rc == 0 && strcmp(out, "a/b") == 0,
	      "key to path: an exact fit works");
	CHECK(name_key_to_path(S("a/b"), 0, out, 3) == -ENAMETOOLONG,
	      "key to path: no room for the NUL is -ENAMETOOLONG");
	CHECK(name_key_to_path(S("a/"), 0, out, 4) == -ENAMETOOLONG,
	      "key to path: no room for ^e is -ENAMETOOLONG");
	CHECK(name_key_to_path(S("a"), 0, out, 0) == -ENAMETOOLONG,
	      "key to path: no room at all is -ENAMETOOLONG");

	/* Full just before a '/': nothing may be written past out_size. */
	memset(out, 0xa5, 16);
	rc = name_key_to_path(S("a/b"), 0, out, 2);
	CHECK(rc == -ENAMETOOLONG && span(out + 2, 14, (char)0xa5) == 14,
	      "key to path: full at a '/' is -ENAMETOOLONG, no overrun");

	memset(key, '/', sizeof(key));
	rc = name_key_to_path(key, NAME_KEY_MAX, 0, out, sizeof(out));
	CHECK(rc == 0 && strlen(out) == 513 * 2 + 512,
	      "key to path: 512 slashes make 513 ^e names, 1538 bytes");

	rc = name_path_to_key("a/b^v", 0, key, &key_len);
	CHECK(rc == 0 && same(key, key_len, S("a/b")),
	      "path to key: ^v on the last name is accepted");
	CHECK(name_path_to_key("a^v/b", 0, key, &key_len) == -EINVAL,
	      "path to key: ^v on a directory is -EINVAL");
	CHECK(name_path_to_key("/a", 0, key, &key_len) == -EINVAL,
	      "path to key: a leading / (not ^e/) is -EINVAL");
	CHECK(name_path_to_key("a/", 0, key, &key_len) == -EINVAL,
	      "path to key: a trailing / (not /^e) is -EINVAL");
	CHECK(name_path_to_key("a//b", 0, key, &key_len) == -EINVAL,
	      "path to key: // (not /^e/) is -EINVAL");
	CHECK(name_path_to_key("", 0, key, &key_len) == -EINVAL,
	      "path to key: the empty path is -EINVAL");
	CHECK(name_path_to_key("^.", 0, key, &key_len) == -EINVAL,
	      "path to key: the key . is -EINVAL");
	CHECK(name_path_to_key("^..", NAME_FLAT, key, &key_len) == -EINVAL,
	      "path to key: the key .. is -EINVAL");
	rc = name_path_to_key("^./a", 0, key, &key_len);
	CHECK(rc == 0 && same(key, key_len, S("./a")),
	      "path to key: ^./a is the key ./a");
	CHECK(name_path_to_key("a/b", NAME_FLAT, key, &key_len) == -EINVAL,
	      "path to key: flat: a raw / is -EINVAL");
	CHECK(name_path_to_key("a/^s", 0, key, &key_len) == -EINVAL,
	      "path to key: tree: ^s is -EINVAL");
	CHECK(name_path_to_key("a/\xc3", 0, key, &key_len) == -EILSEQ,
	      "path to key: invalid UTF-8 is -EILSEQ");

	/* 256 names "aa" and 255 slashes: 767 bytes of key. */
	{
		char path[3 * 256];

		for (int i = 0; i < 256; i++)
			memcpy(path + 3 * i, "aa/", 3);
		path[sizeof(path) - 1] = '\0';
		rc = name_path_to_key(path, 0, key, &key_len);
		CHECK(rc == -ENAMETOOLONG,
		      "path to key: a 767-byte key is -ENAMETOOLONG");
		path[3 * 170 + 2] = '\0'; /* 171 names: 512 bytes */
		rc = name_path_to_key(path, 0, key, &key_len);
		CHECK(rc == 0 && key_len == NAME_KEY_MAX,
		      "path to key: a 512-byte key of 171 names is fine");
		path[3 * 170 + 2] = '/';
		path[3 * 171] = 'a', path[3 * 171 + 1] = '\0';
		rc = name_path_to_key(path, 0, key, &key_len);
		CHECK(rc == -ENAMETOOLONG,
		      "path to key: a 514-byte key is -ENAMETOOLONG");
		path[3 * 171] = '^', path[3 * 171 + 1] = 'e';
		path[3 * 171 + 2] = '\0';
		rc = name_path_to_key(path, 0, key, &key_len);
		CHECK(rc == -ENAMETOOLONG,
		      "path to key: 512 bytes + '/' + ^e is -ENAMETOOLONG");
	}
}

/* splitmix64: a fixed sequence on every platform, unlike rand(). */
static uint64_t rng_state = 0x6b7666732d6e616dULL;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint32_t pick(uint32_t n)
{
	return (uint32_t)(rng() % n);
}

/* Append code point cp as UTF-8 if it fits in room bytes. */
static size_t put_utf8(char *p, size_t room, uint32_t cp)
{
	if (cp < 0x80 && room >= 1) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp >= 0x80 && cp < 0x800 && room >= 2) {
		p[0] = (char)(0xc0 | cp >> 6);
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp >= 0x800 && cp < 0x10000 && room >= 3) {
		p[0] = (char)(0xe0 | cp >> 12);
		p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp >= 0x10000 && room >= 4) {
		p[0] = (char)(0xf0 | cp >> 18);
		p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		p[3] = (char)(0x80 | (cp & 0x3f));
		return 4;
	}
	return 0;
}

/* What the generated keys held, to show the mix really happened. */
struct mix {
	int full, only_slashes, nul, control, caret, multi[5], url, lead_slash,
	    trail_slash, slash_run, dot_seg;
};

/* Append one random piece to key[*len..max); always whole characters. */
static void put_piece(char *key, size_t *len, size_t max)
{
	static const char *const words[] = {
	    "https://example.com/a?b=c",
	    "http://x/",
	    "s3://bucket//key",
	    "file:///etc/passwd",
	    "^e",
	    "^v",
	    "^s",
	    "^.",
	    "^^",
	    "^e^v",
	    ".",
	    "..",
	    "...",
	    "/./",
	    "/../",
	    "%2F",
	    " ",
	    "user:42",
	    "\xef\xbb\xbf", /* U+FEFF */
	};
	size_t room = max - *len, k;
	uint32_t cp;

	switch (pick(10)) {
	case 0: {
		const char *w = words[pick(sizeof(words) / sizeof(words[0]))];

		k = strlen(w);
		if (k <= room)
			memcpy(key + *len, w, k), *len += k;
		return;
	}
	case 1: /* a run of slashes */
		for (k = 1 + pick(6); k && *len < max; k--)
			key[(*len)++] = '/';
		return;
	case 2: /* a control byte, U+0000 or DEL */
		cp = pick(0x21);
		cp = cp == 0x20 ? 0x7f : cp;
		break;
	case 3:
		cp = '^';
		break;
	case 4:
		cp = 0x80 + pick(0x800 - 0x80);
		break;
	case 5: /* 3 bytes, skipping the surrogates */
		cp = 0x800 + pick(0x10000 - 0x800 - 0x800);
		cp = cp >= 0xd800 ? cp + 0x800 : cp;
		break;
	case 6:
		cp = 0x10000 + pick(0x110000 - 0x10000);
		break;
	default:
		cp = 0x20 + pick(0x5f); /* printable ASCII */
		break;
	}
	*len += put_utf8(key + *len, room, cp);
}

static size_t make_key(char *key, struct mix *mix)
{
	size_t len = 0, target;

	switch (pick(16)) {
	case 0: /* only slashes */
		len = pick(8) ? 1 + pick(12) : 1 + pick(NAME_KEY_MAX);
		memset(key, '/', len);
		break;
	case 1: /* exactly 512 bytes: pieces, then one-byte fill */
	case 2:
		for (int i = 0; i < 60; i++)
			put_piece(key, &len, NAME_KEY_MAX);
		while (len < NAME_KEY_MAX)
			key[len++] = "/^a\n\0."[pick(6)];
		break;
	default:
		target = pick(4) ? 1 + pick(40) : 1 + pick(NAME_KEY_MAX);
		while (len < target)
			put_piece(key, &len, target);
		break;
	}

	/* "." and ".." are the only invalid keys the pieces can form. */
	if (len == 0 || (len <= 2 && memcmp(key, "..", len) == 0))
		key[len++] = 'x';

	mix->full += len == NAME_KEY_MAX;
	mix->only_slashes += len == span(key, len, '/');
	mix->nul += memchr(key, '\0', len) != NULL;
	mix->lead_slash += key[0] == '/';
	mix->trail_slash += key[len - 1] == '/';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = key[i];

		if (c < 0x20 || c == 0x7f)
			mix->control++;
		if (c == '^')
			mix->caret++;
		if (c >= 0xc0)
			mix->multi[c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2]++;
		if (i + 1 < len && c == '/' && key[i + 1] == '/')
			mix->slash_run++;
		if (c == '/' && i + 2 < len && key[i + 1] == '.' &&
		    key[i + 2] == '/')
			mix->dot_seg++;
	}
	mix->url += len >= 25 && memmem(key, len, S("example.com/a?b=c")) != 0;
	return len;
}

/* Failures of each property, and the first offending key of each. */
struct tally {
	long bad_key, to_path, from_path, name_shape, name_value, joined;
};

static void note(long *count, const char *what, const char *key, size_t len,
		 int rc)
{
	if ((*count)++ == 0)
		diag(what, key, len, rc);
}

/*
 * Every segment on its own: the name is at most twice the segment (^e
 * for the empty one), has no '/' and no NUL, decodes back; with ^v when
 * the key is short enough to be shadowed by a directory.
 */
static void check_segments(const char *key, size_t len, const char *path,
			   struct tally *t)
{
	char name[NAME_NAME_MAX + 1], back[NAME_KEY_MAX], joined[PATH_ROOM];
	size_t start = 0, joined_len = 0;

	for (;;) {
		const char *slash = memchr(key + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - key) : len;
		size_t seg_len = end - start, name_len = 0, back_len = 0;
		bool is_value = true;
		int rc;

		rc = name_encode(key + start, seg_len, 0, name, &name_len);
		if (rc != 0 || name_len > NAME_NAME_MAX ||
		    name_len > (seg_len ? 2 * seg_len : 2) ||
		    memchr(name, '/', name_len) || memchr(name, 0, name_len))
			note(&t->name_shape, "bad segment name", key, len, rc);
		rc = name_decode(name, name_len, 0, back, &back_len, &is_value);
		if (rc != 0 || is_value ||
		    !same(back, back_len, key + start, seg_len))
			note(&t->name_shape, "segment round trip", key, len,
			     rc);
		memcpy(joined + joined_len, name, name_len);
		joined_len += name_len;

		/* A key under a directory of its own is at most 511 bytes. */
		if (len < NAME_KEY_MAX) {
			rc = name_encode(key + start, seg_len, NAME_VALUE, name,
					 &name_len);
			if (rc == 0)
				rc = name_decode(name, name_len, 0, back,
						 &back_len, &is_value);
			if (rc != 0 || name_len > NAME_NAME_MAX || !is_value ||
			    !same(back, back_len, key + start, seg_len))
				note(&t->name_value, "value round trip", key,
				     len, rc);
		}
		if (!slash)
			break;
		joined[joined_len++] = '/';
		start = end + 1;
	}
	if (!same(joined, joined_len, path, strlen(path)))
		note(&t->joined, "path is not the joined names", key, len, 0);
}

static void round_trip(const char *key, size_t len, int flags, struct tally *t)
{
	char path[PATH_ROOM], back[NAME_KEY_MAX];
	size_t back_len = 0, path_len;
	int rc;

	rc = name_key_to_path(key, len, flags, path, sizeof(path));
	if (rc != 0) {
		note(&t->to_path, "key to path", key, len, rc);
		return;
	}
	path_len = strlen(path);
	if (flags & NAME_FLAT) {
		char name[NAME_NAME_MAX + 1];
		size_t name_len = 0;

		rc = name_encode(key, len, flags, name, &name_len);
		if (rc != 0 || !same(name, name_len, path, path_len) ||
		    name_len > 2 * len || memchr(name, '/', name_len) ||
		    memchr(name, 0, name_len))
			note(&t->name_shape, "flat name shape", key, len, rc);
	}
	rc = name_path_to_key(path, flags, back, &back_len);
	if (rc != 0 || !same(back, back_len, key, len))
		note(&t->from_path, "path to key", key, len, rc);
	if (!(flags & NAME_FLAT))
		check_segments(key, len, path, t);
}

static void test_round_trip(void)
{
	struct mix mix = {0};
	struct tally t = {0};
	char key[NAME_KEY_MAX];

	for (int i = 0; i < ROUNDS; i++) {
		size_t len = make_key(key, &mix);

		if (name_key_check(key, len) != 0) {
			note(&t.bad_key, "generated an invalid key", key, len,
			     name_key_check(key, len));
			continue;
		}
		round_trip(key, len, 0, &t);
		round_trip(key, len, NAME_FLAT, &t);
	}

	printf("# %d keys: %d of 512 bytes, %d only slashes, %d with U+0000,"
	       " %d URLs, %d with leading and %d with trailing '/'\n",
	       ROUNDS, mix.full, mix.only_slashes, mix.nul, mix.url,
	       mix.lead_slash, mix.trail_slash);
	printf("# bytes: %d control, %d '^', %d/%d/%d 2/3/4-byte characters,"
	       " %d '//', %d '/./'\n",
	       mix.control, mix.caret, mix.multi[2], mix.multi[3], mix.multi[4],
	       mix.slash_run, mix.dot_seg);
	CHECK(mix.full > 100 && mix.only_slashes > 100 && mix.nul > 1000 &&
		  mix.url > 100 && mix.lead_slash > 1000 &&
		  mix.trail_slash > 1000 && mix.caret > 1000 &&
		  mix.multi[2] > 1000 && mix.multi[3] > 1000 &&
		  mix.multi[4] > 1000 && mix.slash_run > 1000 &&
		  mix.dot_seg > 100,
	      "round trip: the %d random keys cover every kind of input",
	      ROUNDS);
	CHECK(t.bad_key == 0, "round trip: all generated keys are valid (%ld)",
	      t.bad_key);
	CHECK(t.to_path == 0 && t.from_path == 0,
	      "round trip: path to key inverts key to path, both layouts "
	      "(%ld, %ld failures)",
	      t.to_path, t.from_path);
	CHECK(t.name_shape == 0 && t.joined == 0,
	      "round trip: names at most 1024 bytes and twice the segment, "
	      "no '/', no NUL (%ld, %ld failures)",
	      t.name_shape, t.joined);
	CHECK(t.name_value == 0, "round trip: ^v names fit and decode (%ld)",
	      t.name_value);
}

/*
 * Damage a canonical name at random.  Whatever still decodes must be
 * exactly the canonical spelling of its result; everything else must
 * fail with one of the documented errors.
 */
static void test_mutations(void)
{
	static const char spice[] = "^/\0evs.~?@A_\x7f\x80\xc3\xff";
	long accepted = 0, rejected = 0, wrong = 0;
	char key[NAME_KEY_MAX];
	struct mix mix = {0};

	for (int i = 0; i < ROUNDS; i++) {
		char name[NAME_NAME_MAX + 8], seg[NAME_KEY_MAX];
		char again[NAME_NAME_MAX + 1];
		size_t len = make_key(key, &mix), name_len, seg_len, again_len;
		int flags = pick(2) ? NAME_FLAT : 0, rc;
		bool is_value;

		/* A tree name is the first segment, half of them with ^v. */
		if (!flags && memchr(key, '/', len))
			len = (size_t)((char *)memchr(key, '/', len) - key);
		if (!flags && pick(2))
			flags = NAME_VALUE;
		if (name_encode(key, len, flags, name, &name_len) != 0)
			continue;

		for (int m = 1 + pick(3); m; m--) {
			size_t at = pick(name_len + 1);
			char c = spice[pick(sizeof(spice) - 1)];

			if (pick(4) == 0)
				c = (char)pick(256);
			switch (pick(3)) {
			case 0: /* replace */
				if (at < name_len)
					name[at] = c;
				break;
			case 1: /* insert */
				memmove(name + at + 1, name + at,
					name_len - at);
				name[at] = c;
				name_len++;
				break;
			default: /* delete */
				if (at < name_len) {
					memmove(name + at, name + at + 1,
						name_len - at - 1);
					name_len--;
				}
				break;
			}
		}

		flags &= NAME_FLAT; /* decoding reads ^v from the name */
		rc = name_decode(name, name_len, flags, seg, &seg_len,
				 &is_value);
		if (rc == 0) {
			accepted++;
			rc = name_encode(seg, seg_len,
					 flags | (is_value ? NAME_VALUE : 0),
					 again, &again_len);
			if (rc != 0 || !same(again, again_len, name, name_len))
				note(&wrong, "non-canonical name accepted",
				     name, name_len, rc);
		} else if (rc == -EINVAL || rc == -EILSEQ ||
			   rc == -ENAMETOOLONG) {
			rejected++;
		} else {
			note(&wrong, "undocumented error", name, name_len, rc);
		}
	}
	printf("# mutated names: %ld decoded, %ld rejected\n", accepted,
	       rejected);
	CHECK(wrong == 0 && accepted > 1000 && rejected > 1000,
	      "mutations: every name that decodes is canonical, the rest "
	      "fail with a documented errno (%ld wrong)",
	      wrong);
}

int main(void)
{
	test_table();
	test_encode_errors();
	test_decode_errors();
	test_key_check();
	test_path_errors();
	test_round_trip();
	test_mutations();
	printf("1..%d\n", check_count);
	return CHECK_DONE();
}
