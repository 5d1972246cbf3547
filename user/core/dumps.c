// SPDX-License-Identifier: GPL-2.0
/*
 * The loop's side of the kernel worker (dumps.h): reconcile rounds, port
 * learning, namespace discovery, and taking the worker's answers back;
 * the sweep's cache is kq.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "core/daemon.h"
#include "core/dumps.h"
#include "core/dumps_priv.h"
#include "core/emit.h"

struct ns_rec *ns_find(struct dumps *k, __u32 inum)
{
	for (__u32 i = 0; i < k->nns; i++)
		if (k->ns[i].f.inum == inum)
			return &k->ns[i];
	return NULL;
}

struct ns_rec *ns_get(struct dumps *k, __u32 inum)
{
	struct ns_rec *r = ns_find(k, inum);

	if (r)
		return r;
	if (k->nns == k->cap) {
		__u32 cap = k->cap ? k->cap * 2 : 16;
		struct ns_rec *v = realloc(k->ns, cap * sizeof(*v));

		if (!v)
			return NULL;
		k->ns = v;
		k->cap = cap;
	}
	r = &k->ns[k->nns++];
	memset(r, 0, sizeof(*r));
	r->f.inum = inum;
	return r;
}

static void ns_rec_free(struct ns_rec *r)
{
	free(r->eh.v);
	free(r->lst.v);
	free(r->own);
}

/* A discovery's answer: namespaces not in it are forgotten (their table
 * entries stay: events or a later dump will tell). */
static void ns_update(struct dumps *k, const struct kw_job *j)
{
	for (__u32 i = 0; i < k->nns;) {
		bool seen = false;

		for (__u32 x = 0; x < j->nns && !seen; x++)
			seen = j->ns[x].inum == k->ns[i].f.inum;
		/* a cache refresh in flight still points at it: keep it */
		if (seen || k->ns[i].eh.busy || k->ns[i].lst.busy) {
			i++;
			continue;
		}
		ns_rec_free(&k->ns[i]);
		k->ns[i] = k->ns[--k->nns];
	}
	for (__u32 x = 0; x < j->nns; x++) {
		struct ns_rec *r = ns_get(k, j->ns[x].inum);

		if (r)
			r->f = j->ns[x];
	}
}

/* ---- removed-while-a-round-runs --------------------------------------- */

void dumps_removed(struct daemon *d, __u64 cookie)
{
	struct dumps *k = d->dumps;

	/* without memory, at worst a removed socket comes back */
	if (k && k->active && cookie)
		(void)keyset_add(&k->rm, cookie);
}

static bool was_removed(void *ctx, __u64 cookie)
{
	return keyset_has(&((struct daemon *)ctx)->dumps->rm, cookie);
}

/* ---- reconcile rounds ---------------------------------------------------- */

static void on_correction(void *ctx, const struct sock_entry *e, __u8 old,
			  __u8 new)
{
	emit_synthetic(ctx, e, old, new, mono_ns(), "reconcile");
	if (new == TCPW_CLOSE)	/* gone from the kernel unseen */
		conn_vanished(ctx, e, mono_ns());
}

void dumps_request_round(struct daemon *d, const char *reason, bool all)
{
	struct dumps *k = d->dumps;

	k->want = true;
	k->want_all |= all;
	if (!k->reason || !strcmp(reason, "start") || !strcmp(reason, "lost"))
		k->reason = reason;
}

bool dumps_round_busy(const struct daemon *d)
{
	return d->dumps && (d->dumps->want || d->dumps->active);
}

bool dumps_owners_busy(const struct daemon *d)
{
	return d->dumps && d->dumps->owners_busy;
}

/*
 * Events were lost: the namespaces the kernel noted them in are dumped
 * next round, and only those, so that a loss in one busy netns does not
 * cost a dump of every other (500 of them on a container host, and the
 * dumps' CPU was more loss). Every netns when the kernel cannot tell
 * (its set overflowed, an older module) or names one not discovered yet.
 */
void dumps_lost(struct daemon *d)
{
	struct dumps *k = d->dumps;
	struct tcpw_lost_netns l;
	bool all = source_lost_netns(d->src, &l) || l.overflow;
	__u64 now = mono_ns();

	for (__u32 i = 0; !all && i < l.nr; i++) {
		struct ns_rec *r = ns_find(k, l.netns[i]);

		if (!r) {
			all = true;
			break;
		}
		r->dirty = true;
		r->dirty_ns = now;
	}
	if (!all)
		return;
	k->want_all = true;
	for (__u32 i = 0; i < k->nns; i++) {
		k->ns[i].dirty = true;
		k->ns[i].dirty_ns = now;
	}
}

void dumps_submit(struct daemon *d, struct kw_job *j)
{
	kw_submit(d->dumps->w, j);
}

static void round_end(struct daemon *d)
{
	struct dumps *k = d->dumps;
	__u64 now;

	rec_round_end(&d->tab, &k->rr);
	now = mono_ns();
	if (k->seed) {
		d->seeded = d->tab.count;
	} else {
		d->rec_runs++;
		d->rec_added += k->rr.r.added;
		d->rec_removed += k->rr.r.removed;
		d->rec_changed += k->rr.r.changed;
	}
	emit_reconcile(d, &k->rr.r, k->reason ? k->reason : "periodic",
		       now - k->t0);
	k->active = false;
	k->seed = false;
	k->last_round_end = now;
	/* Loss-triggered rounds keep their distance from each other. */
	if (k->reason && !strcmp(k->reason, "lost"))
		d->last_round_end_ns = now;
	k->reason = NULL;
	keyset_clear(&k->rm);
	if (d->rec_reason && !strcmp(d->rec_reason, "lost")) {
		/*
		 * Events were lost while this round ran (check_drops asked
		 * for the next one): keep that request, at its distance
		 * from a loss round. Only what was lost before a dump began
		 * is healed by it.
		 */
		__u64 gap = d->last_round_end_ns + KQ_LOSS_ROUND_GAP_NS;

		if (d->last_round_end_ns && d->next_reconcile_ns < gap)
			d->next_reconcile_ns = gap;
	} else {
		d->next_reconcile_ns = d->o.reconcile_ms ?
			now + d->o.reconcile_ms * 1000000ULL : 0;
	}
	/* Owners /proc knows: a scan on the worker, applied when back. */
	if (!k->owners_busy) {
		struct kw_job *j = kw_job_new(KW_OWNERS, TAG_OWNERS, NULL);

		if (j) {
			j->inodes = owners_wanted(&d->tab, &j->ninodes);
			j->all_procs = true;
			if (!j->ninodes) {
				kw_job_free(j);
			} else {
				k->owners_busy = true;
				dumps_submit(d, j);
			}
		}
	}
}

/* Namespaces whose sockets events cannot fully describe: an orphan's
 * FIN_WAIT2 turns TIME_WAIT on a remote FIN no tracepoint shows. */
static void mark_uncertain(struct daemon *d)
{
	struct dumps *k = d->dumps;
	struct sock_entry *e;
	__u32 i, last = 0;

	table_for_each(&d->tab, e, i) {
		struct ns_rec *r;

		if (e->state != TCPW_FIN_WAIT2 || e->netns == last)
			continue;
		last = e->netns;
		r = ns_find(k, e->netns);
		if (r)
			r->dirty = true;
	}
}

static void round_dumps(struct daemon *d)
{
	struct dumps *k = d->dumps;
	bool all = k->want_all || k->seed;
	__u32 extra = 0;

	k->want_all = false;
	if (!all) {
		mark_uncertain(d);
		/* A few of the others, oldest dump first: a safety net that
		 * costs the same however many namespaces there are. */
		for (__u32 n = 0; n < k->nns && extra < KQ_ROUND_ROBIN; n++) {
			struct ns_rec *r = &k->ns[(k->rr_next + n) % k->nns];

			if (!r->dirty) {
				r->dirty = true;
				extra++;
			}
		}
		if (k->nns)
			k->rr_next = (k->rr_next + extra) % k->nns;
	}
	for (__u32 i = 0; i < k->nns; i++) {
		struct ns_rec *r = &k->ns[i];
		struct kw_job *j;

		if (!all && !r->dirty)
			continue;
		j = kw_job_new(KW_DUMP, TAG_ROUND_DUMP, NULL);
		if (!j)
			continue;
		j->netns = r->f.inum;
		j->states = SD_ALL_STATES;
		k->jobs++;
		dumps_submit(d, j);
	}
	if (!k->jobs)
		round_end(d);
}

static void round_start(struct daemon *d)
{
	struct dumps *k = d->dumps;
	struct kw_job *j = kw_job_new(KW_NETNS, TAG_ROUND_NETNS, NULL);

	if (!j)
		return;
	k->want = false;
	k->active = true;
	k->seed = k->reason && !strcmp(k->reason, "start");
	k->t0 = mono_ns();
	rec_round_begin(&k->rr, &d->o.filter, k->seed, on_correction, d,
			was_removed);
	j->netns = d->o.filter.netns;
	k->netns_busy = true;
	dumps_submit(d, j);
}

static void round_dump_finish(struct daemon *d, struct kw_job *j, int err)
{
	struct dumps *k = d->dumps;
	struct ns_rec *r = ns_find(k, j->netns);

	if (!err)
		err = rec_round_netns_done(&k->rr, j->netns, j->start_ns);
	if (err == -ENOMEM) {
		fprintf(stderr, "tcpwatch: out of memory for the table\n");
		d->stop = true;
	}
	if (err) {
		/* -ENOENT: no longer openable. Its entries stay. */
		k->rr.r.failed++;
	} else if (r) {
		/* a loss noted after the dump began is not healed by it */
		if (r->dirty_ns < j->start_ns)
			r->dirty = false;
		r->dumped_ns = j->end_ns;
	}
	if (!--k->jobs)
		round_end(d);
}

/* Queued: the loop applies it a slice per pass (dumps_apply). */
static void round_dump_done(struct daemon *d, struct kw_job *j)
{
	struct dumps *k = d->dumps;

	j->next = NULL;
	if (k->apply_tail)
		k->apply_tail->next = j;
	else
		k->apply_head = j;
	k->apply_tail = j;
}

bool dumps_applying(const struct daemon *d)
{
	return d->dumps && d->dumps->apply_head;
}

/*
 * A dump is applied DUMP_SLICE sockets a pass, the ring drained before
 * each slice, not in one stretch that grows with the netns (30,000
 * TIME_WAITs: 8 slices of at most ~6 ms in the sanitized build). Between
 * slices, events apply as usual: the round's rules (an
 * entry with an event since the dump began is left alone, a socket
 * removed meanwhile is not brought back) hold across slices too.
 */
bool dumps_apply(struct daemon *d)
{
	struct dumps *k = d->dumps;
	struct kw_job *j = k ? k->apply_head : NULL;
	__u64 t0;
	__u32 n;
	int err;

	if (!j)
		return false;
	/* Every event up to now is applied first: the dump is older. */
	daemon_drain(d);
	t0 = mono_ns();
	err = j->err;
	if (!err) {
		n = j->nsocks - k->apply_pos;
		if (n > DUMP_SLICE)
			n = DUMP_SLICE;
		err = rec_round_apply(&d->tab, &k->rr, j->netns, j->start_ns,
				      j->socks + k->apply_pos, n);
		k->apply_pos += n;
		d->rec_slices++;
	}
	t0 = mono_ns() - t0;
	if (t0 > d->rec_slice_max_ns)
		d->rec_slice_max_ns = t0;
	if (!err && k->apply_pos < j->nsocks)
		return true;
	k->apply_head = j->next;
	if (!k->apply_head)
		k->apply_tail = NULL;
	k->apply_pos = 0;
	round_dump_finish(d, j, err);
	kw_job_free(j);
	return k->apply_head != NULL;
}

/* ---- the rest ----------------------------------------------------------- */

static void ports_tick(struct daemon *d, __u64 now)
{
	struct dumps *k = d->dumps;
	struct sock_entry *e;
	__u32 want[16], i;
	bool old = false;
	int n;

	if (k->port_jobs || now < k->next_ports_ns ||
	    !d->tab.by_state[TCPW_SYN_SENT])
		return;
	/* Under churn every connect is briefly port-less: ask only about
	 * SYNs that have waited a while. */
	table_for_each(&d->tab, e, i)
		if (e->state == TCPW_SYN_SENT && !e->sport &&
		    now - e->state_ns >= PORTS_AFTER_NS) {
			old = true;
			break;
		}
	if (!old)
		return;
	n = ports_wanted(&d->tab, want, 16);
	for (int x = 0; x < n; x++) {
		struct kw_job *j = kw_job_new(KW_DUMP, TAG_PORTS, NULL);

		if (!j)
			break;
		j->netns = want[x];
		j->states = 1u << TCPW_SYN_SENT;
		k->port_jobs++;
		dumps_submit(d, j);
	}
	k->next_ports_ns = now + PORTS_PERIOD_NS;
}

static int cmp_inum(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* A state a full socket can be sampled in (not LISTEN, not timewait). */
static bool sampled_state(const struct sock_entry *e)
{
	return !(e->flags & SOCK_TW) && e->state != TCPW_LISTEN &&
	       e->state != TCPW_TIME_WAIT && e->state != TCPW_CLOSE;
}

/* Table slots one tick looks at: ~1 ms; a million sockets in 8 ticks. */
#define SAMPLE_SCAN_SLICE	131072
/*
 * A pass walks the whole established hash once per netns (an iterator
 * sees one netns): ~2.5 ms a netns here, 125 ms for 50. The next pass
 * starts no sooner than this many times the last one's length after
 * it: passes take at most 1/20 (5 %) of the worker's core, and with
 * many namespaces the interval stretches instead (stats: stretched).
 */
#define SAMPLE_BUDGET		20

/*
 * The namespaces where the table has a socket to sample: each pass
 * walks its netns's whole established hash (the hash is shared), so a
 * netns with nothing to sample is not walked. The table is looked at a
 * slice a tick, not whole on the loop (6 ms at a million sockets).
 * Returns 1 while the scan goes on, else 0 or -ENOMEM.
 */
static int sample_scan(struct daemon *d, __u64 now)
{
	struct dumps *k = d->dumps;
	__u32 end = k->scan_at + SAMPLE_SCAN_SLICE, last = 0;
	__u64 young = now - d->o.src.sample_ms * 1000000ULL;

	if (end > d->tab.used || end < k->scan_at)
		end = d->tab.used;
	for (; k->scan_at < end; k->scan_at++) {
		struct sock_entry *e = table_at(&d->tab, k->scan_at);

		/* A socket that entered its state within the interval has
		 * a snapshot that recent (the state record's): it is no
		 * reason to walk a netns. Short connections never are;
		 * long ones are sampled from their second interval on. */
		if (!e || !sampled_state(e) || e->netns == last ||
		    e->state_ns > young)
			continue;
		last = e->netns;
		if (keyset_add(&k->scan, last))
			return -ENOMEM;
	}
	return k->scan_at < d->tab.used;
}

/* The set, sorted, for the job; the set is emptied. */
static int sample_nets(struct dumps *k, __u32 **out)
{
	__u32 *v = malloc((k->scan.n ? k->scan.n : 1) * sizeof(*v));
	__u32 n = 0;

	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < k->scan.cap; i++)
		if (k->scan.v[i])
			v[n++] = (__u32)k->scan.v[i];
	keyset_clear(&k->scan);
	qsort(v, n, sizeof(*v), cmp_inum);
	*out = v;
	return (int)n;
}

/*
 * The source's sample pass (BPF's iterator) once a sample interval: its
 * cost grows with the sockets, so it runs on the worker, never here.
 */
static void sample_tick(struct daemon *d, __u64 now)
{
	struct dumps *k = d->dumps;
	struct kw_job *j;
	int n;

	if (!d->o.src.sample_ms || !d->src || !source_samples(d->src))
		return;
	if (!k->scanning) {
		if (k->sample_busy || now < k->next_sample_ns)
			return;
		k->next_sample_ns = now + d->o.src.sample_ms * 1000000ULL;
		k->scanning = true;
		k->scan_at = 0;
	}
	n = sample_scan(d, now);
	if (n > 0)
		return;
	k->scanning = false;
	j = n ? NULL : kw_job_new(KW_EACH_NETNS, TAG_SAMPLE, NULL);
	n = j ? sample_nets(k, &j->nets) : -ENOMEM;
	if (n <= 0) {
		/* nothing to sample (or no memory: next interval) */
		keyset_clear(&k->scan);
		if (j)
			kw_job_free(j);
		return;
	}
	j->netns = d->o.filter.netns;
	j->nnets = n;
	j->fn = source_sample;
	j->arg = d->src;
	k->sample_busy = true;
	dumps_submit(d, j);
}

static void sample_done(struct daemon *d, const struct kw_job *j)
{
	__u64 ns = j->end_ns - j->start_ns;
	struct dumps *k = d->dumps;
	__u64 next = j->end_ns + SAMPLE_BUDGET * ns;

	k->sample_busy = false;
	if (next > k->next_sample_ns) {
		d->sample_stretched++;
		k->next_sample_ns = next;
	}
	d->sample_period_ns = k->next_sample_ns - j->start_ns;
	if (j->err && !d->sample.errors++)
		fprintf(stderr, "tcpwatch: window/buffer samples failed: %s (counted in stats; --sample-ms 0 turns them off)\n",
			strerror(-j->err));
	d->sample.runs++;
	d->sample.ns_total += ns;
	if (ns > d->sample.ns_max)
		d->sample.ns_max = ns;
	d->sample.ns_last = ns;
	d->sample.netns += j->calls;
	d->sample.visited += j->out[SAMPLE_VISITED];
	d->sample.full += j->out[SAMPLE_FULL];
	d->sample.emitted += j->out[SAMPLE_EMITTED];
}

void dumps_tick(struct daemon *d, __u64 now)
{
	struct dumps *k = d->dumps;

	if (!k)
		return;
	if (k->want && !k->active && !k->netns_busy)
		round_start(d);
	if (!k->netns_busy && now >= k->next_netns_ns) {
		struct kw_job *j = kw_job_new(KW_NETNS, TAG_NETNS, NULL);

		if (j) {
			j->netns = d->o.filter.netns;
			k->netns_busy = true;
			dumps_submit(d, j);
		}
		k->next_netns_ns = now + KQ_NETNS_PERIOD_NS;
	}
	ports_tick(d, now);
	kq_refresh(d, now);
	sample_tick(d, now);
}

/* false: the caller frees j; true: kept (a round dump to apply) */
static bool job_done(struct daemon *d, struct kw_job *j)
{
	struct dumps *k = d->dumps;

	switch (j->tag) {
	case TAG_NETNS:
	case TAG_ROUND_NETNS:
		k->netns_busy = false;
		if (!j->err)
			ns_update(k, j);
		if (j->tag == TAG_NETNS)
			break;
		if (j->err && k->seed) {
			k->err = j->err;
			k->active = false;
			break;
		}
		round_dumps(d);
		break;
	case TAG_ROUND_DUMP:
		round_dump_done(d, j);
		return true;
	case TAG_PORTS:
		k->port_jobs--;
		if (!j->err)
			ports_apply(&d->tab, j->socks, j->nsocks);
		break;
	case TAG_OWNERS:
		k->owners_busy = false;
		d->rec_owners += owners_apply(&d->tab, j->owners, j->nowners);
		break;
	case TAG_EH:
	case TAG_LST:
		kq_cache_done(d, j);
		break;
	case TAG_CW_OWNERS:
		kq_owners_done(d, j);
		break;
	case TAG_SAMPLE:
		sample_done(d, j);
		break;
	}
	return false;
}

void dumps_poll(struct daemon *d)
{
	struct kw_job *j;

	if (!d->dumps)
		return;
	while ((j = kw_done(d->dumps->w)))
		if (!job_done(d, j))
			kw_job_free(j);
}

int dumps_fd(const struct daemon *d)
{
	return kw_fd(d->dumps->w);
}

int dumps_seed_error(const struct daemon *d)
{
	return d->dumps ? d->dumps->err : 0;
}

static void on_io(struct daemon *d, struct daemon_io *io, __u32 events)
{
	dumps_poll(d);
}

int dumps_init(struct daemon *d)
{
	struct dumps *k = calloc(1, sizeof(*k));
	int err;

	if (!k)
		return -ENOMEM;
	err = kw_start(&k->w);
	if (err) {
		free(k);
		return err;
	}
	k->io.fn = on_io;
	d->dumps = k;
	if (d->epfd >= 0) {
		err = daemon_io_add(d, kw_fd(k->w), EPOLLIN, &k->io);
		if (err) {
			dumps_free(d);
			return err;
		}
	}
	return 0;
}

void dumps_free(struct daemon *d)
{
	struct dumps *k = d->dumps;

	if (!k)
		return;
	kw_stop(k->w);
	while (k->apply_head) {
		struct kw_job *j = k->apply_head;

		k->apply_head = j->next;
		kw_job_free(j);
	}
	for (__u32 i = 0; i < k->nns; i++)
		ns_rec_free(&k->ns[i]);
	free(k->ns);
	keyset_free(&k->rm);
	keyset_free(&k->scan);
	rec_round_free(&k->rr);
	free(k);
	d->dumps = NULL;
}
