/*
 * config: reads the kvfs.ini file with inih into struct config and
 * checks every value once, at start-up, so that no other module meets a
 * bad setting.  It never creates files or folders and never prints: the
 * caller prints the one error line it returns.
 *
 * Design note: why kvfs feeds inih its own lines.
 *
 * inih calls its handler only for "key = value" lines, so a section
 * without keys (a namespace that takes every default) would never be
 * seen, and the installed ini.h declares a handler without a line number
 * (INI_HANDLER_LINENO 0; Debian's libinih passes one anyway, but nothing
 * promises it).  So config_load() hands inih its own reader
 * (ini_parse_stream), which reads each whole line, counts lines, and:
 *
 *   - stops at a NUL byte, which fgets() would silently cut the line at;
 *   - parses section headers itself and gives inih a blank line instead;
 *   - gives inih comment lines as blank lines;
 *   - gives inih "key = value" lines without their indentation, so that
 *     inih's continuation lines (an indented line extends the previous
 *     value, as in Python's configparser) never happen: no kvfs value
 *     spans lines, and an indented key meant as a key must not become
 *     part of the value above it;
 *   - rejects a line inih would reject (no '=' or ':') or cut into
 *     pieces (longer than inih's line buffer), saying what is wrong.
 *
 * inih still splits each key line into key and value and strips inline
 * comments (';' after whitespace); the handler checks them.  The first
 * error makes the reader report end of file, so the message always
 * describes the first problem in the file and nothing runs after it.
 *
 * A section header is '[', the section, ']', then optionally whitespace
 * and a ';' or '#' comment.  In "[namespace NAME]" NAME is the rest up
 * to the first ']', trimmed, or a double-quoted string that may hold
 * ']', ';' and leading or trailing spaces.  Sections and keys are
 * case-sensitive.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"

#define CONFIG_LINE_MAX	 1024 /* bytes of a header or comment line */
#define CONFIG_NAME_MAX	 255  /* bytes of a namespace (directory) name */
#define CONFIG_SHOW_MAX	 80   /* bytes of a name or value in a message */
#define CONFIG_SHOW_BUF	 (CONFIG_SHOW_MAX * 4 + 4)
#define CONFIG_TITLE_BUF (CONFIG_SHOW_BUF + 16)

enum config_section {
	SECTION_NONE, /* before the first header */
	SECTION_STORE,
	SECTION_MOUNT,
	SECTION_NAMESPACE /* the last entry of cfg->ns */
};

struct parser;

/* Checks value and stores it in p->cfg.  Returns 0 or -1 (recorded). */
typedef int (*config_set_fn)(struct parser *p, const char *key,
			     const char *value);

static int set_path(struct parser *p, const char *key, const char *value);
static int set_busy_timeout(struct parser *p, const char *key,
			    const char *value);
static int set_sync(struct parser *p, const char *key, const char *value);
static int set_sweep(struct parser *p, const char *key, const char *value);
static int set_uid(struct parser *p, const char *key, const char *value);
static int set_gid(struct parser *p, const char *key, const char *value);
static int set_file_mode(struct parser *p, const char *key, const char *value);
static int set_dir_mode(struct parser *p, const char *key, const char *value);
static int set_kernel_cache(struct parser *p, const char *key,
			    const char *value);
static int set_id(struct parser *p, const char *key, const char *value);
static int set_layout(struct parser *p, const char *key, const char *value);
static int set_read_only(struct parser *p, const char *key, const char *value);
static int set_backend(struct parser *p, const char *key, const char *value);
static int set_account(struct parser *p, const char *key, const char *value);
static int set_token_file(struct parser *p, const char *key, const char *value);
static int set_token_env(struct parser *p, const char *key, const char *value);
static int set_api_base(struct parser *p, const char *key, const char *value);
static int set_cache_ttl(struct parser *p, const char *key, const char *value);
static int set_cache_max(struct parser *p, const char *key, const char *value);
static int set_cache_path(struct parser *p, const char *key, const char *value);
static int set_stale(struct parser *p, const char *key, const char *value);
static int set_retry_max(struct parser *p, const char *key, const char *value);
static int finish_namespace(struct parser *p);

static const struct config_key {
	enum config_section section;
	const char *name;
	config_set_fn set;
} config_keys[] = {
    {SECTION_STORE, "path", set_path},
    {SECTION_STORE, "busy_timeout_ms", set_busy_timeout},
    {SECTION_STORE, "sync", set_sync},
    {SECTION_STORE, "sweep_sec", set_sweep},
    {SECTION_MOUNT, "uid", set_uid},
    {SECTION_MOUNT, "gid", set_gid},
    {SECTION_MOUNT, "file_mode", set_file_mode},
    {SECTION_MOUNT, "dir_mode", set_dir_mode},
    {SECTION_MOUNT, "kernel_cache_sec", set_kernel_cache},
    {SECTION_NAMESPACE, "id", set_id},
    {SECTION_NAMESPACE, "layout", set_layout},
    {SECTION_NAMESPACE, "read_only", set_read_only},
    {SECTION_NAMESPACE, "backend", set_backend},
    /* From here on: backend = cloudflare only (remote_key_first()). */
    {SECTION_NAMESPACE, "account_id", set_account},
    {SECTION_NAMESPACE, "api_token_file", set_token_file},
    {SECTION_NAMESPACE, "api_token_env", set_token_env},
    {SECTION_NAMESPACE, "api_base", set_api_base},
    {SECTION_NAMESPACE, "cache_ttl", set_cache_ttl},
    {SECTION_NAMESPACE, "cache_max_mb", set_cache_max},
    {SECTION_NAMESPACE, "cache_path", set_cache_path},
    {SECTION_NAMESPACE, "stale_if_error", set_stale},
    {SECTION_NAMESPACE, "retry_max_sec", set_retry_max},
};

#define REMOTE_TOKEN_MAX 1024 /* bytes of an API token */

#define CONFIG_KEY_COUNT (sizeof(config_keys) / sizeof(config_keys[0]))

/*
 * The state of one config_load(), shared by the reader and the handler.
 * key_line[i] is the line where the current section set config_keys[i],
 * 0 if it did not; store_line and mount_line likewise for the sections.
 */
struct parser {
	struct config *cfg;
	FILE *fp;
	const char *file; /* as the caller spelled it, for messages */
	char *dir;	  /* absolute folder of the file, for store paths */
	int line;	  /* lines read so far: the one inih is parsing */
	enum config_section section;
	int store_line;
	int mount_line;
	int key_line[CONFIG_KEY_COUNT];
	bool failed; /* the first error is in err: stop */
	char *err;
	size_t err_size;
	char buf[CONFIG_LINE_MAX + 1];
};

static void format_error(char *err, size_t err_size, const char *file, int line,
			 const char *fmt, va_list ap)
{
	int n;

	if (!err_size)
		return;
	if (line > 0)
		n = snprintf(err, err_size, "%s:%d: ", file, line);
	else
		n = snprintf(err, err_size, "%s: ", file);
	if (n >= 0 && (size_t)n < err_size)
		vsnprintf(err + n, err_size - (size_t)n, fmt, ap);
}

/*
 * Record "FILE:LINE: message" unless an error is recorded already (a
 * later one would only be a consequence).  Returns -1 to pass on.
 */
__attribute__((format(printf, 2, 3))) static int
parser_error(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = true;
	va_start(ap, fmt);
	format_error(p->err, p->err_size, p->file, p->line, fmt, ap);
	va_end(ap);
	return -1;
}

/* The same for problems of the whole file: "FILE: message". */
__attribute__((format(printf, 2, 3))) static int
file_error(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = true;
	va_start(ap, fmt);
	format_error(p->err, p->err_size, p->file, 0, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Length of the UTF-8 sequence at s (n bytes left): 1 to 4, or 0 if it
 * is not valid UTF-8 (overlong forms, surrogates and code points above
 * U+10FFFF are not).
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned int cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0; /* a continuation byte, or an overlong form */
	if (s[0] < 0xe0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Printable form of s for a message, into buf (CONFIG_SHOW_BUF bytes):
 * control bytes, '\\' and bytes that are not UTF-8 become \xNN, and only
 * the first CONFIG_SHOW_MAX bytes are shown, so a broken file cannot
 * garble the terminal or hide the message.  Returns buf.
 */
static const char *show(char *buf, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, o = 0, n;

	while (i < len) {
		n = utf8_len(u + i, len - i);
		if (i + (n ? n : 1) > CONFIG_SHOW_MAX)
			break;
		if (n > 1) {
			memcpy(buf + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		if (!n || u[i] < 0x20 || u[i] == 0x7f || u[i] == '\\') {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[u[i] >> 4];
			buf[o++] = hex[u[i] & 15];
		} else {
			buf[o++] = s[i];
		}
		i++;
	}
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* The current section as messages name it, in buf (CONFIG_TITLE_BUF). */
static const char *show_section(struct parser *p, char *buf)
{
	char name[CONFIG_SHOW_BUF];
	const char *ns;

	switch (p->section) {
	case SECTION_STORE:
		return "[store]";
	case SECTION_MOUNT:
		return "[mount]";
	case SECTION_NAMESPACE:
		ns = p->cfg->ns[p->cfg->ns_count - 1].name;
		snprintf(buf, CONFIG_TITLE_BUF,
			 strpbrk(ns, " ];#\"") ? "[namespace \"%s\"]"
					       : "[namespace %s]",
			 show(name, ns));
		return buf;
	default:
		return "";
	}
}

static char *path_join(const char *dir, const char *name)
{
	size_t len = strlen(dir);
	char *s;

	if (asprintf(&s, "%s%s%s", dir, len && dir[len - 1] == '/' ? "" : "/",
		     name) < 0)
		return NULL;
	return s;
}

/* Why name cannot be a namespace's directory name, or NULL if it can. */
static const char *name_problem(const char *name)
{
	const unsigned char *u = (const unsigned char *)name;
	size_t len = strlen(name), i, n;

	if (!len)
		return "empty";
	if (len > CONFIG_NAME_MAX)
		return "longer than 255 bytes";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "'.' and '..' are not allowed";
	if (strchr(name, '/'))
		return "contains '/'";
	if (!strcmp(name, "^status"))
		return "the mount's status file has that name";
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return "contains a control character";
	for (i = 0; i < len; i += n) {
		n = utf8_len(u + i, len - i);
		if (!n)
			return "not valid UTF-8";
	}
	return NULL;
}

static char *skip_space(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

/* Cut trailing whitespace off s[0..end), in place. */
static void trim_end(char *s, char *end)
{
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
}

/* Append namespace name, the current section from now on. */
static int add_namespace(struct parser *p, const char *name)
{
	struct config *cfg = p->cfg;
	const struct config_ns *old;
	struct config_ns *ns;
	char shown[CONFIG_SHOW_BUF];
	const char *why = name_problem(name);

	if (why)
		return parser_error(p, "bad namespace name '%s': %s",
				    show(shown, name), why);
	old = config_find_ns(cfg, name);
	if (old)
		return parser_error(p,
				    "duplicate namespace '%s' (first on line "
				    "%d)",
				    show(shown, name), old->line);

	ns = realloc(cfg->ns, ((size_t)cfg->ns_count + 1) * sizeof(*ns));
	if (!ns)
		return parser_error(p, "%s", strerror(ENOMEM));
	cfg->ns = ns;
	ns += cfg->ns_count;
	memset(ns, 0, sizeof(*ns));
	ns->name = strdup(name);
	if (!ns->name)
		return parser_error(p, "%s", strerror(ENOMEM));
	ns->layout = CONFIG_LAYOUT_TREE;
	ns->line = p->line;
	ns->remote.cache_ttl_sec = 60;
	ns->remote.cache_max_mb = 64;
	ns->remote.retry_max_sec = 30;
	cfg->ns_count++;
	p->section = SECTION_NAMESPACE;
	return 0;
}

/*
 * The name in "[namespace NAME]": s points past the keyword.  Sets
 * *name (NUL-terminated in place) and returns where the ']' is, or NULL
 * with the error recorded.
 */
static char *namespace_name(struct parser *p, char *s, char **name)
{
	char *quote, *end;

	s = skip_space(s);
	if (*s == '"') {
		*name = s + 1;
		quote = strchr(*name, '"');
		if (!quote) {
			parser_error(p, "unterminated quote in section header");
			return NULL;
		}
		end = skip_space(quote + 1);
		if (*end != ']') {
			parser_error(p, "expected ']' after the quoted "
					"namespace name");
			return NULL;
		}
		*quote = '\0';
		return end;
	}

	*name = s;
	end = strchr(s, ']');
	if (!end) {
		parser_error(p, "missing ']' in section header");
		return NULL;
	}
	trim_end(s, end); /* may put the NUL on the ']' itself */
	if (!**name) {
		parser_error(p, "missing name: expected [namespace NAME]");
		return NULL;
	}
	return end;
}

/* Check that [store] or [mount] comes once; *line is where it came. */
static int enter_section(struct parser *p, enum config_section section,
			 const char *title, int *line)
{
	if (*line)
		return parser_error(p,
				    "duplicate section %s (first on line "
				    "%d)",
				    title, *line);
	*line = p->line;
	p->section = section;
	return 0;
}

/* A trimmed line starting with '['.  See the design note. */
static int parse_header(struct parser *p, char *s)
{
	char shown[CONFIG_SHOW_BUF];
	char *start = skip_space(s + 1), *name = NULL, *end, *rest;

	if (!strncmp(start, "namespace", 9) &&
	    (isspace((unsigned char)start[9]) || start[9] == ']')) {
		end = namespace_name(p, start + 9, &name);
		if (!end)
			return -1;
	} else {
		end = strchr(start, ']');
		if (!end)
			return parser_error(p, "missing ']' in section header");
	}

	rest = skip_space(end + 1);
	if (*rest && *rest != ';' && *rest != '#')
		return parser_error(p, "unexpected '%s' after ']'",
				    show(shown, rest));
	if (finish_namespace(p) < 0)
		return -1;
	memset(p->key_line, 0, sizeof(p->key_line));
	if (name)
		return add_namespace(p, name);

	trim_end(start, end);
	if (!strcmp(start, "store"))
		return enter_section(p, SECTION_STORE, "[store]",
				     &p->store_line);
	if (!strcmp(start, "mount"))
		return enter_section(p, SECTION_MOUNT, "[mount]",
				     &p->mount_line);
	return parser_error(p, "unknown section '%s'", show(shown, start));
}

/*
 * Where inih will split key line s: its first '=' or ':' before an
 * inline comment (';' after whitespace).  NULL if there is none.
 */
static const char *find_separator(const char *s)
{
	bool was_space = false;

	for (; *s; s++) {
		if (*s == '=' || *s == ':')
			return s;
		if (was_space && *s == ';')
			return NULL;
		was_space = isspace((unsigned char)*s);
	}
	return NULL;
}

/*
 * Read the next line into p->buf without its '\n'.  Bytes past
 * CONFIG_LINE_MAX are dropped and *too_long set, so that a long comment
 * costs nothing.  Returns 0, 1 at the end of the file, or -1 after
 * recording a read error or a NUL byte.
 */
static int read_line(struct parser *p, size_t *len, bool *too_long)
{
	bool has_nul = false;
	size_t n = 0;
	int c;

	*len = 0;
	*too_long = false;
	while ((c = getc(p->fp)) != EOF && c != '\n') {
		if (!c)
			has_nul = true;
		if (n < CONFIG_LINE_MAX)
			p->buf[n++] = (char)c;
		else
			*too_long = true;
	}
	if (c == EOF && ferror(p->fp))
		return file_error(p, "%s", strerror(errno));
	if (c == EOF && !n)
		return 1;
	p->buf[n] = '\0';
	p->line++;
	if (has_nul)
		return parser_error(p, "line contains a NUL byte");
	*len = n;
	return 0;
}

/* A key line s, as the reader found it.  Returns 0 or -1 (recorded). */
static int check_key_line(struct parser *p, const char *s, bool too_long,
			  int num)
{
	char shown[CONFIG_SHOW_BUF];

	/*
	 * num is inih's INI_MAX_LINE (200 in Debian's build), room for the
	 * '\n' and the NUL included; inih would read the rest of a longer
	 * line as one more line.
	 */
	if (too_long || strlen(s) + 2 > (size_t)num)
		return parser_error(p, "line longer than %d bytes", num - 2);
	if (!find_separator(s))
		return parser_error(p, "missing '=' in '%s'", show(shown, s));
	return 0;
}

/*
 * inih's line source, in place of fgets(): gives inih the next line as
 * described in the design note, into str (num bytes).  Returns NULL at
 * the end of the file and after the first error, which ends the parse.
 */
static char *parser_read(char *str, int num, void *stream)
{
	struct parser *p = stream;
	bool too_long, is_key = false;
	size_t len;
	char *s;
	int rc = 0;

	if (p->failed || read_line(p, &len, &too_long))
		return NULL;

	s = p->buf;
	if (p->line == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
		s += 3; /* a UTF-8 byte order mark, as some editors write */
	s = skip_space(s);
	trim_end(s, p->buf + len);

	if (*s == '[') {
		if (too_long)
			rc = parser_error(p, "line longer than %d bytes",
					  CONFIG_LINE_MAX);
		else
			rc = parse_header(p, s);
	} else if (*s && *s != ';' && *s != '#') {
		is_key = true;
		rc = check_key_line(p, s, too_long, num);
	}
	if (rc < 0)
		return NULL;
	snprintf(str, (size_t)num, "%s\n", is_key ? s : "");
	return str;
}

/* True if value holds a '#' after whitespace, meant as a comment. */
static bool hash_comment(const char *value)
{
	const char *hash;

	for (hash = strchr(value, '#'); hash; hash = strchr(hash + 1, '#'))
		if (hash > value && isspace((unsigned char)hash[-1]))
			return true;
	return false;
}

/*
 * Copy value without one pair of surrounding double quotes into *out
 * (malloc'd).  Quotes let a value hold " #" or spaces at its ends; a
 * " #" outside quotes is an error because it looks like a comment but
 * is not one to inih.  Returns 0 or -1 (recorded).
 */
static int unquote(struct parser *p, const char *key, const char *value,
		   char **out)
{
	char shown[CONFIG_SHOW_BUF];
	size_t len = strlen(value);

	if (value[0] == '"') {
		if (len < 2 || value[len - 1] != '"')
			return parser_error(p,
					    "unterminated quote in value '%s' "
					    "for %s",
					    show(shown, value), key);
		*out = strndup(value + 1, len - 2);
	} else if (hash_comment(value)) {
		return parser_error(p,
				    "bad value '%s' for %s: '#' starts a "
				    "comment only at the start of a line",
				    show(shown, value), key);
	} else {
		*out = strdup(value);
	}
	if (!*out)
		return parser_error(p, "%s", strerror(ENOMEM));
	return 0;
}

/*
 * inih's handler, called for each key line the reader passed on.  The
 * section inih reports is always "": the reader keeps the section.
 * Returns 1 if the key is good, else 0 with the error recorded.
 */
static int parser_handle(void *user, const char *section, const char *key,
			 const char *value)
{
	struct parser *p = user;
	char title[CONFIG_TITLE_BUF], shown[CONFIG_SHOW_BUF];
	char *unquoted;
	size_t i;
	int rc;

	if (p->failed)
		return 0;
	if (p->section == SECTION_NONE)
		return !parser_error(p, "key '%s' before any section",
				     show(shown, key));
	for (i = 0; i < CONFIG_KEY_COUNT; i++)
		if (config_keys[i].section == p->section &&
		    !strcmp(config_keys[i].name, key))
			break;
	if (i == CONFIG_KEY_COUNT)
		return !parser_error(p, "unknown key '%s' in %s",
				     show(shown, key), show_section(p, title));
	if (p->key_line[i])
		return !parser_error(p,
				     "duplicate key '%s' in %s (first on "
				     "line %d)",
				     key, show_section(p, title),
				     p->key_line[i]);
	p->key_line[i] = p->line;

	if (unquote(p, key, value, &unquoted) < 0)
		return 0;
	rc = config_keys[i].set(p, key, unquoted);
	free(unquoted);
	return rc == 0;
}

/*
 * Parse s as digits in base 8 or 10 and nothing else: strtoul() would
 * also take a sign, leading spaces and "0x".  Returns 0, or -1 if s is
 * no such number or is above max.
 */
static int parse_uint(const char *s, unsigned int base, unsigned long max,
		      unsigned long *out)
{
	unsigned long n = 0;
	unsigned int d;

	if (!*s)
		return -1;
	for (; *s; s++) {
		d = (unsigned int)(*s - '0');
		if (*s < '0' || d >= base || n > (max - d) / base)
			return -1;
		n = n * base + d;
	}
	*out = n;
	return 0;
}

static int bad_value(struct parser *p, const char *key, const char *value,
		     const char *expected)
{
	char shown[CONFIG_SHOW_BUF];

	return parser_error(p, "bad value '%s' for %s: %s", show(shown, value),
			    key, expected);
}

static int set_path(struct parser *p, const char *key, const char *value)
{
	char *path;

	if (!*value)
		return bad_value(p, key, value, "expected a file name");
	if (value[0] == '/')
		path = strdup(value);
	else
		path = path_join(p->dir, value);
	if (!path)
		return parser_error(p, "%s", strerror(ENOMEM));
	p->cfg->store_path = path;
	return 0;
}

static int set_busy_timeout(struct parser *p, const char *key,
			    const char *value)
{
	unsigned long ms;

	if (parse_uint(value, 10, 600000, &ms) < 0)
		return bad_value(p, key, value,
				 "expected milliseconds from 0 to 600000");
	p->cfg->busy_timeout_ms = (int)ms;
	return 0;
}

static int set_sweep(struct parser *p, const char *key, const char *value)
{
	unsigned long sec;

	if (parse_uint(value, 10, 86400, &sec) < 0 || sec == 0)
		return bad_value(p, key, value,
				 "expected seconds from 1 to 86400");
	p->cfg->sweep_sec = (int)sec;
	return 0;
}

static int set_sync(struct parser *p, const char *key, const char *value)
{
	if (!strcmp(value, "normal"))
		p->cfg->is_sync_full = false;
	else if (!strcmp(value, "full"))
		p->cfg->is_sync_full = true;
	else
		return bad_value(p, key, value, "expected normal or full");
	return 0;
}

/*
 * True for the errno values getpwnam() and getgrnam() use for "no such
 * name"; anything else is a failed lookup (NSS, LDAP) worth showing.
 */
static bool is_not_found(int err)
{
	return !err || err == ENOENT || err == ESRCH || err == EBADF ||
	       err == EPERM;
}

/* Digits only: a number to chown(1), even if a user has that name. */
static bool is_number(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* (uid_t)-1 and (gid_t)-1 mean "no change" to chown(), so not allowed. */
#define CONFIG_ID_MAX 4294967294UL

static int set_uid(struct parser *p, const char *key, const char *value)
{
	unsigned long n;
	struct passwd *pw;

	if (is_number(value)) {
		if (parse_uint(value, 10, CONFIG_ID_MAX, &n) < 0)
			return bad_value(p, key, value,
					 "expected a user name or a number "
					 "from 0 to 4294967294");
		p->cfg->uid = (uid_t)n;
		return 0;
	}
	errno = 0;
	pw = getpwnam(value);
	if (!pw)
		return bad_value(p, key, value,
				 is_not_found(errno) ? "no such user"
						     : strerror(errno));
	p->cfg->uid = pw->pw_uid;
	return 0;
}

static int set_gid(struct parser *p, const char *key, const char *value)
{
	unsigned long n;
	struct group *gr;

	if (is_number(value)) {
		if (parse_uint(value, 10, CONFIG_ID_MAX, &n) < 0)
			return bad_value(p, key, value,
					 "expected a group name or a number "
					 "from 0 to 4294967294");
		p->cfg->gid = (gid_t)n;
		return 0;
	}
	errno = 0;
	gr = getgrnam(value);
	if (!gr)
		return bad_value(p, key, value,
				 is_not_found(errno) ? "no such group"
						     : strerror(errno));
	p->cfg->gid = gr->gr_gid;
	return 0;
}

static int parse_mode(struct parser *p, const char *key, const char *value,
		      mode_t *mode)
{
	unsigned long n;

	if (parse_uint(value, 8, 07777, &n) < 0)
		return bad_value(p, key, value,
				 "expected an octal mode from 0 to 07777");
	*mode = (mode_t)n;
	return 0;
}

static int set_file_mode(struct parser *p, const char *key, const char *value)
{
	return parse_mode(p, key, value, &p->cfg->file_mode);
}

static int set_dir_mode(struct parser *p, const char *key, const char *value)
{
	return parse_mode(p, key, value, &p->cfg->dir_mode);
}

/*
 * Decimal seconds, "2" or "0.25": digits, optionally '.' and digits.
 * Computed by hand because strtod() follows the locale's decimal point
 * and also takes "1e3", "0x10", "inf" and "nan".
 */
static int set_kernel_cache(struct parser *p, const char *key,
			    const char *value)
{
	const char *s = value;
	double sec = 0, scale = 1;

	if (!isdigit((unsigned char)*s))
		goto bad;
	while (isdigit((unsigned char)*s) && sec <= 86400)
		sec = sec * 10 + (*s++ - '0');
	if (*s == '.' && isdigit((unsigned char)s[1]))
		for (s++; isdigit((unsigned char)*s); s++) {
			scale /= 10;
			sec += (*s - '0') * scale;
		}
	if (*s || sec > 86400)
		goto bad;
	p->cfg->kernel_cache_sec = sec;
	return 0;
bad:
	return bad_value(p, key, value, "expected seconds from 0 to 86400");
}

static int set_id(struct parser *p, const char *key, const char *value)
{
	struct config_ns *ns = &p->cfg->ns[p->cfg->ns_count - 1];

	if (!*value)
		return bad_value(p, key, value, "expected a namespace id");
	ns->id = strdup(value);
	if (!ns->id)
		return parser_error(p, "%s", strerror(ENOMEM));
	return 0;
}

/* A yes-or-no setting: true, yes, 1, false, no, 0 (lower case). */
static int set_bool(struct parser *p, const char *key, const char *value,
		    bool *out)
{
	if (!strcmp(value, "true") || !strcmp(value, "yes") ||
	    !strcmp(value, "1"))
		*out = true;
	else if (!strcmp(value, "false") || !strcmp(value, "no") ||
		 !strcmp(value, "0"))
		*out = false;
	else
		return bad_value(p, key, value,
				 "expected true or false (or yes/no, 1/0)");
	return 0;
}

static int set_read_only(struct parser *p, const char *key, const char *value)
{
	struct config_ns *ns = &p->cfg->ns[p->cfg->ns_count - 1];

	return set_bool(p, key, value, &ns->is_read_only);
}

static int set_layout(struct parser *p, const char *key, const char *value)
{
	struct config_ns *ns = &p->cfg->ns[p->cfg->ns_count - 1];

	if (!strcmp(value, "tree"))
		ns->layout = CONFIG_LAYOUT_TREE;
	else if (!strcmp(value, "flat"))
		ns->layout = CONFIG_LAYOUT_FLAT;
	else
		return bad_value(p, key, value, "expected 'tree' or 'flat'");
	return 0;
}

static struct config_ns *current_ns(struct parser *p)
{
	return &p->cfg->ns[p->cfg->ns_count - 1];
}

static int set_backend(struct parser *p, const char *key, const char *value)
{
	if (!strcmp(value, "sqlite"))
		current_ns(p)->backend = CONFIG_BACKEND_SQLITE;
	else if (!strcmp(value, "cloudflare"))
		current_ns(p)->backend = CONFIG_BACKEND_CLOUDFLARE;
	else
		return bad_value(p, key, value,
				 "expected 'sqlite' or 'cloudflare'");
	return 0;
}

/* An account or namespace id goes into URLs: letters, digits, - and _. */
static bool is_id(const char *s)
{
	return *s && strlen(s) <= 64 &&
	       strspn(s, "0123456789abcdefghijklmnopqrstuvwxyz"
			 "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_") == strlen(s);
}

static int set_account(struct parser *p, const char *key, const char *value)
{
	struct config_ns *ns = current_ns(p);

	if (!is_id(value))
		return bad_value(p, key, value,
				 "expected the account id: up to 64 letters, "
				 "digits, - or _");
	ns->remote.account_id = strdup(value);
	if (!ns->remote.account_id)
		return parser_error(p, "%s", strerror(ENOMEM));
	return 0;
}

/*
 * Check and keep a token: printable ASCII without spaces (it goes into
 * an HTTP header).  where says where it came from; the token itself is
 * never shown in a message.
 */
static int keep_token(struct parser *p, const char *key, const char *token,
		      size_t len, const char *where)
{
	struct config_ns *ns = current_ns(p);
	size_t i;

	if (!len)
		return parser_error(p, "%s: %s is empty", key, where);
	if (len > REMOTE_TOKEN_MAX)
		return parser_error(p, "%s: %s is longer than %d bytes", key,
				    where, REMOTE_TOKEN_MAX);
	for (i = 0; i < len; i++)
		if (token[i] <= ' ' || token[i] >= 0x7f)
			return parser_error(p,
					    "%s: %s holds a byte that cannot "
					    "be in a token",
					    key, where);
	ns->remote.api_token = strndup(token, len);
	if (!ns->remote.api_token)
		return parser_error(p, "%s", strerror(ENOMEM));
	return 0;
}

static int set_token_file(struct parser *p, const char *key, const char *value)
{
	char shown[CONFIG_SHOW_BUF], buf[REMOTE_TOKEN_MAX + 2];
	char *path;
	size_t len;
	FILE *fp;
	int err;

	if (current_ns(p)->remote.api_token)
		return parser_error(p, "give api_token_file or api_token_env, "
				       "not both");
	if (!*value)
		return bad_value(p, key, value, "expected a file name");
	path = value[0] == '/' ? strdup(value) : path_join(p->dir, value);
	if (!path)
		return parser_error(p, "%s", strerror(ENOMEM));
	fp = fopen(path, "r");
	err = errno;
	free(path);
	if (!fp)
		return parser_error(p, "%s '%s': %s", key, show(shown, value),
				    strerror(err));
	len = fread(buf, 1, sizeof(buf) - 1, fp);
	err = ferror(fp) ? errno : 0;
	fclose(fp);
	if (err)
		return parser_error(p, "%s '%s': %s", key, show(shown, value),
				    strerror(err));
	while (len && isspace((unsigned char)buf[len - 1]))
		len--; /* the newline an editor or echo adds */
	return keep_token(p, key, buf, len, "the file");
}

static int set_token_env(struct parser *p, const char *key, const char *value)
{
	char shown[CONFIG_SHOW_BUF];
	const char *token;

	if (current_ns(p)->remote.api_token)
		return parser_error(p, "give api_token_file or api_token_env, "
				       "not both");
	if (!*value)
		return bad_value(p, key, value,
				 "expected an environment variable");
	token = getenv(value);
	if (!token)
		return parser_error(p,
				    "%s: environment variable '%s' is not "
				    "set",
				    key, show(shown, value));
	return keep_token(p, key, token, strlen(token), "the variable");
}

static int set_api_base(struct parser *p, const char *key, const char *value)
{
	struct config_ns *ns = current_ns(p);
	size_t len = strlen(value);

	if (strncmp(value, "https://", 8) && strncmp(value, "http://", 7))
		return bad_value(p, key, value,
				 "expected an http:// or https:// URL");
	if (strpbrk(value, " ?#"))
		return bad_value(p, key, value,
				 "expected a URL without spaces, query or "
				 "fragment");
	while (len && value[len - 1] == '/')
		len--;
	ns->remote.api_base = strndup(value, len);
	if (!ns->remote.api_base)
		return parser_error(p, "%s", strerror(ENOMEM));
	return 0;
}

static int set_cache_ttl(struct parser *p, const char *key, const char *value)
{
	unsigned long sec;

	if (parse_uint(value, 10, 31536000, &sec) < 0 || sec < 30)
		return bad_value(p, key, value,
				 "expected seconds, at least 30 (as Workers "
				 "KV's cacheTtl)");
	current_ns(p)->remote.cache_ttl_sec = (int)sec;
	return 0;
}

static int set_cache_max(struct parser *p, const char *key, const char *value)
{
	unsigned long mb;

	if (parse_uint(value, 10, 1048576, &mb) < 0 || mb < 1)
		return bad_value(p, key, value,
				 "expected MiB from 1 to 1048576");
	current_ns(p)->remote.cache_max_mb = (int)mb;
	return 0;
}

static int set_cache_path(struct parser *p, const char *key, const char *value)
{
	struct config_ns *ns = current_ns(p);

	if (!*value)
		return bad_value(p, key, value, "expected a file name");
	ns->remote.cache_path =
	    value[0] == '/' ? strdup(value) : path_join(p->dir, value);
	if (!ns->remote.cache_path)
		return parser_error(p, "%s", strerror(ENOMEM));
	return 0;
}

static int set_stale(struct parser *p, const char *key, const char *value)
{
	return set_bool(p, key, value,
			&current_ns(p)->remote.is_stale_if_error);
}

static int set_retry_max(struct parser *p, const char *key, const char *value)
{
	unsigned long sec;

	if (parse_uint(value, 10, 600, &sec) < 0)
		return bad_value(p, key, value,
				 "expected seconds from 0 to 600");
	current_ns(p)->remote.retry_max_sec = (int)sec;
	return 0;
}

/* The index in config_keys of the first cloudflare-only key. */
static size_t remote_key_first(void)
{
	size_t i;

	for (i = 0; strcmp(config_keys[i].name, "account_id"); i++)
		;
	return i;
}

/*
 * At the end of a namespace section: the checks that need the whole
 * section.  Errors name the line of the key at fault, or the header's
 * line for a missing key.
 */
static int finish_namespace(struct parser *p)
{
	char title[CONFIG_TITLE_BUF];
	int saved = p->line, rc = 0;
	struct config_ns *ns;
	size_t i;

	if (p->failed || p->section != SECTION_NAMESPACE)
		return 0;
	ns = current_ns(p);
	if (ns->backend != CONFIG_BACKEND_CLOUDFLARE) {
		for (i = remote_key_first(); i < CONFIG_KEY_COUNT; i++) {
			if (!p->key_line[i])
				continue;
			p->line = p->key_line[i];
			rc = parser_error(p, "%s needs backend = cloudflare",
					  config_keys[i].name);
			break;
		}
		p->line = saved;
		return rc;
	}

	p->line = ns->line;
	show_section(p, title);
	if (!ns->id)
		rc = parser_error(p,
				  "%s: backend = cloudflare needs id (the "
				  "namespace id)",
				  title);
	else if (!is_id(ns->id))
		rc = parser_error(p,
				  "%s: id must be the namespace id: up to "
				  "64 letters, digits, - or _",
				  title);
	else if (!ns->remote.account_id)
		rc = parser_error(p,
				  "%s: backend = cloudflare needs "
				  "account_id",
				  title);
	else if (!ns->remote.api_token)
		rc = parser_error(p,
				  "%s: backend = cloudflare needs "
				  "api_token_file or api_token_env",
				  title);
	p->line = saved;
	if (rc)
		return rc;
	if (!ns->remote.api_base)
		ns->remote.api_base = strdup(CONFIG_API_BASE);
	if (!ns->remote.api_base)
		return parser_error(p, "%s", strerror(ENOMEM));
	return 0;
}

/* Default cache paths, once the store's path is known. */
static int finish_remote(struct parser *p)
{
	struct config *cfg = p->cfg;
	int i;

	for (i = 0; i < cfg->ns_count; i++) {
		struct config_remote *r = &cfg->ns[i].remote;

		if (cfg->ns[i].backend != CONFIG_BACKEND_CLOUDFLARE ||
		    r->cache_path)
			continue;
		if (asprintf(&r->cache_path, "%s-cache-%s.db", cfg->store_path,
			     cfg->ns[i].id) < 0) {
			r->cache_path = NULL;
			return file_error(p, "%s", strerror(ENOMEM));
		}
	}
	return 0;
}

static void set_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->busy_timeout_ms = 5000;
	cfg->sweep_sec = 60;
	cfg->uid = geteuid();
	cfg->gid = getegid();
	cfg->file_mode = 0644;
	cfg->dir_mode = 0755;
	cfg->kernel_cache_sec = 1;
}

/* Set p->dir to the absolute folder of p->file.  Returns 0 or -1. */
static int find_dir(struct parser *p)
{
	const char *slash = strrchr(p->file, '/');
	char *dir;
	int err;

	if (!slash)
		dir = strdup(".");
	else if (slash == p->file)
		dir = strdup("/");
	else
		dir = strndup(p->file, (size_t)(slash - p->file));
	if (!dir)
		return file_error(p, "%s", strerror(ENOMEM));
	p->dir = realpath(dir, NULL);
	err = errno;
	free(dir);
	if (!p->dir)
		return file_error(p, "%s", strerror(err));
	return 0;
}

int config_load(const char *path, struct config *cfg, char *err,
		size_t err_size)
{
	struct parser p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.file = path;
	p.err = err;
	p.err_size = err_size;
	if (err_size)
		err[0] = '\0';
	set_defaults(cfg);

	p.fp = fopen(path, "r");
	if (!p.fp)
		return file_error(&p, "%s", strerror(errno));
	if (find_dir(&p) < 0)
		goto close_file;
	/* Shown by status, which runs after the daemon left the folder. */
	cfg->file = realpath(path, NULL);
	if (!cfg->file)
		cfg->file = strdup(path);
	if (!cfg->file) {
		file_error(&p, "%s", strerror(ENOMEM));
		goto close_file;
	}

	rc = ini_parse_stream(parser_read, &p, parser_handle, &p);
	/* Only if inih fails in a way the reader did not foresee. */
	if (rc > 0)
		parser_error(&p, "syntax error");
	else if (rc < 0)
		file_error(&p, "%s", strerror(ENOMEM));

	finish_namespace(&p);
	if (!cfg->ns_count)
		file_error(&p, "no [namespace NAME] section");
	if (!p.failed && !cfg->store_path) {
		cfg->store_path = path_join(p.dir, "kvfs.db");
		if (!cfg->store_path)
			file_error(&p, "%s", strerror(ENOMEM));
	}
	if (!p.failed)
		finish_remote(&p);

close_file:
	fclose(p.fp);
	free(p.dir);
	if (p.failed) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

int config_default(struct config *cfg, char *err, size_t err_size)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int rc;

	set_defaults(cfg);
	/* The XDG spec says to ignore a relative XDG_DATA_HOME. */
	if (xdg && xdg[0] == '/')
		rc = asprintf(&cfg->store_path, "%s/kvfs/kvfs.db", xdg);
	else if (home && home[0] == '/')
		rc = asprintf(&cfg->store_path, "%s/.local/share/kvfs/kvfs.db",
			      home);
	else {
		config_free(cfg);
		snprintf(err, err_size,
			 "no place for the database: neither XDG_DATA_HOME "
			 "nor HOME is an absolute path");
		return -1;
	}
	if (rc < 0)
		goto no_memory;

	cfg->ns = calloc(1, sizeof(*cfg->ns));
	if (!cfg->ns)
		goto no_memory;
	cfg->ns_count = 1;
	cfg->ns->name = strdup("default");
	if (!cfg->ns->name)
		goto no_memory;
	cfg->ns->layout = CONFIG_LAYOUT_TREE;
	return 0;

no_memory:
	if (rc < 0)
		cfg->store_path = NULL; /* asprintf() leaves it undefined */
	config_free(cfg);
	snprintf(err, err_size, "%s", strerror(ENOMEM));
	return -1;
}

const struct config_ns *config_find_ns(const struct config *cfg,
				       const char *name)
{
	int i;

	for (i = 0; i < cfg->ns_count; i++)
		if (!strcmp(cfg->ns[i].name, name))
			return &cfg->ns[i];
	return NULL;
}

void config_free(struct config *cfg)
{
	int i;

	for (i = 0; i < cfg->ns_count; i++) {
		struct config_remote *r = &cfg->ns[i].remote;

		free(cfg->ns[i].name);
		free(cfg->ns[i].id);
		free(r->account_id);
		if (r->api_token)
			explicit_bzero(r->api_token, strlen(r->api_token));
		free(r->api_token);
		free(r->api_base);
		free(r->cache_path);
	}
	free(cfg->ns);
	free(cfg->file);
	free(cfg->store_path);
	memset(cfg, 0, sizeof(*cfg));
}
