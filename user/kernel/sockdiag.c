// SPDX-License-Identifier: GPL-2.0
/*
 * sock_diag dumps of TCP sockets (NETLINK_SOCK_DIAG, inet_diag_req_v2),
 * the way ss(8) asks for them. libmnl builds and walks the messages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <linux/tcp.h>
#include <libmnl/libmnl.h>

#include "uapi/tcpwatch.h"
#include "kernel/sockdiag.h"

/*
 * The kernel fills dump skbs up to the largest recvmsg() buffer it has
 * seen, capped near 32 KiB; a bigger buffer than that buys nothing, a
 * smaller one means more syscalls per dump.
 */
#define SD_RECV_BUF	(64 * 1024)
/* Ask the kernel for this much socket buffer; a failure is harmless. */
#define SD_SOCK_RCVBUF	(1024 * 1024)
/* Where the attributes of a SOCK_DIAG_BY_FAMILY message start. */
#define SD_MSG_HDRLEN	(NLMSG_HDRLEN + \
			 NLMSG_ALIGN(sizeof(struct inet_diag_msg)))

/*
 * tcpi_rcv_wnd (Linux 6.2) directly follows tcpi_snd_wnd (5.4). The
 * distribution's UAPI header may predate it, so address it by offset.
 */
#define TI_END(f)	(offsetof(struct tcp_info, f) + \
			 sizeof(((struct tcp_info *)0)->f))
#define TI_SND_WND_OFF	offsetof(struct tcp_info, tcpi_snd_wnd)
#define TI_RCV_WND_OFF	(TI_SND_WND_OFF + sizeof(__u32))
#define TI_COPY_LEN	(TI_RCV_WND_OFF + sizeof(__u32))

_Static_assert(sizeof(struct inet_diag_msg) == 72, "inet_diag_msg ABI");
_Static_assert(TI_SND_WND_OFF == 228, "tcp_info ABI: tcpi_snd_wnd");

static void parse_info(const void *p, size_t len, struct sd_sock *s)
{
	/* Copy first: the payload is only 4-byte aligned (u64 fields). */
	unsigned char buf[TI_COPY_LEN] = { 0 };
	struct tcp_info ti;
	__u32 rcv_wnd;

	/* Fields older than 2.6.x are mandatory; a stub is ignored. */
	if (len < TI_END(tcpi_total_retrans))
		return;
	memcpy(buf, p, len < sizeof(buf) ? len : sizeof(buf));
	memcpy(&ti, buf, sizeof(ti));
	memcpy(&rcv_wnd, buf + TI_RCV_WND_OFF, sizeof(rcv_wnd));

	s->has_info = true;
	s->snd_cwnd = ti.tcpi_snd_cwnd;
	s->srtt_us = ti.tcpi_rtt;
	s->total_retrans = ti.tcpi_total_retrans;
	/* Newer fields: zero-filled by the copy when the kernel lacks them */
	if (len >= TI_END(tcpi_bytes_acked))
		s->bytes_acked = ti.tcpi_bytes_acked;
	if (len >= TI_END(tcpi_data_segs_out))
		s->data_segs_out = ti.tcpi_data_segs_out;
	if (len >= TI_END(tcpi_bytes_received))
		s->bytes_received = ti.tcpi_bytes_received;
	if (len >= TI_END(tcpi_snd_wnd))
		s->snd_wnd = ti.tcpi_snd_wnd;
	if (len >= TI_RCV_WND_OFF + sizeof(__u32)) {
		s->rcv_wnd = rcv_wnd;
		s->has_wnd = true;
	}
}

static void parse_mem(const void *p, size_t len, struct sd_sock *s)
{
	__u32 m[SK_MEMINFO_WMEM_QUEUED + 1];

	if (len < sizeof(m))
		return;
	memcpy(m, p, sizeof(m));
	s->has_mem = true;
	s->rcvbuf = m[SK_MEMINFO_RCVBUF];
	s->sndbuf = m[SK_MEMINFO_SNDBUF];
	s->wmem_queued = m[SK_MEMINFO_WMEM_QUEUED];
}

int sd_parse(const struct nlmsghdr *nlh, struct sd_sock *out)
{
	const size_t hdr = SD_MSG_HDRLEN;
	struct inet_diag_msg r;
	const char *attrs;
	size_t len, rem;

	if (!nlh || !out)
		return -EINVAL;
	len = nlh->nlmsg_len;
	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	    len < NLMSG_HDRLEN + sizeof(r))
		return -EINVAL;
	memcpy(&r, (const char *)nlh + NLMSG_HDRLEN, sizeof(r));
	if (r.idiag_family != AF_INET && r.idiag_family != AF_INET6)
		return -EINVAL;
	if (r.idiag_state == 0 || r.idiag_state >= TCPW_STATE_MAX)
		return -EINVAL;

	memset(out, 0, sizeof(*out));
	out->family = r.idiag_family;
	out->state = r.idiag_state;
	out->sport = ntohs(r.id.idiag_sport);
	out->dport = ntohs(r.id.idiag_dport);
	memcpy(out->saddr, r.id.idiag_src, 16);
	memcpy(out->daddr, r.id.idiag_dst, 16);
	if (r.idiag_family == AF_INET) {
		/* only the first word is meaningful; don't leak the rest */
		memset(out->saddr + 4, 0, 12);
		memset(out->daddr + 4, 0, 12);
	}
	out->cookie = (__u64)r.id.idiag_cookie[0] |
		      (__u64)r.id.idiag_cookie[1] << 32;
	out->inode = r.idiag_inode;
	out->uid = r.idiag_uid;
	out->rqueue = r.idiag_rqueue;
	out->wqueue = r.idiag_wqueue;
	out->expires_ms = r.idiag_expires;

	/* Walk attributes by hand: a length that lies is an error. */
	if (len <= hdr)
		return 0;
	attrs = (const char *)nlh + hdr;
	rem = len - hdr;
	while (rem > 0) {
		struct nlattr a;
		size_t alen, step;

		if (rem < sizeof(a))
			return -EINVAL;
		memcpy(&a, attrs, sizeof(a));
		alen = a.nla_len;
		if (alen < sizeof(a) || alen > rem)
			return -EINVAL;
		switch (a.nla_type & NLA_TYPE_MASK) {
		case INET_DIAG_INFO:
			parse_info(attrs + NLA_HDRLEN, alen - NLA_HDRLEN, out);
			break;
		case INET_DIAG_SKMEMINFO:
			parse_mem(attrs + NLA_HDRLEN, alen - NLA_HDRLEN, out);
			break;
		case INET_DIAG_CGROUP_ID:
			if (alen - NLA_HDRLEN >= sizeof(out->cgroup))
				memcpy(&out->cgroup, attrs + NLA_HDRLEN,
				       sizeof(out->cgroup));
			break;
		}
		/* The last attribute may lack its padding. */
		step = NLA_ALIGN(alen);
		if (step >= rem)
			break;
		attrs += step;
		rem -= step;
	}
	return 0;
}

int sd_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int one = 1, sz = SD_SOCK_RCVBUF;
	int fd, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	/* Fewer drops of a large dump; best effort, unprivileged is fine. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	/* Errors should not echo the whole request back. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int sd_request(int fd, __u8 family, __u32 states, __u32 seq)
{
	char buf[NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct inet_diag_req_v2))];
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct inet_diag_req_v2 *req;
	struct nlmsghdr *nlh;
	ssize_t n;

	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = states;
	req->idiag_ext = (1 << (INET_DIAG_INFO - 1)) |
			 (1 << (INET_DIAG_SKMEMINFO - 1));

	do {
		n = sendto(fd, nlh, nlh->nlmsg_len, 0,
			   (struct sockaddr *)&kernel, sizeof(kernel));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)nlh->nlmsg_len ? 0 : -EIO;
}

struct sd_rx {
	__u32 seq;
	sd_cb cb;
	void *ctx;
	int count;
	int err;	/* first error; later messages are only drained */
};

/* One reply message; returns true when this dump is over. */
static bool sd_handle(struct sd_rx *rx, const struct nlmsghdr *nlh)
{
	struct sd_sock s;
	int ret;

	if (nlh->nlmsg_seq != rx->seq)
		return false;	/* stale: the tail of an earlier dump */
	if (nlh->nlmsg_type == NLMSG_DONE)
		return true;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (rx->err)
			return true;
		if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
			rx->err = -EIO;
		else
			rx->err = e->error;
		return true;
	}
	if (rx->err || nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return false;
	ret = sd_parse(nlh, &s);
	if (!ret)
		ret = rx->cb(rx->ctx, &s);
	if (ret < 0)
		rx->err = ret;
	else
		rx->count++;
	return false;
}

/*
 * Receive one family's dump. After an error (ours or the callback's) keep
 * reading to NLMSG_DONE so that the next dump on this socket does not
 * find the kernel still busy with this one.
 */
static int sd_receive(int fd, char *buf, struct sd_rx *rx)
{
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = { buf, SD_RECV_BUF };
		struct msghdr mh = {
			.msg_name = &from, .msg_namelen = sizeof(from),
			.msg_iov = &iov, .msg_iovlen = 1,
		};
		const struct nlmsghdr *nlh;
		ssize_t n;
		int len;

		n = recvmsg(fd, &mh, 0);
		if (n < 0 && errno == EINTR)
			continue;
		/* ENOBUFS and the like: what we got cannot be trusted */
		if (n < 0)
			return rx->err ? rx->err : -errno;
		if (n == 0)
			return rx->err ? rx->err : -EIO;
		if (mh.msg_flags & MSG_TRUNC)
			return rx->err ? rx->err : -EMSGSIZE;
		if (from.nl_pid != 0)
			continue;	/* not from the kernel */

		len = (int)n;
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			if (sd_handle(rx, nlh))
				return rx->err ? rx->err : rx->count;
	}
}

int sd_dump(int fd, __u32 states, sd_cb cb, void *ctx)
{
	static const __u8 families[] = { AF_INET, AF_INET6 };
	static __u32 seq_next;
	int total = 0, ret = 0;
	char *buf;

	if (fd < 0 || !cb)
		return -EINVAL;
	buf = malloc(SD_RECV_BUF);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(families); i++) {
		struct sd_rx rx = { .cb = cb, .ctx = ctx };

		/* a fresh sequence number tells this dump from stale data */
		do {
			rx.seq = __atomic_add_fetch(&seq_next, 1,
						    __ATOMIC_RELAXED);
		} while (!rx.seq);
		ret = sd_request(fd, families[i], states, rx.seq);
		if (ret)
			break;
		ret = sd_receive(fd, buf, &rx);
		if (ret < 0)
			break;
		total += ret;
		ret = 0;
	}
	free(buf);
	return ret < 0 ? ret : total;
}
