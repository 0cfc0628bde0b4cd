/*
 * name: the codec between Workers KV keys and file names.  Pure
 * functions, no state, no I/O, safe from any thread.
 *
 * Design note: the escape scheme.
 *
 * A key is 1 to 512 bytes of UTF-8 and is not "." or "..".  In the tree
 * layout a key is split at every '/' into segments; every segment is one
 * path component, and a directory is exactly a key prefix ending in '/'.
 * In the flat layout the whole key is one file name.  Each segment (or
 * flat key) becomes one file name; ordinary text appears verbatim.  The
 * escape character is '^'; an escape is always two bytes, so a name is
 * at most twice its segment and fits FUSE's 1024-byte name limit:
 *
 *   ^^        a literal '^'                    a^b       <-> a^^b
 *   ^@ ^A..^Z ^[ ^\ ^] ^_   bytes 0x00, 0x01..0x1a, 0x1b, 0x1c, 0x1d, 0x1f
 *   ^~        byte 0x1e (caret notation's ^^ is taken by the caret)
 *   ^?        byte 0x7f (DEL)                  "a\nb"    <-> a^Jb
 *   ^s        '/' (flat layout only)           user/1    <-> user^s1
 *   ^.        '.', used only to spell the segments "." and ".."
 *                                              ./a/../b  <-> ^./a/^../b
 *   ^e        the whole name: an empty segment (tree layout only)
 *                                              https://x <-> https:/^e/x
 *                                              a/        <-> a/^e
 *   ...^v     suffix: the value of a key whose plain name is taken by a
 *             directory (tree layout only): with keys "a" and "a/b",
 *             "a" is the directory and the value "a" is the file a^v.
 *
 * Every key maps to exactly one path and every name decodes to at most
 * one segment: a name that is not the canonical spelling of its segment
 * (for example "^.x", "^e" inside a longer name, "^s" in the tree
 * layout, a lone trailing '^', "^" followed by an unknown byte) is
 * malformed and decodes to -EINVAL.  A name that is not valid UTF-8 is
 * -EILSEQ, since no key can hold it.
 *
 * Readings chosen where the table above leaves room (name.c, tests):
 * - Canonical means "what name_encode writes": a name decodes only if
 *   encoding its result gives back the same bytes.  So ".." is spelled
 *   "^.." (only the first dot escaped), never "^.^."; raw control bytes,
 *   a raw '/', a bare "." or "..", and "" (not ^e) are all -EINVAL.
 * - ^e may be followed only by ^v: "^e^v" is the value whose segment is
 *   empty (keys "a/" and "a//b" give the directory a/^e and file a/^e^v).
 * - The flat layout has no "^.", "^e" or "^v": a flat name is a whole
 *   key, never empty, "." or "..", and never shadowed by a directory.
 *   name_encode returns -EINVAL for those (and for a '/' in a tree
 *   segment) and -EILSEQ for a segment that is not UTF-8.
 * - "At most twice the segment" leaves no room for ^v on a 512-byte
 *   segment of escapes (1026 bytes): name_encode says -ENAMETOOLONG.
 *   No valid key needs it: a key shadowed by a directory has a longer
 *   key below it, so it is at most 511 bytes and its name 1024.
 * - Decoding checks, in order: over 1024 bytes (-ENAMETOOLONG), then
 *   UTF-8 (-EILSEQ), then escapes left to right, where a segment that
 *   grows past 512 bytes is -ENAMETOOLONG and anything else -EINVAL.
 * - name_path_to_key accepts ^v on the last name only (a directory is
 *   never a value), so tools can pass a path as the mount shows it.
 */
#ifndef KVFS_NAME_H
#define KVFS_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_KEY_MAX  512  /* bytes of UTF-8 in a key, Workers KV's limit */
#define NAME_NAME_MAX 1024 /* bytes in one file name, FUSE's limit */

/* Flags for name_encode() and name_decode(). */
#define NAME_FLAT  1 /* flat layout: the name is a whole key */
#define NAME_VALUE 2 /* the name carries the ^v suffix */

/*
 * True if buf[0..len) is valid UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF.  U+0000 is valid.
 */
bool name_utf8_valid(const char *buf, size_t len);

/*
 * Check a whole key against Workers KV's rules.  Returns 0, -EINVAL for
 * an empty key or the keys "." and "..", -ENAMETOOLONG above 512 bytes,
 * -EILSEQ for invalid UTF-8.
 */
int name_key_check(const char *key, size_t len);

/*
 * Encode segment seg[0..seg_len) as a file name into out (room for
 * NAME_NAME_MAX + 1 bytes; the result is NUL-terminated).  flags:
 * NAME_FLAT, NAME_VALUE.  seg may be empty only in the tree layout.
 * Stores the name's length in *out_len.  Returns 0 or -ENAMETOOLONG if
 * the name would not fit (which no valid key can cause); -EINVAL and
 * -EILSEQ for a seg no valid key has (see the design note).
 */
int name_encode(const char *seg, size_t seg_len, int flags, char *out,
		size_t *out_len);

/*
 * Decode file name name[0..len) into its segment, written to out (room
 * for NAME_KEY_MAX bytes, not NUL-terminated), its length in *seg_len.
 * flags: NAME_FLAT for the flat layout.  *is_value is set when the name
 * carries the ^v suffix.  Returns 0, -EILSEQ (not UTF-8), -EINVAL
 * (malformed or non-canonical), -ENAMETOOLONG (segment over 512 bytes).
 */
int name_decode(const char *name, size_t len, int flags, char *out,
		size_t *seg_len, bool *is_value);

/*
 * Whole-key conversions, for tools and tests.  name_key_to_path writes
 * the relative path of key (components joined with '/', NUL-terminated)
 * into out, which has room for out_size bytes; no ^v suffix is added.
 * A key's path is at most 1538 bytes (512 slashes: 513 times ^e).
 * name_path_to_key is its inverse and fails as name_decode does; its out
 * has room for NAME_KEY_MAX bytes, not NUL-terminated.  Both return 0 or
 * a negative errno (-ENAMETOOLONG when out is too small, and the errors
 * of name_key_check for an invalid key).
 */
int name_key_to_path(const char *key, size_t len, int flags, char *out,
		     size_t out_size);
int name_path_to_key(const char *path, int flags, char *out, size_t *key_len);

#endif
