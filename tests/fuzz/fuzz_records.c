// SPDX-License-Identifier: GPL-2.0
/*
 * The record decoder: a /dev/tcpwatch read stream (records of
 * TCPW_EVENT_SIZE; a truncated tail is dropped as kmod.c does) with
 * garbage in every field, through the daemon's record path: version
 * and kind checks, the table and its prefetching, the diagnostics, the
 * NDJSON writer.
 * Every record written must parse.
 */
#include "core/daemon.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static struct daemon d;
	static struct tcpw_event ev[SOURCE_BATCH];
	const struct tcpw_event *batch[SOURCE_BATCH];
	size_t n = 0;

	if (daemon_init_offline(&d, -1))
		return 0;
	/* output to memory, as the live daemon formats it */
	if (json_init(&d.out, -1, 1 << 16)) {
		daemon_free(&d);
		return 0;
	}
	d.has_out = true;
	d.o.records = REC_ALL;	/* conn records too */
	/* in batches, as the sources hand them over; the first byte (of
	 * the first record's ts_ns) decides their size */
	for (size_t off = 0; off + TCPW_EVENT_SIZE <= size;
	     off += TCPW_EVENT_SIZE) {
		memcpy(&ev[n], data + off, sizeof(ev[n]));
		/* mostly valid versions, so the table is reached */
		if (ev[n].version & 0x80)
			ev[n].version = TCPW_ABI_VERSION;
		batch[n] = &ev[n];
		if (++n == 1 + data[0] % SOURCE_BATCH) {
			daemon_handle_batch(&d, batch, n);
			n = 0;
		}
	}
	daemon_handle_batch(&d, batch, n);
	conn_flush(&d, 0, true);
	fuzz_lines_parse(&d.out, 0);
	daemon_free(&d);
	return 0;
}
