// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "lib/fields.h"
#include "lib/format.h"

static struct field *add(struct fields *f, const char *key, __u8 type)
{
	struct field *x;

	/* keep room to close what is open */
	if (f->n >= FIELDS_MAX - (type == FIELD_END ? 0 : 2)) {
		f->full = true;
		return NULL;
	}
	x = &f->v[f->n++];
	memset(x, 0, sizeof(*x));
	x->key = key;
	x->type = type;
	return x;
}

void field_u64(struct fields *f, const char *key, __u64 v)
{
	struct field *x = add(f, key, FIELD_U64);

	if (x)
		x->v.u = v;
}

void field_real(struct fields *f, const char *key, double v)
{
	struct field *x = add(f, key, FIELD_REAL);

	if (x)
		x->v.u = v < 0 ? 0 : (__u64)(v * 1000 + 0.5);
}

void field_null(struct fields *f, const char *key)
{
	add(f, key, FIELD_NULL);
}

void field_str(struct fields *f, const char *key, const char *s)
{
	struct field *x;

	if (!s) {
		field_null(f, key);
		return;
	}
	x = add(f, key, FIELD_STR);
	if (x)
		memcpy(x->v.str, s, strnlen(s, FIELD_STR_MAX));
}

void field_name(struct fields *f, const char *key, const char *s)
{
	struct field *x = add(f, key, FIELD_NAME);

	if (x)
		x->v.name = s;
}

void field_addr(struct fields *f, const char *key, __u16 family,
		const __u8 *addr)
{
	struct field *x = add(f, key, FIELD_ADDR);

	if (x) {
		x->family = (__u8)family;
		memcpy(x->v.addr, addr, 16);
	}
}

void field_owner(struct fields *f, __u32 pid, const char *comm)
{
	if (pid) {
		field_u64(f, "pid", pid);
		field_str(f, "comm", comm);
	} else {
		field_null(f, "pid");
		field_null(f, "comm");
	}
}

void field_cgroup(struct fields *f, __u64 id)
{
	struct field *x = add(f, "cgroup", FIELD_CGROUP);

	if (x)
		x->v.u = id;
}

static field_cgroup_namer cg_namer;
static void *cg_namer_ctx;

void fields_set_cgroup_namer(field_cgroup_namer fn, void *ctx)
{
	cg_namer = fn;
	cg_namer_ctx = ctx;
}

/* JSON: "cgroup":..,"unit":..,"container":..; text: the known ones */
static void cgroup_print(struct printer *p, __u64 id)
{
	struct cg_names n = { 0 };
	const char *path = id && cg_namer ? cg_namer(cg_namer_ctx, id, &n)
					  : NULL;
	struct jbuf *b = p->b;

	if (!p->json) {
		if (!path) {
			json_lit(b, "cgroup_id=");
			json_u64(b, id);
			return;
		}
		json_lit(b, "cgroup=");
		json_raw(b, path, strlen(path));
		if (n.unit_len) {
			json_lit(b, " unit=");
			json_raw(b, path + n.unit_off, n.unit_len);
		}
		if (n.ctr_len) {
			json_lit(b, " container=");
			json_raw(b, path + n.ctr_off, n.ctr_len);
		}
		return;
	}
	print_key(p, "cgroup_id");
	json_u64(b, id);
	print_key(p, "cgroup");
	if (path)
		json_str(b, path, strlen(path));
	else
		json_lit(b, "null");
	print_key(p, "unit");
	if (n.unit_len)
		json_str(b, path + n.unit_off, n.unit_len);
	else
		json_lit(b, "null");
	print_key(p, "container");
	if (n.ctr_len)
		json_str(b, path + n.ctr_off, n.ctr_len);
	else
		json_lit(b, "null");
}

void field_list(struct fields *f, const char *key)
{
	add(f, key, FIELD_LIST);
}

void field_object(struct fields *f)
{
	add(f, NULL, FIELD_OBJECT);
}

void field_end(struct fields *f)
{
	add(f, NULL, FIELD_END);
}

static bool field_equal(const struct field *a, const struct field *b)
{
	if (a->type != b->type || (a->key != b->key &&
	    (!a->key || !b->key || strcmp(a->key, b->key))))
		return false;
	switch (a->type) {
	case FIELD_U64:
	case FIELD_REAL:
	case FIELD_CGROUP:
		return a->v.u == b->v.u;
	case FIELD_STR:
		return !strncmp(a->v.str, b->v.str, FIELD_STR_MAX);
	case FIELD_NAME:
		return !strcmp(a->v.name, b->v.name);
	case FIELD_ADDR:
		return a->family == b->family &&
		       !memcmp(a->v.addr, b->v.addr, 16);
	}
	return true;
}

bool fields_equal(const struct fields *a, const struct fields *b)
{
	if (a->n != b->n)
		return false;
	for (__u16 i = 0; i < a->n; i++)
		if (!field_equal(&a->v[i], &b->v[i]))
			return false;
	return true;
}

static void value_json(struct jbuf *b, const struct field *x)
{
	switch (x->type) {
	case FIELD_U64:
		json_u64(b, x->v.u);
		break;
	case FIELD_REAL:
		json_fixed(b, x->v.u, 3);
		break;
	case FIELD_STR:
		json_str(b, x->v.str, strnlen(x->v.str, FIELD_STR_MAX));
		break;
	case FIELD_NAME:
		json_ch(b, '"');
		json_raw(b, x->v.name, strlen(x->v.name));
		json_ch(b, '"');
		break;
	case FIELD_ADDR:
		json_addr(b, x->family, x->v.addr);
		break;
	default:
		json_lit(b, "null");
	}
}

static void value_text(struct jbuf *b, const struct field *x)
{
	char a[ADDR_STRLEN];

	switch (x->type) {
	case FIELD_STR:
		json_raw(b, x->v.str, strnlen(x->v.str, FIELD_STR_MAX));
		break;
	case FIELD_NAME:
		json_raw(b, x->v.name, strlen(x->v.name));
		break;
	case FIELD_ADDR:
		json_raw(b, a, addr_str(a, x->family, x->v.addr));
		break;
	default:
		value_json(b, x);
	}
}

void fields_print(struct printer *p, const char *key,
		  const struct fields *f)
{
	bool list[PRINT_DEPTH];	/* what each level opened */
	int depth = 0;

	print_open_object(p, key);
	for (__u16 i = 0; i < f->n; i++) {
		const struct field *x = &f->v[i];

		if (p->json) {
			switch (x->type) {
			case FIELD_LIST:
			case FIELD_OBJECT:
				if (x->type == FIELD_LIST)
					print_open_array(p, x->key);
				else
					print_open_object(p, x->key);
				if (depth < PRINT_DEPTH)
					list[depth] = x->type == FIELD_LIST;
				depth++;
				break;
			case FIELD_END:
				if (--depth < PRINT_DEPTH && list[depth])
					print_close_array(p);
				else
					print_close_object(p);
				break;
			case FIELD_CGROUP:
				cgroup_print(p, x->v.u);
				break;
			default:
				print_key(p, x->key);
				value_json(p->b, x);
			}
			continue;
		}
		if (x->type == FIELD_END) {
			depth--;
			continue;
		}
		if (depth) {	/* inside a nested list: left out */
			depth += x->type == FIELD_LIST ||
				 x->type == FIELD_OBJECT;
			continue;
		}
		if (i)
			json_ch(p->b, ' ');
		if (x->type == FIELD_CGROUP) {
			cgroup_print(p, x->v.u);
			continue;
		}
		json_raw(p->b, x->key, strlen(x->key));
		json_ch(p->b, '=');
		if (x->type == FIELD_LIST) {
			json_lit(p->b, "[...]");
			depth++;
		} else {
			value_text(p->b, x);
		}
	}
	print_close_object(p);
}
