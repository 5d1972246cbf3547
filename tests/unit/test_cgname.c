// SPDX-License-Identifier: GPL-2.0
/* The unit and container a cgroup path names (lib/cgname.c). */
#include <stdlib.h>

#include "core/cgcache.h"
#include "lib/cgname.h"
#include "unit.h"

/* path -> "unit|container", "-" for none */
static const char *names_of(const char *path)
{
	static char out[512];
	struct cg_names n;

	cg_names(path, &n);
	snprintf(out, sizeof(out), "%.*s|%.*s",
		 n.unit_len ? (int)n.unit_len : 1,
		 n.unit_len ? path + n.unit_off : "-",
		 n.ctr_len ? (int)n.ctr_len : 1,
		 n.ctr_len ? path + n.ctr_off : "-");
	return out;
}

#define ID64 "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa00"
#define ID12 "0123456789ab"

static void test_systemd_units(void)
{
	ASSERT_STREQ(names_of("/system.slice/nginx.service"),
		     "nginx.service|-", "a system service");
	ASSERT_STREQ(names_of("/user.slice/user-1000.slice/session-2.scope"),
		     "session-2.scope|-", "a login session");
	ASSERT_STREQ(names_of("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service"),
		     "foo.service|-", "the deepest unit: a user service");
	ASSERT_STREQ(names_of("/system.slice/postgresql@15-main.service/sub"),
		     "postgresql@15-main.service|-",
		     "a cgroup a service made below itself");
	ASSERT_STREQ(names_of("/system.slice"), "-|-", "a slice is no unit");
	ASSERT_STREQ(names_of("/"), "-|-", "the root");
	ASSERT_STREQ(names_of(""), "-|-", "empty");
	ASSERT_STREQ(names_of("/.service"), "-|-", "a bare suffix");
}

static void test_containers(void)
{
	ASSERT_STREQ(names_of("/system.slice/docker-" ID64 ".scope"),
		     "docker-" ID64 ".scope|" ID64, "docker, systemd driver");
	ASSERT_STREQ(names_of("/docker/" ID64), "-|" ID64,
		     "docker, cgroupfs driver");
	ASSERT_STREQ(names_of("/system.slice/cri-containerd-" ID64 ".scope"),
		     "cri-containerd-" ID64 ".scope|" ID64, "containerd");
	ASSERT_STREQ(names_of("/machine.slice/libpod-" ID12 ".scope/container"),
		     "libpod-" ID12 ".scope|" ID12, "podman");
	ASSERT_STREQ(names_of("/system.slice/docker-nothex.scope"),
		     "docker-nothex.scope|-", "not an id: a plain scope");
	ASSERT_STREQ(names_of("/docker/abc"), "-|-", "too short for an id");
	ASSERT_STREQ(names_of("/system.slice/docker.service"),
		     "docker.service|-", "the daemon itself is no container");
}

static void test_kubernetes(void)
{
	ASSERT_STREQ(names_of("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_5f60_7182_93a4_b5c6d7e8f901.slice/cri-containerd-" ID64 ".scope"),
		     "cri-containerd-" ID64 ".scope|" ID64,
		     "kubelet systemd driver, containerd");
	ASSERT_STREQ(names_of("/kubepods.slice/kubepods-pod1b2c3d4e_5f60.slice/crio-" ID64 ".scope"),
		     "crio-" ID64 ".scope|" ID64, "kubelet, CRI-O");
	ASSERT_STREQ(names_of("/kubepods/burstable/pod1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901/" ID64),
		     "-|" ID64, "kubelet cgroupfs driver");
	ASSERT_STREQ(names_of("/kubepods/pod1b2c3d4e-5f60/" ID64),
		     "-|" ID64, "guaranteed QoS: no QoS level");
	ASSERT_STREQ(names_of("/kubepods/burstable/pod1b2c3d4e-5f60"),
		     "-|-", "the pod, no container");
	ASSERT_STREQ(names_of("/other/pod1b2c3d4e-5f60/" ID64), "-|-",
		     "pod<uid> outside kubepods is not Kubernetes");
}

static void test_path_under(void)
{
	ASSERT_TRUE(cg_path_under("/a/b", "/a"), "child");
	ASSERT_TRUE(cg_path_under("/a", "/a"), "itself");
	ASSERT_TRUE(cg_path_under("/a/b", "/a/"), "trailing slash");
	ASSERT_TRUE(cg_path_under("/a/b", "/"), "the root holds all");
	ASSERT_FALSE(cg_path_under("/ab", "/a"), "a sibling with a prefix");
	ASSERT_FALSE(cg_path_under("/a", "/a/b"), "the parent");
}

UNIT_MAIN(test_systemd_units, test_containers, test_kubernetes,
	  test_path_under)
