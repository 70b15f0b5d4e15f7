package tun_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// requireRoot skips a test that needs root and namespaces, or fails it
// when CI=true, where it must run.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("ip"); err == nil {
			return
		}
		if os.Getenv("CI") == "true" {
			t.Fatal("needs iproute2's ip; CI must install it")
		}
		t.Skip("needs iproute2's ip")
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("needs root (network namespaces, TUN); CI runs as root")
	}
	t.Skip("needs root (network namespaces, TUN)")
}

// topo is the test's copy of the scripts/netns topology, under names of
// its own: client namespace cli with veth cliDev, server namespace srv
// with veth srvDev and the TUN device tunDev, which the stack's prefixes
// are routed to.
type topo struct {
	cli, srv, cliDev, srvDev, tunDev string
}

const (
	cliAddr4  = "198.18.91.2"
	srvAddr4  = "198.18.91.1"
	cliAddr6  = "2001:2:0:91::2"
	srvAddr6  = "2001:2:0:91::1"
	stackNet4 = "198.19.91.0/24"
	stackNet6 = "2001:2:0:92::/64"
	stackIP4  = "198.19.91.1"
	stackIP6  = "2001:2:0:92::1"
)

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newTopo builds the namespaces; t.Cleanup removes them.
func newTopo(t *testing.T) *topo {
	t.Helper()
	requireRoot(t)
	b := make([]byte, 3)
	rand.Read(b)
	id := "tun1" + hex.EncodeToString(b)
	tp := &topo{cli: id + "-cli", srv: id + "-srv", cliDev: id + "c", srvDev: id + "s",
		tunDev: id + "t"}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", tp.cli).Run()
		exec.Command("ip", "netns", "del", tp.srv).Run()
	})
	run(t, "ip", "netns", "add", tp.cli)
	run(t, "ip", "netns", "add", tp.srv)
	run(t, "ip", "link", "add", tp.cliDev, "netns", tp.cli, "type", "veth", "peer", "name",
		tp.srvDev, "netns", tp.srv)
	for _, c := range []struct{ ns, dev, a4, a6 string }{
		{tp.cli, tp.cliDev, cliAddr4, cliAddr6}, {tp.srv, tp.srvDev, srvAddr4, srvAddr6},
	} {
		run(t, "ip", "-n", c.ns, "link", "set", "lo", "up")
		run(t, "ip", "-n", c.ns, "addr", "add", c.a4+"/24", "dev", c.dev)
		run(t, "ip", "-n", c.ns, "-6", "addr", "add", c.a6+"/64", "dev", c.dev, "nodad")
		run(t, "ip", "-n", c.ns, "link", "set", c.dev, "up")
	}
	run(t, "ip", "netns", "exec", tp.srv, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	run(t, "ip", "netns", "exec", tp.srv, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	run(t, "ip", "-n", tp.cli, "route", "add", stackNet4, "via", srvAddr4)
	run(t, "ip", "-n", tp.cli, "-6", "route", "add", stackNet6, "via", srvAddr6)
	return tp
}

// inNetns runs f on a thread that is in namespace ns; sockets and devices
// f creates belong to ns.
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	orig, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()

	runtime.LockOSThread()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("setns %s: %v", ns, err)
	}
	defer func() {
		// A thread that cannot go back must not run other goroutines:
		// leave it locked, and the runtime ends it with this goroutine.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	f()
}

// Legacy ethtool commands that modern kernels map onto feature flags.
const (
	ethtoolSTXCSUM = 0x17
	ethtoolSGRO    = 0x2c
)

// setEthtool sets one ethtool feature of dev in namespace ns.
func setEthtool(t *testing.T, ns, dev string, cmd uint32, on bool) {
	t.Helper()
	inNetns(t, ns, func() {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		val := struct{ cmd, data uint32 }{cmd: cmd}
		if on {
			val.data = 1
		}
		var ifr struct {
			name [unix.IFNAMSIZ]byte
			data uintptr
			_    [16]byte
		}
		copy(ifr.name[:], dev)
		ifr.data = uintptr(unsafe.Pointer(&val))
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL,
			uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(&val)
		if errno != 0 {
			t.Fatalf("ethtool %#x on %s in %s: %v", cmd, dev, ns, errno)
		}
	})
}

// snmpCounter reads one counter of /proc/net/snmp in namespace ns.
func snmpCounter(t *testing.T, ns, proto, name string) uint64 {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != proto+":" || len(vals) != len(names) {
			continue
		}
		for j, n := range names {
			if n == name {
				var v uint64
				fmt.Sscan(vals[j], &v)
				return v
			}
		}
	}
	t.Fatalf("no %s %s in /proc/net/snmp of %s", proto, name, ns)
	return 0
}
