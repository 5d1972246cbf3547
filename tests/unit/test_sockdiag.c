// SPDX-License-Identifier: GPL-2.0
/*
 * sock_diag parsing with crafted messages, a live dump of a socket we
 * own, owner lookup through /proc, and netns basics.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <linux/tcp.h>

#include "unit.h"
#include "uapi/tcpwatch.h"
#include "kernel/cgroup.h"
#include "kernel/sockdiag.h"
#include "kernel/netns.h"
#include "kernel/owner.h"

#define DIAG_HDR (NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct inet_diag_msg)))
#define TI_SND_WND_OFF offsetof(struct tcp_info, tcpi_snd_wnd)
#define TI_FULL_LEN (TI_SND_WND_OFF + 2 * sizeof(__u32))

/* A message under construction; check() copies it to an exact-size heap
 * block so ASan catches any read past nlmsg_len. */
struct msg {
	char buf[1024];
	size_t len;
};

static struct inet_diag_msg *msg_init(struct msg *m, __u8 family,
				      __u8 state)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)m->buf;
	struct inet_diag_msg *r;

	memset(m, 0, sizeof(*m));
	m->len = DIAG_HDR;
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	r = (struct inet_diag_msg *)(m->buf + NLMSG_HDRLEN);
	r->idiag_family = family;
	r->idiag_state = state;
	return r;
}

static void msg_attr(struct msg *m, __u16 type, const void *p, size_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + m->len);

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy(m->buf + m->len + NLA_HDRLEN, p, len);
	m->len += NLA_ALIGN(NLA_HDRLEN + len);
}

static int msg_parse(struct msg *m, size_t len, struct sd_sock *s)
{
	struct nlmsghdr *nlh;
	int ret;

	((struct nlmsghdr *)m->buf)->nlmsg_len = len;
	nlh = malloc(len < sizeof(*nlh) ? sizeof(*nlh) : len);
	if (!nlh)
		return -ENOMEM;
	memcpy(nlh, m->buf, len < sizeof(*nlh) ? sizeof(*nlh) : len);
	ret = sd_parse(nlh, s);
	free(nlh);
	return ret;
}

static void fill_info(unsigned char *ti)
{
	struct tcp_info t;
	__u32 rcv_wnd = 65483;

	memset(&t, 0, sizeof(t));
	t.tcpi_state = TCPW_ESTABLISHED;
	t.tcpi_snd_cwnd = 10;
	t.tcpi_rtt = 1234;
	t.tcpi_total_retrans = 7;
	t.tcpi_bytes_acked = 0x100000001ull;
	t.tcpi_bytes_received = 0x200000002ull;
	t.tcpi_snd_wnd = 131072;
	memset(ti, 0, TI_FULL_LEN);
	memcpy(ti, &t, TI_SND_WND_OFF + sizeof(__u32));
	memcpy(ti + TI_SND_WND_OFF + sizeof(__u32), &rcv_wnd, sizeof(rcv_wnd));
}

static void test_parse_v4(void)
{
	__u64 cgroup = 0x123456789ULL;
	__u32 mem[SK_MEMINFO_VARS] = { 0 };
	unsigned char ti[TI_FULL_LEN];
	struct inet_diag_msg *r;
	struct sd_sock s;
	struct msg m;

	r = msg_init(&m, AF_INET, TCPW_ESTABLISHED);
	r->id.idiag_sport = htons(443);
	r->id.idiag_dport = htons(51000);
	r->id.idiag_src[0] = htonl(0x0a000001);
	r->id.idiag_src[1] = 0xdeadbeef;	/* junk must not leak */
	r->id.idiag_dst[0] = htonl(0xc0a80102);
	r->idiag_inode = 4242;
	r->idiag_uid = 1000;
	r->idiag_rqueue = 3;
	r->idiag_wqueue = 5;
	fill_info(ti);
	msg_attr(&m, INET_DIAG_INFO, ti, sizeof(ti));
	mem[SK_MEMINFO_RCVBUF] = 131072;
	mem[SK_MEMINFO_SNDBUF] = 16384;
	mem[SK_MEMINFO_WMEM_QUEUED] = 99;
	msg_attr(&m, INET_DIAG_SKMEMINFO, mem, sizeof(mem));
	msg_attr(&m, INET_DIAG_CGROUP_ID, &cgroup, sizeof(cgroup));

	if (!ASSERT_OK(msg_parse(&m, m.len, &s), "sd_parse v4"))
		return;
	ASSERT_EQ(s.cgroup, cgroup, "INET_DIAG_CGROUP_ID");
	ASSERT_EQ(s.family, AF_INET, "family");
	ASSERT_EQ(s.state, TCPW_ESTABLISHED, "state");
	ASSERT_EQ(s.sport, 443, "sport host order");
	ASSERT_EQ(s.dport, 51000, "dport host order");
	ASSERT_EQ(s.saddr[0], 10, "saddr[0]");
	ASSERT_EQ(s.saddr[3], 1, "saddr[3]");
	ASSERT_EQ(s.saddr[4], 0, "v4 saddr tail zeroed");
	ASSERT_EQ(s.daddr[0], 192, "daddr[0]");
	ASSERT_EQ(s.inode, 4242, "inode");
	ASSERT_EQ(s.uid, 1000, "uid");
	ASSERT_EQ(s.rqueue, 3, "rqueue");
	ASSERT_EQ(s.wqueue, 5, "wqueue");
	ASSERT_TRUE(s.has_info, "has_info");
	ASSERT_EQ(s.snd_cwnd, 10, "snd_cwnd");
	ASSERT_EQ(s.srtt_us, 1234, "srtt_us");
	ASSERT_EQ(s.total_retrans, 7, "total_retrans");
	ASSERT_EQ(s.bytes_acked, 0x100000001ull, "bytes_acked");
	ASSERT_EQ(s.bytes_received, 0x200000002ull, "bytes_received");
	ASSERT_EQ(s.snd_wnd, 131072, "snd_wnd");
	ASSERT_EQ(s.rcv_wnd, 65483, "rcv_wnd");
	ASSERT_TRUE(s.has_mem, "has_mem");
	ASSERT_EQ(s.rcvbuf, 131072, "rcvbuf");
	ASSERT_EQ(s.sndbuf, 16384, "sndbuf");
	ASSERT_EQ(s.wmem_queued, 99, "wmem_queued");
}

static void test_parse_v6(void)
{
	static const __u8 src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const __u8 dst[16] = { 0xfe, 0x80, [14] = 0xab, [15] = 0xcd };
	struct inet_diag_msg *r;
	struct sd_sock s;
	struct msg m;

	r = msg_init(&m, AF_INET6, TCPW_LISTEN);
	r->id.idiag_sport = htons(8080);
	memcpy(r->id.idiag_src, src, 16);
	memcpy(r->id.idiag_dst, dst, 16);
	if (!ASSERT_OK(msg_parse(&m, m.len, &s), "sd_parse v6"))
		return;
	ASSERT_EQ(s.family, AF_INET6, "family");
	ASSERT_EQ(s.state, TCPW_LISTEN, "state");
	ASSERT_EQ(s.sport, 8080, "sport");
	ASSERT_TRUE(!memcmp(s.saddr, src, 16), "saddr");
	ASSERT_TRUE(!memcmp(s.daddr, dst, 16), "daddr");
}

static void test_parse_timewait(void)
{
	struct inet_diag_msg *r;
	struct sd_sock s;
	struct msg m;

	r = msg_init(&m, AF_INET, TCPW_TIME_WAIT);
	r->idiag_expires = 59000;
	if (!ASSERT_OK(msg_parse(&m, m.len, &s), "sd_parse timewait"))
		return;
	ASSERT_EQ(s.state, TCPW_TIME_WAIT, "state");
	ASSERT_EQ(s.expires_ms, 59000, "expires");
	ASSERT_EQ(s.inode, 0, "no inode");
	ASSERT_FALSE(s.has_info, "no tcp_info");
	ASSERT_FALSE(s.has_mem, "no skmeminfo");
	ASSERT_EQ(s.snd_cwnd, 0, "snd_cwnd zero");
}

static void test_parse_truncated(void)
{
	struct inet_diag_msg *r;
	struct sd_sock s;
	struct msg m;

	msg_init(&m, AF_INET, TCPW_ESTABLISHED);
	ASSERT_EQ(msg_parse(&m, NLMSG_HDRLEN, &s), -EINVAL, "header only");
	ASSERT_EQ(msg_parse(&m, DIAG_HDR - 1, &s), -EINVAL, "short msg");
	ASSERT_EQ(msg_parse(&m, 4, &s), -EINVAL, "shorter than nlmsghdr");
	ASSERT_OK(msg_parse(&m, DIAG_HDR, &s), "exact");

	((struct nlmsghdr *)m.buf)->nlmsg_type = NLMSG_DONE;
	ASSERT_EQ(msg_parse(&m, DIAG_HDR, &s), -EINVAL, "wrong type");

	r = msg_init(&m, AF_UNIX, TCPW_ESTABLISHED);
	ASSERT_EQ(msg_parse(&m, DIAG_HDR, &s), -EINVAL, "bad family");
	r->idiag_family = AF_INET;
	r->idiag_state = 0;
	ASSERT_EQ(msg_parse(&m, DIAG_HDR, &s), -EINVAL, "state 0");
	r->idiag_state = TCPW_STATE_MAX;
	ASSERT_EQ(msg_parse(&m, DIAG_HDR, &s), -EINVAL, "state too big");
	ASSERT_EQ(sd_parse(NULL, &s), -EINVAL, "NULL");
}

static void test_parse_attr_lies(void)
{
	unsigned char ti[TI_FULL_LEN];
	struct nlattr *a;
	struct sd_sock s;
	struct msg m;

	msg_init(&m, AF_INET, TCPW_ESTABLISHED);
	fill_info(ti);
	msg_attr(&m, INET_DIAG_INFO, ti, sizeof(ti));
	a = (struct nlattr *)(m.buf + DIAG_HDR);

	/* the attribute claims more than the message holds */
	ASSERT_EQ(msg_parse(&m, m.len - 8, &s), -EINVAL, "nla_len > msg");
	a->nla_len = 0xffff;
	ASSERT_EQ(msg_parse(&m, m.len, &s), -EINVAL, "nla_len huge");
	a->nla_len = 2;
	ASSERT_EQ(msg_parse(&m, m.len, &s), -EINVAL, "nla_len < hdr");
	a->nla_len = 0;
	ASSERT_EQ(msg_parse(&m, m.len, &s), -EINVAL, "nla_len 0");
	/* a stub of an attribute header at the end */
	a->nla_len = NLA_HDRLEN + sizeof(ti);
	ASSERT_OK(msg_parse(&m, m.len, &s), "restored");
	ASSERT_EQ(msg_parse(&m, m.len + 2, &s), -EINVAL, "2 trailing bytes");
	/* an empty attribute and an unknown type are fine */
	a->nla_len = NLA_HDRLEN;
	a->nla_type = 200;
	ASSERT_OK(msg_parse(&m, DIAG_HDR + NLA_HDRLEN, &s), "empty attr");
	a->nla_type = INET_DIAG_INFO;
	ASSERT_OK(msg_parse(&m, DIAG_HDR + NLA_HDRLEN, &s), "empty info");
	ASSERT_FALSE(s.has_info, "empty info is no info");
	/* last attribute without its padding */
	msg_init(&m, AF_INET, TCPW_ESTABLISHED);
	msg_attr(&m, 99, "abc", 3);
	ASSERT_OK(msg_parse(&m, DIAG_HDR + NLA_HDRLEN + 3, &s), "unpadded");
}

static void test_parse_old_tcp_info(void)
{
	unsigned char ti[TI_FULL_LEN];
	size_t len;
	struct sd_sock s;
	struct msg m;

	fill_info(ti);
	/* 2.6-era tcp_info: ends at tcpi_total_retrans */
	len = offsetof(struct tcp_info, tcpi_total_retrans) + sizeof(__u32);
	msg_init(&m, AF_INET, TCPW_ESTABLISHED);
	msg_attr(&m, INET_DIAG_INFO, ti, len);
	if (!ASSERT_OK(msg_parse(&m, m.len, &s), "old info"))
		return;
	ASSERT_TRUE(s.has_info, "has_info");
	ASSERT_EQ(s.snd_cwnd, 10, "snd_cwnd");
	ASSERT_EQ(s.srtt_us, 1234, "srtt");
	ASSERT_EQ(s.total_retrans, 7, "total_retrans");
	ASSERT_EQ(s.bytes_acked, 0, "no bytes_acked");
	ASSERT_EQ(s.snd_wnd, 0, "no snd_wnd");
	ASSERT_EQ(s.rcv_wnd, 0, "no rcv_wnd");

	/* 5.4..6.1: has snd_wnd, lacks rcv_wnd */
	msg_init(&m, AF_INET, TCPW_ESTABLISHED);
	msg_attr(&m, INET_DIAG_INFO, ti, TI_SND_WND_OFF + sizeof(__u32));
	if (!ASSERT_OK(msg_parse(&m, m.len, &s), "6.1 info"))
		return;
	ASSERT_EQ(s.bytes_received, 0x200000002ull, "bytes_received");
	ASSERT_EQ(s.snd_wnd, 131072, "snd_wnd");
	ASSERT_EQ(s.rcv_wnd, 0, "no rcv_wnd");

	/* too short to be any tcp_info: ignored, not fatal */
	msg_init(&m, AF_INET, TCPW_ESTABLISHED);
	msg_attr(&m, INET_DIAG_INFO, ti, 8);
	ASSERT_OK(msg_parse(&m, m.len, &s), "stub info");
	ASSERT_FALSE(s.has_info, "stub info is no info");
	/* a short skmeminfo likewise */
	msg_init(&m, AF_INET, TCPW_ESTABLISHED);
	msg_attr(&m, INET_DIAG_SKMEMINFO, ti, 8);
	ASSERT_OK(msg_parse(&m, m.len, &s), "stub meminfo");
	ASSERT_FALSE(s.has_mem, "stub meminfo is no meminfo");
}

static void test_parse_cookie(void)
{
	struct inet_diag_msg *r;
	struct sd_sock s;
	struct msg m;

	r = msg_init(&m, AF_INET, TCPW_SYN_RECV);
	r->id.idiag_cookie[0] = 0x11223344;
	r->id.idiag_cookie[1] = 0x55667788;
	if (!ASSERT_OK(msg_parse(&m, m.len, &s), "sd_parse"))
		return;
	ASSERT_EQ(s.cookie, 0x5566778811223344ull, "cookie word order");
	ASSERT_EQ(s.state, TCPW_SYN_RECV, "request sock state");
}

struct find_ctx {
	__u16 port;
	int seen, total;
	struct sd_sock s;
	int stop_with;
};

static int find_cb(void *ctx, const struct sd_sock *s)
{
	struct find_ctx *f = ctx;

	f->total++;
	if (s->family == AF_INET && s->sport == f->port) {
		f->seen++;
		f->s = *s;
	}
	return f->stop_with;
}

static int listen_lo(__u16 *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl)) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Our cgroup v2 id: the inode of our directory under the cgroup2 mount. */
static __u64 own_cgroup(void)
{
	char mnt[256], line[512], p[1024];
	struct stat st;
	FILE *f;

	if (cg_find_mount(mnt, sizeof(mnt)))
		return 0;
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return 0;
	line[0] = '\0';
	while (fgets(line, sizeof(line), f) && strncmp(line, "0::", 3))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	snprintf(p, sizeof(p), "%s%s", mnt, line + 3);
	return line[0] && !stat(p, &st) ? st.st_ino : 0;
}

static void test_dump_listener(void)
{
	struct find_ctx f = { 0 };
	socklen_t cl = sizeof(__u64);
	__u64 cookie = 0;
	struct stat st;
	int lfd, dfd, n;

	lfd = listen_lo(&f.port);
	if (!ASSERT_GE(lfd, 0, "listen socket"))
		return;
	dfd = sd_open();
	if (!ASSERT_GE(dfd, 0, "sd_open"))
		goto out_lfd;
	ASSERT_OK(getsockopt(lfd, SOL_SOCKET, SO_COOKIE, &cookie, &cl),
		  "SO_COOKIE");
	ASSERT_OK(fstat(lfd, &st), "fstat");

	n = sd_dump(dfd, SD_ALL_STATES, find_cb, &f);
	ASSERT_GE(n, 1, "sd_dump count");
	ASSERT_EQ(n, f.total, "count == callbacks");
	if (!ASSERT_EQ(f.seen, 1, "listener found once"))
		goto out;
	ASSERT_EQ(f.s.state, TCPW_LISTEN, "state LISTEN");
	ASSERT_EQ(f.s.cookie, cookie, "cookie == SO_COOKIE");
	ASSERT_EQ(f.s.inode, st.st_ino, "inode == fstat");
	ASSERT_EQ(f.s.uid, getuid(), "uid");
	ASSERT_EQ(f.s.saddr[0], 127, "bound to 127.0.0.1");
	ASSERT_TRUE(f.s.has_info, "listener has tcp_info");
	ASSERT_TRUE(f.s.has_mem, "listener has skmeminfo");
	ASSERT_GT(f.s.rcvbuf, 0, "rcvbuf");
	ASSERT_EQ(f.s.cgroup, own_cgroup(), "cgroup id: ours (stat of our cgroup2 directory)");

	/* LISTEN excluded by the mask */
	memset(&f.s, 0, sizeof(f.s));
	f.seen = f.total = 0;
	n = sd_dump(dfd, SD_ALL_STATES & ~(1u << TCPW_LISTEN), find_cb, &f);
	ASSERT_GE(n, 0, "masked dump");
	ASSERT_EQ(f.seen, 0, "listener masked out");

	/* a callback error aborts, and the socket stays usable */
	f.seen = f.total = 0;
	f.stop_with = -ECANCELED;
	n = sd_dump(dfd, SD_ALL_STATES, find_cb, &f);
	ASSERT_EQ(n, -ECANCELED, "callback error returned");
	ASSERT_EQ(f.total, 1, "no callback after the error");
	f.seen = f.total = 0;
	f.stop_with = 0;
	n = sd_dump(dfd, 1u << TCPW_LISTEN, find_cb, &f);
	ASSERT_EQ(f.seen, 1, "dump after abort still works");
	ASSERT_EQ(n, f.total, "count after abort");
out:
	close(dfd);
out_lfd:
	close(lfd);
}

struct own_ctx {
	__u32 inode;
	int found;
	pid_t pid;
	int fd;
	char comm[16];
};

static bool own_want(void *ctx, __u32 inode)
{
	return inode == ((struct own_ctx *)ctx)->inode;
}

static void own_found(void *ctx, __u32 inode, pid_t pid, int fd,
		      const char *comm)
{
	struct own_ctx *o = ctx;

	o->found++;
	o->pid = pid;
	o->fd = fd;
	snprintf(o->comm, sizeof(o->comm), "%s", comm);
}

static void test_owner_scan(void)
{
	struct own_ctx o = { 0 };
	char comm[16];
	struct stat st;
	__u16 port;
	int lfd, n;

	lfd = listen_lo(&port);
	if (!ASSERT_GE(lfd, 0, "listen socket"))
		return;
	if (!ASSERT_OK(fstat(lfd, &st), "fstat"))
		goto out;
	o.inode = st.st_ino;
	n = owner_scan(own_want, own_found, &o);
	ASSERT_GE(n, 1, "owner_scan count");
	if (!ASSERT_EQ(o.found, 1, "found once"))
		goto out;
	ASSERT_EQ(o.pid, getpid(), "pid");
	ASSERT_EQ(o.fd, lfd, "fd");
	ASSERT_OK(owner_comm(getpid(), comm), "owner_comm");
	ASSERT_STREQ(o.comm, comm, "comm");
	ASSERT_TRUE(strlen(comm) > 0 && strlen(comm) < 16, "comm length");
	ASSERT_TRUE(!strchr(comm, '\n'), "no newline");
	ASSERT_EQ(owner_comm(0x7ffffff0, comm), -ENOENT, "no such pid");
out:
	close(lfd);
}

static void test_netns_basics(void)
{
	__u32 self = 0, v = 0;
	struct stat st;

	if (!ASSERT_OK(netns_self(&self), "netns_self"))
		return;
	ASSERT_OK(stat("/proc/self/ns/net", &st), "stat");
	ASSERT_EQ(self, st.st_ino, "self == /proc/self/ns/net");
	ASSERT_OK(netns_resolve("self", &v), "resolve self");
	ASSERT_EQ(v, self, "self");
	v = 0;
	ASSERT_OK(netns_resolve("/proc/self/ns/net", &v), "resolve path");
	ASSERT_EQ(v, self, "path");
	ASSERT_OK(netns_resolve("4026531840", &v), "resolve number");
	ASSERT_EQ(v, 4026531840u, "number as-is");
	ASSERT_EQ(netns_resolve("0", &v), -EINVAL, "zero");
	ASSERT_EQ(netns_resolve("99999999999", &v), -EINVAL, "too big");
	ASSERT_EQ(netns_resolve("/proc/self/ns/mnt", &v), -EINVAL,
		  "mnt ns is not a netns");
	ASSERT_EQ(netns_resolve("/etc/hostname", &v), -EINVAL,
		  "plain file");
	ASSERT_EQ(netns_resolve("tcpw-no-such-netns", &v), -ENOENT,
		  "unknown name");
	ASSERT_EQ(netns_resolve("../etc", &v), -EINVAL, "name with slash");
	ASSERT_EQ(netns_resolve("", &v), -EINVAL, "empty");
}

static void test_netns_refresh_self(void)
{
	struct netns_set set = { 0 };
	struct find_ctx f = { 0 };
	__u32 self;
	int lfd, n;

	if (!ASSERT_OK(netns_self(&self), "netns_self"))
		return;
	lfd = listen_lo(&f.port);
	if (!ASSERT_GE(lfd, 0, "listen socket"))
		return;
	n = netns_refresh(&set, self);
	if (!ASSERT_EQ(n, 1, "only self"))
		goto out;
	ASSERT_EQ(set.v[0].inum, self, "inum");
	n = sd_dump(set.v[0].diag_fd, 1u << TCPW_LISTEN, find_cb, &f);
	ASSERT_GE(n, 1, "dump through the set");
	ASSERT_EQ(f.seen, 1, "our listener");
	/* refreshing keeps the entry and its socket */
	n = set.v[0].diag_fd;
	ASSERT_EQ(netns_refresh(&set, self), 1, "refresh again");
	ASSERT_EQ(set.v[0].diag_fd, n, "same fd kept");
	/* all namespaces: ours is among them */
	n = netns_refresh(&set, 0);
	ASSERT_GE(n, 1, "all");
	ASSERT_EQ(netns_refresh(&set, 1), -ENOENT, "unknown only");
	ASSERT_EQ(set.n, 0, "others dropped with only");
out:
	netns_free(&set);
	close(lfd);
}

UNIT_MAIN(test_parse_v4, test_parse_v6, test_parse_timewait,
	  test_parse_truncated, test_parse_attr_lies, test_parse_old_tcp_info,
	  test_parse_cookie, test_dump_listener, test_owner_scan,
	  test_netns_basics, test_netns_refresh_self)
