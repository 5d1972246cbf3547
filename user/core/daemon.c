// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/daemon.h"
#include "core/dumps.h"
#include "core/emit.h"
#include "lib/fields.h"
#include "lib/notify.h"

#define LOST_RECONCILE_DELAY_NS	200000000ULL	/* let a burst pass */

/* epoll tags: pointers to these tell the source of an event */
static int tag_src, tag_sig;

int daemon_handle_event(void *ctx, const struct tcpw_event *ev)
{
	struct daemon *d = ctx;
	struct sock_entry gone, tw;
	struct apply_result res;

	if (ev->version != TCPW_ABI_VERSION || !ev->kind ||
	    ev->kind >= TCPW_EV_MAX) {
		d->bad_records++;
		return 0;
	}
	d->events[ev->kind]++;
	/*
	 * The kernel side applied the cgroup filter already: passing the
	 * root itself skips a cache lookup that could miss (and would then
	 * drop an event the kernel kept). A timewait sock has no cgroup (0):
	 * it counts only if the table tracks it.
	 */
	if (!filter_match(&d->o.filter, ev->netns, ev->sport, ev->dport,
			  d->o.filter.cgroup_by_source && ev->cgroup ?
			  d->o.filter.cgroup : ev->cgroup) &&
	    !table_find(&d->tab, ev->cookie))
		return 0;
	/* About a packet, not a socket's state: the table is not told. */
	if (ev->kind == TCPW_EV_DROP) {
		pktdrop_event(d, ev);
		table_note_drop(&d->tab, ev);
		diag_drop(&d->diag, ev);
		return 0;
	}
	if (table_apply(&d->tab, ev, &res, &gone, &tw) == -ENOMEM) {
		fprintf(stderr, "tcpwatch: out of memory for the table\n");
		d->stop = true;
		return -ENOMEM;
	}
	/* A dump in flight may predate this removal: remember it. */
	if (res.removed)
		dumps_removed(d, ev->cookie);
	if (res.tw_ended)
		dumps_removed(d, res.tw_entry->cookie);
	if (res.inferred && res.new == TCPW_TIME_WAIT)
		d->tw_inferred++;
	diag_event(&d->diag, ev, &res);
	for (int i = 0; i < d->nmods; i++)
		if (d->mods[i]->event)
			d->mods[i]->event(d, ev, &res);
	if (!d->has_out || res.suppressed)
		return 0;
	if (res.child_born)
		emit_synthetic(d, res.e, TCPW_LISTEN, TCPW_SYN_RECV, ev->ts_ns,
			       "child");
	emit_event(d, ev, &res);
	if (emit_wants(d, REC_CONN))
		conn_event(d, ev, &res);
	if (res.removed) {
		__u32 i = d->gone_next++ % GONE_SNAPS;

		d->gone[i].cookie = (gone.flags & SOCK_SNAP_OUT) ? gone.cookie
								 : 0;
		d->gone[i].snap = gone.snap;
	}
	if (res.tw_ended)
		emit_synthetic(d, res.tw_entry, res.tw_entry->state,
			       TCPW_CLOSE, ev->ts_ns, "reused");
	if (res.tw_promoted) {
		d->tw_inferred++;
		if (emit_synthetic(d, res.tw_entry, TCPW_FIN_WAIT2,
				   TCPW_TIME_WAIT, ev->ts_ns, "peer_fin"))
			res.tw_entry->flags |= SOCK_SNAP_OUT;
	}
	return 0;
}

/*
 * How far ahead a batch prefetches: a record's bucket, then, half as far
 * ahead, the entry the bucket points to, by when the bucket has arrived.
 */
#define PF_BUCKET	16
#define PF_ENTRY	8

int daemon_handle_batch(void *ctx, const struct tcpw_event *const *ev,
			size_t n)
{
	struct daemon *d = ctx;
	struct table *t = &d->tab;
	int err;

	for (size_t i = 0; i < n && i < PF_BUCKET; i++)
		table_prefetch_bucket(t, ev[i]->cookie);
	for (size_t i = 0; i < n; i++) {
		if (i + PF_BUCKET < n)
			table_prefetch_bucket(t, ev[i + PF_BUCKET]->cookie);
		if (i + PF_ENTRY < n)
			table_prefetch_entry(t, ev[i + PF_ENTRY]->cookie);
		err = daemon_handle_event(d, ev[i]);
		if (err < 0)
			return err;
	}
	return 0;
}

static void on_expire(void *ctx, const struct sock_entry *e, __u64 now)
{
	struct daemon *d = ctx;

	d->tw_expired++;
	dumps_removed(d, e->cookie);
	emit_synthetic(d, e, e->state, TCPW_CLOSE, now, "expired");
}

/* Up to the source's bound: the loop comes back while d->src->more. */
static int drain(struct daemon *d)
{
	int n = source_consume(d->src, daemon_handle_batch, d);

	if (n < 0 && n != -EINTR)
		fprintf(stderr, "tcpwatch: reading %s source: %s\n",
			source_name(d->src), strerror(-n));
	return n;
}

/* Everything the ring holds: while it ends at the bound, again. */
static void drain_all(struct daemon *d)
{
	while (drain(d) > 0 && d->src->more)
		;
}

void daemon_drain(struct daemon *d)
{
	drain_all(d);
}

static void check_drops(struct daemon *d)
{
	struct tcpw_stats st;
	__u64 delta[TCPW_EV_MAX] = { 0 }, sum = 0;

	if (source_stats(d->src, &st))
		return;
	for (int k = 0; k < TCPW_EV_MAX; k++) {
		if (st.drops[k] > d->drops[k]) {
			delta[k] = st.drops[k] - d->drops[k];
			sum += delta[k];
		}
		d->drops[k] = st.drops[k];
	}
	if (!sum)
		return;
	d->lost_total += sum;
	emit_lost(d, delta, sum);
	/* A lost sample or drop record leaves the table as it was. */
	if (sum == delta[TCPW_EV_SAMPLE] + delta[TCPW_EV_DROP])
		return;
	/*
	 * The table missed transitions, in any netns: heal it from the
	 * kernel once the burst has passed, but no sooner than
	 * KQ_LOSS_ROUND_GAP_NS after the last round, so that dumps never
	 * feed more loss. The dumps run on the worker, not on this loop.
	 */
	dumps_lost(d);
	__u64 soon = mono_ns() + LOST_RECONCILE_DELAY_NS;
	__u64 gap = d->last_round_end_ns + KQ_LOSS_ROUND_GAP_NS;

	if (d->last_round_end_ns && soon < gap)
		soon = gap;
	if (!d->next_reconcile_ns || d->next_reconcile_ns > soon)
		d->next_reconcile_ns = soon;
	d->rec_reason = "lost";
}

void daemon_sync(struct daemon *d)
{
	if (!d->src)
		return;
	drain_all(d);
	check_drops(d);
	dumps_poll(d);
	output_sync(d);
	if (d->outq.gone)
		d->stop = true;
}

static void tick(struct daemon *d)
{
	__u64 now;

	drain(d);
	check_drops(d);
	now = mono_ns();
	table_expire(&d->tab, now, on_expire, d);
	conn_flush(d, now, false);
	/* the modules: the control socket's timeouts, the sweep */
	for (int i = 0; i < d->nmods; i++)
		if (d->mods[i]->tick)
			d->mods[i]->tick(d, now);
	/* One round at a time; the next is scheduled when it ends. */
	if (d->next_reconcile_ns && now >= d->next_reconcile_ns &&
	    !dumps_round_busy(d)) {
		bool lost = d->rec_reason && !strcmp(d->rec_reason, "lost");

		/* after a loss, dumps_lost() chose the namespaces */
		dumps_request_round(d, lost ? "lost" : "periodic", false);
		d->next_reconcile_ns = 0;
		d->rec_reason = NULL;
	}
	dumps_tick(d, now);
	if (output_flush(d))
		d->stop = true;
}

static int epoll_add(int epfd, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int setup_signals(void)
{
	sigset_t set;

	/* A closed pipe is a write error (EPIPE), handled as a clean end. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int init_common(struct daemon *d, int out_fd)
{
	int err;

	wallclock_sync(&d->wc);
	d->epfd = d->sig_fd = -1;
	err = table_init(&d->tab, 4096);
	if (err)
		return err;
	if (!d->o.records)
		d->o.records = REC_DEFAULT;
	if (!d->o.diag.sweep_ms)
		diag_opts_default(&d->o.diag);
	err = diag_init(&d->diag, &d->o.diag);
	if (err)
		return err;
	output_init_offline(d);
	if (out_fd >= 0) {
		err = json_init(&d->out, out_fd, OUT_BUF);
		if (err)
			return err;
		d->has_out = true;
	}
	return 0;
}

int daemon_init_offline(struct daemon *d, int out_fd)
{
	memset(d, 0, sizeof(*d));
	return init_common(d, out_fd);
}

void daemon_free(struct daemon *d)
{
	while (d->nmods)	/* last added, first gone */
		if (d->mods[--d->nmods]->free)
			d->mods[d->nmods]->free(d);
	output_free(d);
	dumps_free(d);		/* joins the worker before anything goes */
	source_close(d->src);
	table_free(&d->tab);
	if (d->cg.v)
		fields_set_cgroup_namer(NULL, NULL);
	cgc_free(&d->cg);
	diag_free(&d->diag);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
}

/* SIGHUP reopens -o FILE (logrotate); SIGINT and SIGTERM stop. */
static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			d->reopen = true;
		else
			d->stop = true;
	}
}

static void reload(struct daemon *d)
{
	d->reopen = false;
	notify_reloading();
	if (output_reopen(d) != 1)	/* else once its open returns */
		notify_ready(NULL);
}

static void loop(struct daemon *d)
{
	__u64 tick_ns = d->o.tick_ms * 1000000ULL, next_tick;
	struct epoll_event evs[16];

	next_tick = mono_ns() + tick_ns;
	while (!d->stop) {
		__u64 now = mono_ns();
		/* a dump waiting to be applied, or records left in the
		 * ring by a bounded drain: do not sleep */
		int timeout = now >= next_tick || dumps_applying(d) ||
			      d->src->more ? 0
				: (int)((next_tick - now + 999999) / 1000000);
		int n = epoll_wait(d->epfd, evs, 16, timeout);
		bool drained = false;

		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "tcpwatch: epoll: %s\n",
				strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &tag_src) {
				drain(d);
				drained = true;
			} else if (tag == &tag_sig) {
				on_signal(d);
			} else {
				struct daemon_io *io = tag;

				io->fn(d, io, evs[i].events);
			}
		}
		/*
		 * The ring's fd is ready again only if the kernel woke it:
		 * records below the wakeup mark that a bounded drain left
		 * would otherwise wait for the tick.
		 */
		if (d->src->more && !drained)
			drain(d);
		dumps_apply(d);
		if (d->reopen && !d->stop)
			reload(d);
		if (mono_ns() >= next_tick) {
			tick(d);
			next_tick = mono_ns() + tick_ns;
		}
	}
}

int daemon_add_module(struct daemon *d, const struct daemon_module *m)
{
	if (d->nmods >= DAEMON_MODULES_MAX)
		return -ENOSPC;
	d->mods[d->nmods++] = m;
	return 0;
}

int daemon_io_add(struct daemon *d, int fd, __u32 events,
		  struct daemon_io *io)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int daemon_io_mod(struct daemon *d, int fd, __u32 events,
		  struct daemon_io *io)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	return epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

void daemon_io_del(struct daemon *d, int fd)
{
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
}

int daemon_start(struct daemon *d, const struct daemon_opts *o)
{
	char err_msg[512] = "";
	int err;

	memset(d, 0, sizeof(*d));
	d->o = *o;
	err = init_common(d, -1);
	if (err)
		goto out;
	err = cgc_init(&d->cg);
	if (err)
		goto out;
	d->o.filter.cgc = &d->cg;
	fields_set_cgroup_namer(cgc_namer, &d->cg);	/* findings */
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0) {
		err = -errno;
		goto out;
	}
	/* Non-blocking, watched on the loop where it can be (output.c). */
	err = output_open(d);
	if (err)
		goto out;
	d->sig_fd = setup_signals();
	if (d->sig_fd < 0) {
		err = d->sig_fd;
		goto out;
	}
	/* Attach first, seed second: nothing falls between the two. */
	err = source_open(&d->src, o->source, &o->src, err_msg,
			  sizeof(err_msg));
	if (err) {
		fprintf(stderr, "tcpwatch: %s\n", err_msg);
		d->src = NULL;
		goto out;
	}
	d->o.filter.cgroup_by_source = d->src->cgroup_filtered;
	if (epoll_add(d->epfd, source_fd(d->src), &tag_src) ||
	    epoll_add(d->epfd, d->sig_fd, &tag_sig)) {
		err = -errno;
		goto out;
	}
	return 0;
out:
	if (d->has_out && d->out.err)
		fprintf(stderr, "tcpwatch: writing output: %s\n",
			strerror(-d->out.err));
	return err;
}

/*
 * The seed runs on the worker like any round; the loop keeps draining
 * the ring meanwhile, so a host with many namespaces loses nothing
 * while it is seeded.
 */
static int seed(struct daemon *d)
{
	struct pollfd p = { .fd = -1, .events = POLLIN };
	int err, timeout;

	dumps_request_round(d, "start", true);
	dumps_tick(d, mono_ns());
	/* and its owners: the first `ls` after READY names them */
	while ((dumps_round_busy(d) || dumps_owners_busy(d)) && !d->stop) {
		p.fd = d->dumps ? dumps_fd(d) : -1;
		timeout = dumps_applying(d) || d->src->more ? 0
							    : (int)d->o.tick_ms;
		poll(&p, 1, timeout);
		drain(d);
		dumps_poll(d);
		dumps_apply(d);
		dumps_tick(d, mono_ns());
	}
	err = dumps_seed_error(d);
	if (err)
		fprintf(stderr, "tcpwatch: reconcile: %s\n", strerror(-err));
	return err;
}

int daemon_loop(struct daemon *d)
{
	int err;

	d->start_ns = mono_ns();
	d->diag.next_sweep_ns = d->start_ns + d->o.diag.sweep_ms * 1000000ULL;
	err = dumps_init(d);
	if (err) {
		fprintf(stderr, "tcpwatch: kernel worker: %s\n", strerror(-err));
		goto out;
	}
	err = seed(d);
	if (err)
		goto out;
	emit_start(d);
	if (output_flush(d))
		goto out;
	{
		char st[96];

		snprintf(st, sizeof(st), "serving: %llu sockets seeded from sock_diag",
			 (unsigned long long)d->seeded);
		notify_ready(st);	/* systemd: Type=notify */
	}
	loop(d);
	notify_stopping();
	/* Leave nothing behind in the ring. */
	if (!d->out.err) {
		drain_all(d);
		check_drops(d);
		conn_flush(d, 0, true);
		emit_stop(d);
		err = output_close(d);
	}
	if (err == -EPIPE)
		err = 0;
out:
	if (d->has_out && d->out.err == -EPIPE)
		err = 0;	/* `tcpwatch run | head`: the reader is done */
	else if (d->has_out && d->out.err)
		fprintf(stderr, "tcpwatch: writing output: %s\n",
			strerror(-d->out.err));
	return err;
}
