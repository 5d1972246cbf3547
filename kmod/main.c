// SPDX-License-Identifier: GPL-2.0
/*
 * tcpwatch: TCP state transitions, retransmits, resets from the TCP
 * tracepoints, and periodic window samples, as fixed-size records on
 * /dev/tcpwatch. The same records as the BPF programs in bpf/; see
 * include/uapi/tcpwatch.h and Documentation/kmod.md.
 */
#define pr_fmt(fmt) "tcpwatch: " fmt

#include <linux/build_bug.h>
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "tcpw.h"

static unsigned int ring_bytes = 8U << 20;
module_param(ring_bytes, uint, 0444);
MODULE_PARM_DESC(ring_bytes,
		 "Event ring size in bytes, used in whole 160-byte records (default 8388608 = 52428 records; 4096..1073741824)");

static unsigned int sample_ms = 1000;
module_param(sample_ms, uint, 0444);
MODULE_PARM_DESC(sample_ms,
		 "Window/buffer samples: every this many ms a walk of the established hash writes a sample for each socket whose snapshot changed; 0 = no samples (default 1000)");

static unsigned short ports[TCPW_MAX_PORTS];
static int nr_ports;
module_param_array(ports, ushort, &nr_ports, 0444);
MODULE_PARM_DESC(ports,
		 "Only report sockets whose local or remote port is one of these (up to 8, comma-separated); empty = all ports");

static char *cgroup_path;
module_param_named(cgroup, cgroup_path, charp, 0444);
MODULE_PARM_DESC(cgroup,
		 "Only report sockets made in this cgroup (v2) or below it: a path from the cgroup2 root, e.g. /system.slice/nginx.service; empty = all");

static unsigned int wakeup_bytes;
module_param(wakeup_bytes, uint, 0444);
MODULE_PARM_DESC(wakeup_bytes,
		 "Wake a sleeping reader as soon as this much is pending; 0 = a quarter of the ring (default 0; at least one record, at most half the ring)");

static unsigned int flush_ms = 50;
module_param(flush_ms, uint, 0444);
MODULE_PARM_DESC(flush_ms,
		 "While the device is open, wake a sleeping reader every this many ms if anything is pending; 0 = only the wakeup_bytes threshold (default 50)");

static int __init tcpw_init(void)
{
	int ret;

	BUILD_BUG_ON(sizeof(struct tcpw_event) != TCPW_EVENT_SIZE);
	BUILD_BUG_ON(sizeof(struct tcpw_stats) !=
		     2 * TCPW_EV_MAX * sizeof(__u64) + 2 * sizeof(__u32));

	if (ring_bytes < TCPW_RING_MIN_BYTES ||
	    ring_bytes > TCPW_RING_MAX_BYTES) {
		pr_err("ring_bytes=%u is out of range [%u, %u]\n", ring_bytes,
		       TCPW_RING_MIN_BYTES, TCPW_RING_MAX_BYTES);
		return -EINVAL;
	}
	if (flush_ms > 60 * MSEC_PER_SEC) {
		pr_err("flush_ms=%u is over 60000\n", flush_ms);
		return -EINVAL;
	}

	ret = tcpw_dev_init(ring_bytes, wakeup_bytes, flush_ms);
	if (ret)
		return ret;
	ret = tcpw_probes_init(ports, nr_ports, cgroup_path);
	if (ret)
		goto out_dev;
	tcpw_sample_init(sample_ms);
	return 0;

out_dev:
	tcpw_dev_exit();
	return ret;
}

static void __exit tcpw_exit(void)
{
	/* Probes and the walk first: nothing may touch the freed ring. */
	tcpw_probes_exit();
	tcpw_sample_exit();
	tcpw_dev_exit();
}

module_init(tcpw_init);
module_exit(tcpw_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("tcpwatch: TCP state, retransmit, reset and window events");
MODULE_VERSION("0.1.0");	/* VERSION */
