/*
 * name: the codec between Workers KV keys and file names; the grammar
 * and the decisions behind it are in the design note in name.h.
 *
 * This runs on every lookup, so it must never allocate, lock, log or
 * touch the file system.  Decoding proves a name canonical by encoding
 * the result again and comparing: one encoder is the single definition
 * of the grammar, so the two directions cannot drift apart.
 */
#include <errno.h>
#include <string.h>

#include "name.h"

/* The keys "." and ".." are invalid; the segments are spelled ^. ^.. */
static bool is_dot_or_dotdot(const char *s, size_t len)
{
	return (len == 1 && s[0] == '.') ||
	       (len == 2 && s[0] == '.' && s[1] == '.');
}

bool name_utf8_valid(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i], lo = 0x80, hi = 0xbf;
		size_t more;

		if (c < 0x80) {
			i++;
			continue;
		}

		/* 0x80..0xc1 never lead; 0xf5.. would exceed U+10FFFF. */
		if (c >= 0xc2 && c <= 0xdf)
			more = 1;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3;
		else
			return false;

		/*
		 * Only the second byte's range differs from 0x80..0xbf; it
		 * is what rules out overlong forms (e0, f0), surrogates (ed)
		 * and code points above U+10FFFF (f4).
		 */
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (len - i - 1 < more || p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= more; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
		i += more + 1;
	}
	return true;
}

int name_key_check(const char *key, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > NAME_KEY_MAX)
		return -ENAMETOOLONG;
	if (!name_utf8_valid(key, len))
		return -EILSEQ;
	if (is_dot_or_dotdot(key, len))
		return -EINVAL;
	return 0;
}

/*
 * The letter that follows '^' to spell byte c, or 0 if c stands for
 * itself.  Control bytes use caret notation (c ^ 0x40), except 0x1e,
 * whose caret notation would be "^^", the escaped caret.
 */
static char escape_letter(unsigned char c, bool is_flat)
{
	if (c == '^')
		return '^';
	if (c == 0x1e)
		return '~';
	if (c < 0x20 || c == 0x7f)
		return (char)(c ^ 0x40);
	if (c == '/' && is_flat)
		return 's';
	return 0;
}

/*
 * The byte that '^' followed by letter e spells, or -1.  ^e and ^v
 * are not bytes and are handled by the caller.  ^. is accepted
 * anywhere here; the canonical check confines it to "." and "..".
 */
static int escaped_byte(unsigned char e, bool is_flat)
{
	if (e == '^' || e == '.')
		return e;
	if (e == '~')
		return 0x1e;
	if (e == '?')
		return 0x7f;
	if (e >= '@' && e <= '_')
		return e ^ 0x40;
	if (e == 's' && is_flat)
		return '/';
	return -1;
}

/* Append s[0..k) to out, which holds cap bytes, *n of them used. */
static int emit(char *out, size_t cap, size_t *n, const char *s, size_t k)
{
	if (k > cap - *n)
		return -ENAMETOOLONG;
	memcpy(out + *n, s, k);
	*n += k;
	return 0;
}

/*
 * Encode seg into out, which holds cap bytes; no NUL is added.  The
 * caller has checked that seg is UTF-8 (every segment of a valid key
 * is, since '/' never occurs inside a multi-byte character).
 */
static int encode_into(const char *seg, size_t len, int flags, char *out,
		       size_t cap, size_t *out_len)
{
	bool is_flat = flags & NAME_FLAT;
	size_t n = 0;
	int rc = 0;

	if (len > NAME_KEY_MAX)
		return -ENAMETOOLONG;

	/*
	 * A flat name is a whole key, so it is never empty, "." or "..",
	 * and it has no directory to collide with, so never takes ^v.
	 */
	if (is_flat &&
	    (len == 0 || is_dot_or_dotdot(seg, len) || (flags & NAME_VALUE)))
		return -EINVAL;
	if (!is_flat && memchr(seg, '/', len))
		return -EINVAL;

	if (len == 0) {
		rc = emit(out, cap, &n, "^e", 2);
	} else if (is_dot_or_dotdot(seg, len)) {
		rc = emit(out, cap, &n, "^..", len + 1);
	} else {
		for (size_t i = 0; i < len && rc == 0; i++) {
			unsigned char c = (unsigned char)seg[i];
			char esc[2] = {'^', escape_letter(c, is_flat)};

			if (esc[1])
				rc = emit(out, cap, &n, esc, 2);
			else
				rc = emit(out, cap, &n, seg + i, 1);
		}
	}
	if (rc == 0 && (flags & NAME_VALUE))
		rc = emit(out, cap, &n, "^v", 2);
	if (rc)
		return rc;

	*out_len = n;
	return 0;
}

int name_encode(const char *seg, size_t seg_len, int flags, char *out,
		size_t *out_len)
{
	int rc;

	if (seg_len > NAME_KEY_MAX)
		return -ENAMETOOLONG;
	if (!name_utf8_valid(seg, seg_len))
		return -EILSEQ;

	rc = encode_into(seg, seg_len, flags, out, NAME_NAME_MAX, out_len);
	if (rc)
		return rc;
	out[*out_len] = '\0';
	return 0;
}

/*
 * Decode name into out, which holds cap bytes (at most NAME_KEY_MAX);
 * a longer segment is -ENAMETOOLONG.  Only NAME_FLAT of flags counts:
 * whether the name is a value is read from the name, not told.
 */
static int decode_into(const char *name, size_t len, int flags, char *out,
		       size_t cap, size_t *seg_len, bool *is_value)
{
	bool is_flat = flags & NAME_FLAT;
	char canon[NAME_NAME_MAX];
	size_t n = 0, canon_len;
	bool has_value = false;
	int rc;

	flags &= NAME_FLAT;
	if (len > NAME_NAME_MAX)
		return -ENAMETOOLONG;
	if (!name_utf8_valid(name, len))
		return -EILSEQ;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		int b = c;

		if (c == '^') {
			if (i + 1 == len)
				return -EINVAL;
			c = (unsigned char)name[++i];
			if (c == 'e' && !is_flat && i == 1)
				continue;
			if (c == 'v' && !is_flat && i + 1 == len) {
				has_value = true;
				continue;
			}
			b = escaped_byte(c, is_flat);
			if (b < 0)
				return -EINVAL;
		}
		if (n == cap)
			return -ENAMETOOLONG;
		out[n++] = (char)b;
	}

	/*
	 * The loop accepts some spellings the encoder never produces
	 * ("^.x", "^ea", raw control bytes, "" for the empty segment);
	 * only the encoder's own output is a valid name.  canon needs no
	 * more room than the name itself: anything longer differs.
	 */
	rc = encode_into(out, n, flags | (has_value ? NAME_VALUE : 0), canon,
			 len, &canon_len);
	if (rc || canon_len != len || memcmp(canon, name, len) != 0)
		return -EINVAL;

	*seg_len = n;
	*is_value = has_value;
	return 0;
}

int name_decode(const char *name, size_t len, int flags, char *out,
		size_t *seg_len, bool *is_value)
{
	return decode_into(name, len, flags, out, NAME_KEY_MAX, seg_len,
			   is_value);
}

int name_key_to_path(const char *key, size_t len, int flags, char *out,
		     size_t out_size)
{
	bool is_flat = flags & NAME_FLAT;
	size_t pos = 0, start = 0, n;
	int rc;

	rc = name_key_check(key, len);
	if (rc)
		return rc;
	if (out_size == 0)
		return -ENAMETOOLONG;

	/* One component per segment; out_size - 1 keeps room for the NUL. */
	for (;;) {
		const char *slash = NULL;
		size_t end;

		if (!is_flat)
			slash = memchr(key + start, '/', len - start);
		end = slash ? (size_t)(slash - key) : len;

		rc = encode_into(key + start, end - start, flags & NAME_FLAT,
				 out + pos, out_size - 1 - pos, &n);
		if (rc)
			return rc;
		pos += n;
		if (!slash)
			break;
		if (pos == out_size - 1)
			return -ENAMETOOLONG;
		out[pos++] = '/';
		start = end + 1;
	}
	out[pos] = '\0';
	return 0;
}

int name_path_to_key(const char *path, int flags, char *out, size_t *key_len)
{
	bool is_flat = flags & NAME_FLAT, is_value;
	size_t len = strlen(path), pos = 0, start = 0, n;
	int rc;

	for (;;) {
		const char *slash = NULL;
		size_t end;

		if (!is_flat)
			slash = memchr(path + start, '/', len - start);
		end = slash ? (size_t)(slash - path) : len;

		rc = decode_into(path + start, end - start, flags, out + pos,
				 NAME_KEY_MAX - pos, &n, &is_value);
		if (rc)
			return rc;

		/* A directory is never a value; only the last name is. */
		if (is_value && slash)
			return -EINVAL;
		pos += n;
		if (!slash)
			break;
		if (pos == NAME_KEY_MAX)
			return -ENAMETOOLONG;
		out[pos++] = '/';
		start = end + 1;
	}

	/* Each name was fine, but the whole may still be "." or "..". */
	rc = name_key_check(out, pos);
	if (rc)
		return rc;
	*key_len = pos;
	return 0;
}
