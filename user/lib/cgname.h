/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a cgroup v2 path says about who runs there: the systemd unit
 * (`*.service`, `*.scope`) and the container id (Docker, containerd,
 * CRI-O, Podman, Kubernetes). Pure string work, no I/O.
 */
#ifndef TCPW_CGNAME_H
#define TCPW_CGNAME_H

#include <stddef.h>

/* Substrings of the path: off and len (len 0: none). */
struct cg_names {
	size_t unit_off, unit_len;
	size_t ctr_off, ctr_len;
};

/*
 * Derive both from a path relative to the cgroup2 root ("/" or
 * "/system.slice/nginx.service"). The unit is the deepest `*.service`
 * or `*.scope` component; the container the deepest container id:
 *   docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope,
 *   libpod-<id>.scope          (systemd cgroup driver)
 *   /docker/<id>               (Docker's cgroupfs driver)
 *   /kubepods.../pod<uid>/<id> (the kubelet's cgroupfs driver)
 * An unknown layout has neither: the path is then what identifies it.
 */
void cg_names(const char *path, struct cg_names *out);

#endif
