/*
 * test_remote: the pure parts of the Workers KV client: percent-encoding
 * of every byte of a key, Retry-After in both of its forms, and list
 * pages (keys, metadata, expiration, cursors, empty pages, bad bodies).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

#include "check.h"

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s as a URL decoder would; returns the length. */
static size_t unescape(const char *s, char *out)
{
	size_t o = 0;

	for (; *s; s++) {
		if (*s == '%' && hex_value(s[1]) >= 0 && hex_value(s[2]) >= 0) {
			out[o++] =
			    (char)(hex_value(s[1]) << 4 | hex_value(s[2]));
			s += 2;
		} else {
			out[o++] = *s;
		}
	}
	return o;
}

static void test_escape(void)
{
	char key[256], esc[3 * 256 + 1], back[256];
	size_t i, n, bad = 0;

	for (i = 0; i < 256; i++)
		key[i] = (char)i;
	n = remote_escape(key, 256, esc);
	CHECK(n == strlen(esc), "the length returned is the string's");
	CHECK(unescape(esc, back) == 256 && !memcmp(back, key, 256),
	      "every byte 0x00 to 0xff round-trips");
	for (i = 0; i < n; i++)
		if (!strchr(
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789-._~%",
			esc[i]))
			bad++;
	CHECK(!bad, "only unreserved bytes and %%XX in the result");
	n = remote_escape("a/b %?#&+\xc3\xa9~", 12, esc);
	CHECK(!strcmp(esc, "a%2Fb%20%25%3F%23%26%2B%C3%A9~"),
	      "'/', ' ', '%%', '?', '#', '&', '+' and UTF-8 escaped: %s", esc);
	CHECK(remote_escape("", 0, esc) == 0 && !esc[0], "the empty key");
}

static void test_retry_after(void)
{
	long sec = -1;

	CHECK(remote_retry_after("5", 0, &sec) == 0 && sec == 5, "seconds");
	CHECK(remote_retry_after(" 120\r\n", 0, &sec) == 0 && sec == 120,
	      "seconds with the header's spaces and line end");
	CHECK(remote_retry_after("0", 0, &sec) == 0 && sec == 0, "zero");
	CHECK(remote_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470,
				 &sec) == 0 &&
		  sec == 10,
	      "an HTTP-date 10 s ahead");
	CHECK(remote_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490,
				 &sec) == 0 &&
		  sec == 0,
	      "an HTTP-date in the past waits 0");
	CHECK(remote_retry_after("-1", 0, &sec) == -EINVAL, "negative refused");
	CHECK(remote_retry_after("5s", 0, &sec) == -EINVAL,
	      "trailing garbage refused");
	CHECK(remote_retry_after("soon", 0, &sec) == -EINVAL, "a word refused");
	CHECK(remote_retry_after("99999999999999", 0, &sec) == -EINVAL,
	      "an absurd number refused");
}

/* What a list page gave, as one string "name|exp|meta;..." */
struct seen {
	char s[1024];
	int count;
};

static int on_key(void *ctx, const struct remote_key *k)
{
	struct seen *seen = ctx;
	size_t len = strlen(seen->s);

	snprintf(seen->s + len, sizeof(seen->s) - len, "%.*s|%lld|%s;",
		 (int)k->name_len, k->name, (long long)k->expiration,
		 k->metadata ? k->metadata : "-");
	seen->count++;
	return 0;
}

static int parse(const char *body, struct seen *seen, char **cursor)
{
	memset(seen, 0, sizeof(*seen));
	return remote_parse_list(body, strlen(body), on_key, seen, cursor);
}

static void test_list(void)
{
	struct seen seen;
	char *cursor = NULL;
	int rc;

	rc = parse("{\"success\":true,\"errors\":[],\"result\":["
		   "{\"name\":\"a/b c\",\"expiration\":1796418070,"
		   "\"metadata\":{\"user\":42,\"scope\":[\"read\"]}},"
		   "{\"name\":\"\\u00e9\"},"
		   "{\"name\":\"n\",\"metadata\":null,\"expiration\":1.7e9}],"
		   "\"result_info\":{\"count\":3,\"cursor\":\"abc\"}}",
		   &seen, &cursor);
	CHECK(rc == 0 && seen.count == 3, "three keys");
	CHECK(!strcmp(seen.s, "a/b c|1796418070|{\"user\":42,\"scope\":"
			      "[\"read\"]};\xc3\xa9|0|-;n|1700000000|-;"),
	      "names, expirations and compact metadata in order: %s", seen.s);
	CHECK(cursor && !strcmp(cursor, "abc"), "the cursor");
	free(cursor);

	rc = parse("{\"success\":true,\"result\":[],"
		   "\"result_info\":{\"count\":0,\"cursor\":\"more\"}}",
		   &seen, &cursor);
	CHECK(rc == 0 && seen.count == 0 && cursor && !strcmp(cursor, "more"),
	      "an empty page that is not the end");
	free(cursor);

	rc = parse("{\"success\":true,\"result\":[{\"name\":\"k\"}],"
		   "\"result_info\":{\"count\":1,\"cursor\":\"\"}}",
		   &seen, &cursor);
	CHECK(rc == 0 && seen.count == 1 && !cursor,
	      "an empty cursor is the end");
	rc = parse("{\"success\":true,\"result\":[{\"name\":\"k\"}]}", &seen,
		   &cursor);
	CHECK(rc == 0 && !cursor, "a missing result_info is the end");
	rc = parse("{\"success\":true,\"result\":[],"
		   "\"result_info\":{\"cursor\":null}}",
		   &seen, &cursor);
	CHECK(rc == 0 && !cursor, "a null cursor is the end");

	CHECK(parse("{\"success\":false,\"errors\":[{\"code\":10000}],"
		    "\"result\":[]}",
		    &seen, &cursor) == -EIO,
	      "success false: -EIO");
	CHECK(parse("<html>502 Bad Gateway</html>", &seen, &cursor) == -EIO,
	      "not JSON: -EIO");
	CHECK(parse("{\"success\":true,\"result\":{}}", &seen, &cursor) == -EIO,
	      "result not an array: -EIO");
	CHECK(parse("{\"success\":true,\"result\":[{\"nom\":\"k\"}]}", &seen,
		    &cursor) == -EIO,
	      "a key without a name: -EIO");
	CHECK(parse("{\"success\":true,\"result\":[{\"name\":\"a\"},", &seen,
		    &cursor) == -EIO,
	      "a body cut short: -EIO");
}

int main(void)
{
	test_escape();
	test_retry_after();
	test_list();
	return CHECK_DONE();
}
