// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "kernel/kworker.h"
#include "kernel/netns.h"
#include "kernel/owner.h"

struct kworker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct kw_job *todo, **todo_tail;	/* FIFO */
	struct kw_job *done, **done_tail;
	unsigned int pending;		/* submitted, not taken back */
	bool stop;
	int efd;
	struct netns_set ns;		/* the worker's alone */
};

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

struct kw_job *kw_job_new(enum kw_kind kind, int tag, void *owner)
{
	struct kw_job *j = calloc(1, sizeof(*j));

	if (j) {
		j->kind = kind;
		j->tag = tag;
		j->owner = owner;
	}
	return j;
}

void kw_job_free(struct kw_job *j)
{
	if (!j)
		return;
	free(j->inodes);
	free(j->pids);
	free(j->socks);
	free(j->ns);
	free(j->owners);
	free(j->nets);
	free(j);
}

static int dump_cb(void *ctx, const struct sd_sock *s)
{
	struct kw_job *j = ctx;

	if (j->nsocks == j->socks_cap) {
		__u32 cap = j->socks_cap ? j->socks_cap * 2 : 64;
		struct sd_sock *v = realloc(j->socks, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		j->socks = v;
		j->socks_cap = cap;
	}
	j->socks[j->nsocks++] = *s;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* Wanted, and not found yet: found ones are zeroed in the job's list. */
static bool want_inode(void *ctx, __u32 inode)
{
	struct kw_job *j = ctx;
	__u32 *p = bsearch(&inode, j->inodes, j->ninodes, sizeof(inode),
			   cmp_u32);

	return p != NULL;
}

static void found_inode(void *ctx, __u32 inode, pid_t pid, int fd,
			const char *comm)
{
	struct kw_job *j = ctx;
	struct kw_owner *o;

	for (__u32 i = 0; i < j->nowners; i++)
		if (j->owners[i].inode == inode)
			return;		/* the first holder found wins */
	if (j->nowners == j->owners_cap) {
		__u32 cap = j->owners_cap ? j->owners_cap * 2 : 16;
		struct kw_owner *v = realloc(j->owners, cap * sizeof(*v));

		if (!v) {
			j->err = -ENOMEM;
			return;
		}
		j->owners = v;
		j->owners_cap = cap;
	}
	o = &j->owners[j->nowners++];
	o->inode = inode;
	o->pid = pid;
	o->fd = fd;
	memset(o->comm, 0, sizeof(o->comm));
	strncpy(o->comm, comm, sizeof(o->comm) - 1);
}

static void run_owners(struct kw_job *j)
{
	qsort(j->inodes, j->ninodes, sizeof(*j->inodes), cmp_u32);
	for (__u32 i = 0; i < j->npids; i++)
		owner_scan_pid(j->pids[i], want_inode, found_inode, j);
	/* The whole of /proc only for what the owners did not show. */
	if (j->all_procs && j->nowners < j->ninodes) {
		__u32 n = 0;

		for (__u32 i = 0; i < j->ninodes; i++) {
			bool have = false;

			for (__u32 k = 0; k < j->nowners && !have; k++)
				have = j->owners[k].inode == j->inodes[i];
			if (!have)
				j->inodes[n++] = j->inodes[i];
		}
		j->ninodes = n;
		owner_scan(want_inode, found_inode, j);
	}
}

static void read_facts(struct netns_entry *e, struct kw_ns *k)
{
	__u64 v;

	k->inum = e->inum;
	memcpy(k->name, e->name, sizeof(k->name));
	netns_port_range(e, &k->lo, &k->hi);
	netns_tw_reuse(e, &k->tw_reuse);
	if (!netns_listen_overflows(e, &v))
		k->overflows = v - e->overflows0;
}

static void run_netns(struct kw_job *j, struct netns_set *set)
{
	int n = netns_refresh(set, j->netns);

	if (n < 0) {
		j->err = n;
		return;
	}
	j->ns = calloc(set->n + 1, sizeof(*j->ns));
	if (!j->ns) {
		j->err = -ENOMEM;
		return;
	}
	for (int i = 0; i < set->n; i++) {
		read_facts(&set->v[i], &j->ns[j->nns++]);
	}
}

/* fn in each netns; the first error stops it (a thread stranded in a
 * foreign netns would make every later job wrong). */
static void run_each_netns(struct kw_job *j, struct netns_set *set)
{
	for (int i = 0; i < set->n && !j->err; i++) {
		struct netns_entry *e = &set->v[i];
		int err;

		if (j->netns && e->inum != j->netns)
			continue;
		if (j->nets && !bsearch(&e->inum, j->nets, j->nnets,
					sizeof(*j->nets), cmp_u32))
			continue;
		j->err = netns_enter(e);
		if (j->err)
			break;
		err = j->fn(j->arg, j->out);
		j->err = netns_leave(e);
		if (!j->err)
			j->err = err;
		j->calls++;
	}
}

void kw_run(struct kw_job *j, struct netns_set *set)
{
	j->start_ns = now_ns();
	switch (j->kind) {
	case KW_NETNS:
		run_netns(j, set);
		break;
	case KW_DUMP: {
		struct netns_entry *e = NULL;
		int n;

		for (int i = 0; i < set->n && !e; i++)
			if (set->v[i].inum == j->netns)
				e = &set->v[i];
		if (!e) {
			j->err = -ENOENT;	/* gone, or not openable */
			break;
		}
		/* The stamp is this netns's own, taken right before. */
		j->start_ns = now_ns();
		n = sd_dump(e->diag_fd, j->states, dump_cb, j);
		j->err = n < 0 ? n : 0;
		/* the counters that go with these queues (ListenOverflows) */
		read_facts(e, &j->facts);
		j->has_facts = true;
		break;
	}
	case KW_OWNERS:
		run_owners(j);
		break;
	case KW_EACH_NETNS:
		run_each_netns(j, set);
		break;
	}
	j->end_ns = now_ns();
}

static void *worker_main(void *arg)
{
	struct kworker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct kw_job *j;
		__u64 one = 1;
		ssize_t wrote;

		while (!w->todo && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		j = w->todo;
		w->todo = j->next;
		if (!w->todo)
			w->todo_tail = &w->todo;
		pthread_mutex_unlock(&w->lock);

		j->next = NULL;
		kw_run(j, &w->ns);

		pthread_mutex_lock(&w->lock);
		*w->done_tail = j;
		w->done_tail = &j->next;
		/* A full counter (never, in practice) still wakes the loop. */
		wrote = write(w->efd, &one, sizeof(one));
		(void)wrote;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int kw_start(struct kworker **wp)
{
	struct kworker *w = calloc(1, sizeof(*w));
	int err;

	*wp = NULL;
	if (!w)
		return -ENOMEM;
	w->todo_tail = &w->todo;
	w->done_tail = &w->done;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		err = -errno;
		free(w);
		return err;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	err = pthread_create(&w->thread, NULL, worker_main, w);
	if (err) {
		close(w->efd);
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
		free(w);
		return -err;
	}
	*wp = w;
	return 0;
}

static void free_list(struct kw_job *j)
{
	while (j) {
		struct kw_job *n = j->next;

		kw_job_free(j);
		j = n;
	}
}

void kw_stop(struct kworker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	free_list(w->todo);
	free_list(w->done);
	netns_free(&w->ns);
	close(w->efd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

int kw_fd(const struct kworker *w)
{
	return w->efd;
}

void kw_submit(struct kworker *w, struct kw_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&w->lock);
	*w->todo_tail = j;
	w->todo_tail = &j->next;
	w->pending++;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

struct kw_job *kw_done(struct kworker *w)
{
	struct kw_job *j;
	__u64 v;

	pthread_mutex_lock(&w->lock);
	j = w->done;
	if (j) {
		w->done = j->next;
		if (!w->done)
			w->done_tail = &w->done;
		w->pending--;
		j->next = NULL;
	} else {
		/* all taken: clear the wakeup (EAGAIN if already clear) */
		ssize_t r = read(w->efd, &v, sizeof(v));

		(void)r;
	}
	pthread_mutex_unlock(&w->lock);
	return j;
}

unsigned int kw_pending(const struct kworker *w)
{
	return w->pending;
}
