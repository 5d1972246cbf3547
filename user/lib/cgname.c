// SPDX-License-Identifier: GPL-2.0
/* Units and container ids from cgroup v2 paths (cgname.h). */
#include <stdbool.h>
#include <string.h>

#include "lib/cgname.h"

/* Scope names of container runtimes: prefix, then the id, then ".scope". */
static const char *const runtime_scopes[] = {
	"docker-", "cri-containerd-", "crio-", "libpod-",
};

static bool ends_with(const char *s, size_t n, const char *suf)
{
	size_t m = strlen(suf);

	return n > m && !memcmp(s + n - m, suf, m);
}

static bool starts_with(const char *s, size_t n, const char *pre)
{
	size_t m = strlen(pre);

	return n > m && !memcmp(s, pre, m);
}

/* A container id: 12 to 64 lowercase hex digits. */
static bool is_ctr_id(const char *s, size_t n)
{
	if (n < 12 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* A runtime's scope: sets *off and *len to the id in it. */
static bool runtime_scope(const char *c, size_t n, size_t *off, size_t *len)
{
	if (!ends_with(c, n, ".scope"))
		return false;
	for (size_t i = 0; i < sizeof(runtime_scopes) /
			       sizeof(runtime_scopes[0]); i++) {
		size_t p = strlen(runtime_scopes[i]);

		if (starts_with(c, n, runtime_scopes[i]) &&
		    is_ctr_id(c + p, n - p - strlen(".scope"))) {
			*off = p;
			*len = n - p - strlen(".scope");
			return true;
		}
	}
	return false;
}

void cg_names(const char *path, struct cg_names *out)
{
	const char *prev = NULL, *c = path;
	size_t prev_len = 0;
	bool kube = false;

	memset(out, 0, sizeof(*out));
	while (*c) {
		size_t n, off, len;

		while (*c == '/')
			c++;
		n = strcspn(c, "/");
		if (!n)
			break;
		if (n >= 8 && !memcmp(c, "kubepods", 8))
			kube = true;
		if (ends_with(c, n, ".service") || ends_with(c, n, ".scope")) {
			out->unit_off = c - path;
			out->unit_len = n;
		}
		if (runtime_scope(c, n, &off, &len)) {
			out->ctr_off = c - path + off;
			out->ctr_len = len;
		} else if (prev && is_ctr_id(c, n) &&
			   ((prev_len == 6 && !memcmp(prev, "docker", 6)) ||
			    (kube && starts_with(prev, prev_len, "pod")))) {
			out->ctr_off = c - path;
			out->ctr_len = n;
		}
		prev = c;
		prev_len = n;
		c += n;
	}
}
