/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Typed key/value data, kept to be rendered later (a finding's subject
 * and evidence): a bounded list of {key, type, value}, with lists of
 * objects nested in it. fields_print() is the one renderer: a JSON
 * object in JSON mode, "key=value key=value" in text mode (nested
 * lists as "[...]": the summary names what matters in them).
 *
 * Keys are string literals (kept by pointer). A list that outgrows
 * FIELDS_MAX drops its last entries and says so (full).
 */
#ifndef TCPW_FIELDS_H
#define TCPW_FIELDS_H

#include <stdbool.h>
#include <linux/types.h>

#include "lib/cgname.h"
#include "lib/print.h"

#define FIELDS_MAX	112	/* CLOSE_WAIT's ten listed sockets fit */
#define FIELD_STR_MAX	16	/* a comm */

enum field_type {
	FIELD_U64 = 1,
	FIELD_REAL,		/* thousandths, as json_real writes it */
	FIELD_NULL,
	FIELD_STR,		/* up to FIELD_STR_MAX bytes, escaped */
	FIELD_NAME,		/* a constant string from a table */
	FIELD_ADDR,
	FIELD_LIST,		/* opens a list of objects */
	FIELD_OBJECT,		/* opens an object in a list */
	FIELD_END,		/* closes the last one opened */
	FIELD_CGROUP,		/* a cgroup id: "cgroup", "unit", "container" */
};

struct field {
	const char *key;
	__u8 type;
	__u8 family;		/* FIELD_ADDR */
	union {
		__u64 u;	/* FIELD_U64; FIELD_REAL: v * 1000 */
		const char *name;
		char str[FIELD_STR_MAX];
		__u8 addr[16];
	} v;
};

struct fields {
	__u16 n;
	bool full;
	struct field v[FIELDS_MAX];
};

static inline void fields_reset(struct fields *f)
{
	f->n = 0;
	f->full = false;
}

void field_u64(struct fields *f, const char *key, __u64 v);
/* 3 decimals, negative values as 0 (json_real) */
void field_real(struct fields *f, const char *key, double v);
void field_null(struct fields *f, const char *key);
/* s: at most FIELD_STR_MAX bytes, NUL-terminated if shorter; NULL: null */
void field_str(struct fields *f, const char *key, const char *s);
void field_name(struct fields *f, const char *key, const char *s);
void field_addr(struct fields *f, const char *key, __u16 family,
		const __u8 *addr);
/* "pid":N,"comm":".." or both null */
void field_owner(struct fields *f, __u32 pid, const char *comm);
/*
 * A socket's cgroup, kept as its id and named when rendered (findings
 * outlive the cache's strings): "cgroup":PATH,"unit":..,"container":..
 * through the namer the daemon sets; the id alone without one.
 */
void field_cgroup(struct fields *f, __u64 id);
/* Returns the path of id (NULL: unknown) and its unit and container. */
typedef const char *(*field_cgroup_namer)(void *ctx, __u64 id,
					  struct cg_names *n);
void fields_set_cgroup_namer(field_cgroup_namer fn, void *ctx);
void field_list(struct fields *f, const char *key);
void field_object(struct fields *f);
void field_end(struct fields *f);

/* Same keys, types and values (what their JSON would tell apart). */
bool fields_equal(const struct fields *a, const struct fields *b);
/* JSON: "key":{...} (key NULL: the object alone); text: k=v k=v */
void fields_print(struct printer *p, const char *key,
		  const struct fields *f);

#endif
