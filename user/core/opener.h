/* SPDX-License-Identifier: GPL-2.0 */
/*
 * open(2) on a thread of its own, for SIGHUP's reopen of -o FILE. An
 * open for writing waits as long as the filesystem is frozen (it takes
 * the superblock's write access), and a FIFO's waits for a reader: the
 * loop must not. The thread is started for one open and ends with it;
 * its result comes back through a pipe the loop polls.
 */
#ifndef TCPW_OPENER_H
#define TCPW_OPENER_H

#include <sys/types.h>

/*
 * Start open(path, flags, mode). The read end of the result's pipe, to
 * poll for EPOLLIN, or -errno. Closing it before the result gives the
 * open up: the thread closes the fd it gets, if it ever does.
 */
int opener_start(const char *path, int flags, mode_t mode);
/* Once rfd is readable: the fd open() returned, or -errno. Closes rfd. */
int opener_result(int rfd);

#endif
