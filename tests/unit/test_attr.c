/*
 * test_attr: the attribute names and expiration values (attr.h).  Every
 * hostile spelling of an expiration that the mount must refuse with
 * EINVAL, the exact bounds of the accepted range at a fixed clock, and
 * the read-back of an accepted value setting the same expiration again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "attr.h"

#include "check.h"

#define NOW    1700000000LL	    /* a fixed clock, seconds since the epoch */
#define S(lit) lit, sizeof(lit) - 1 /* a literal with its length */

static void test_kind(void)
{
	CHECK(attr_kind("user.kv.metadata") == ATTR_KV_META, "metadata");
	CHECK(attr_kind("user.kv.expiration") == ATTR_KV_EXP, "expiration");
	CHECK(attr_kind("user.kv.expiration_ttl") == ATTR_KV_TTL, "ttl");
	CHECK(attr_kind("user.x") == ATTR_OTHER, "user.x is another attr");
	CHECK(attr_kind("user.kv.metadataX") == ATTR_OTHER,
	      "a longer name is another attribute, not metadata");
	CHECK(attr_kind("user.kv.expiration_tt") == ATTR_OTHER,
	      "a prefix of the ttl name is another attribute");
	CHECK(attr_kind("user.KV.METADATA") == ATTR_OTHER,
	      "names are case-sensitive");
	CHECK(attr_kind("user.") == -EINVAL, "user. alone: EINVAL, as ext4");
	CHECK(attr_kind("") == -EOPNOTSUPP, "the empty name: EOPNOTSUPP");
	CHECK(attr_kind("user") == -EOPNOTSUPP, "user without a dot");
	CHECK(attr_kind("security.selinux") == -EOPNOTSUPP, "security.*");
	CHECK(attr_kind("system.posix_acl_access") == -EOPNOTSUPP, "system.*");
	CHECK(attr_kind("trusted.x") == -EOPNOTSUPP, "trusted.*");
}

/* value[0..len) at NOW as kind: the errno, or 0 with *exp set. */
static int exp_of(int kind, const char *value, size_t len, int64_t *exp)
{
	*exp = -1;
	return attr_expiration(kind, value, len, NOW, exp);
}

static void test_refused(void)
{
	static const struct {
		const char *text;
		size_t len;
		const char *why;
	} bad[] = {
	    {S(""), "empty"},
	    {S("0"), "0"},
	    {S("-1"), "-1"},
	    {S("+5"), "+5"},
	    {S("+3600"), "+3600"},
	    {S("1e3"), "1e3"},
	    {S("3600.0"), "a decimal point"},
	    {S("0x100"), "hex"},
	    {S(" 3600"), "a leading space"},
	    {S("3600 "), "a trailing space"},
	    {S("36 00"), "a space inside"},
	    {S("3600\n"), "a trailing newline"},
	    {S("\t3600"), "a leading tab"},
	    {S("3600\0"), "a trailing NUL"},
	    {S("36\0000"), "a NUL inside"},
	    {S("2147483648"), "2^31"},
	    {S("4294967296"), "2^32"},
	    {S("9223372036854775807"), "2^63 - 1 (19 digits)"},
	    {S("9223372036854775808"), "2^63"},
	    {S("18446744073709551616"), "2^64"},
	    {S("999999999999999999"), "18 nines"},
	    {S("0000000000000000060"), "19 digits, even with leading zeros"},
	    {S("٣٦٠٠"), "Arabic-Indic digits"},
	    {S("3600abc"), "trailing letters"},
	    {S("abc"), "letters"},
	};
	int64_t exp;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(exp_of(ATTR_KV_EXP, bad[i].text, bad[i].len, &exp) ==
			      -EINVAL &&
			  exp == -1,
		      "expiration %s: EINVAL, nothing set", bad[i].why);
		CHECK(exp_of(ATTR_KV_TTL, bad[i].text, bad[i].len, &exp) ==
			      -EINVAL &&
			  exp == -1,
		      "ttl %s: EINVAL, nothing set", bad[i].why);
	}
	CHECK(exp_of(ATTR_KV_META, S("3600"), &exp) == -EINVAL,
	      "metadata is not an expiration");
	CHECK(exp_of(ATTR_OTHER, S("3600"), &exp) == -EINVAL,
	      "nor is another attribute");
}

static void test_bounds(void)
{
	char text[32];
	int64_t exp;
	int len;

	CHECK(exp_of(ATTR_KV_TTL, S("59"), &exp) == -EINVAL,
	      "ttl 59 (below Workers KV's 60): EINVAL");
	CHECK(exp_of(ATTR_KV_TTL, S("60"), &exp) == 0 && exp == NOW + 60,
	      "ttl 60: now + 60");
	CHECK(exp_of(ATTR_KV_TTL, S("000000000000000060"), &exp) == 0 &&
		  exp == NOW + 60,
	      "ttl of 18 digits with leading zeros: now + 60");
	len = snprintf(text, sizeof(text), "%lld", ATTR_EXP_MAX - NOW);
	CHECK(exp_of(ATTR_KV_TTL, text, (size_t)len, &exp) == 0 &&
		  exp == ATTR_EXP_MAX,
	      "the ttl reaching 2^31 - 1 exactly");
	len = snprintf(text, sizeof(text), "%lld", ATTR_EXP_MAX - NOW + 1);
	CHECK(exp_of(ATTR_KV_TTL, text, (size_t)len, &exp) == -EINVAL,
	      "one second more: EINVAL");

	len = snprintf(text, sizeof(text), "%lld", NOW + 59);
	CHECK(exp_of(ATTR_KV_EXP, text, (size_t)len, &exp) == -EINVAL,
	      "expiration now + 59: EINVAL");
	len = snprintf(text, sizeof(text), "%lld", NOW + 60);
	CHECK(exp_of(ATTR_KV_EXP, text, (size_t)len, &exp) == 0 &&
		  exp == NOW + 60,
	      "expiration now + 60 is taken as written");
	CHECK(exp_of(ATTR_KV_EXP, S("2147483647"), &exp) == 0 &&
		  exp == ATTR_EXP_MAX,
	      "expiration 2^31 - 1");
	CHECK(exp_of(ATTR_KV_EXP, S("1000000000"), &exp) == -EINVAL,
	      "an expiration in the past: EINVAL");
	CHECK(attr_expiration(ATTR_KV_TTL, S("60"), ATTR_EXP_MAX - 59, &exp) ==
		  -EINVAL,
	      "any ttl when now + 60 passes 2^31 - 1: EINVAL");
}

static void test_read_back(void)
{
	int64_t exp, again;
	char text[32];
	int len;

	CHECK(attr_ttl_left(NOW + 3600, NOW) == 3600, "ttl left: 3600");
	CHECK(attr_ttl_left(NOW, NOW) == 0, "ttl left at the second: 0");
	CHECK(attr_ttl_left(NOW - 5, NOW) == 0, "ttl left once past: 0");

	/* cp -a copies user.kv.expiration's text onto the copy. */
	CHECK(exp_of(ATTR_KV_TTL, S("3600"), &exp) == 0, "ttl 3600");
	len = snprintf(text, sizeof(text), "%" PRId64, exp);
	CHECK(exp_of(ATTR_KV_EXP, text, (size_t)len, &again) == 0 &&
		  again == exp,
	      "its expiration's text sets the same expiration");
	len = snprintf(text, sizeof(text), "%" PRId64, attr_ttl_left(exp, NOW));
	CHECK(exp_of(ATTR_KV_TTL, text, (size_t)len, &again) == 0 &&
		  again == exp,
	      "its ttl's text sets the same expiration");
}

int main(void)
{
	test_kind();
	test_refused();
	test_bounds();
	test_read_back();
	printf("1..%d\n", check_count);
	return CHECK_DONE();
}
