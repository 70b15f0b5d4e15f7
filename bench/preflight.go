package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// tool is an outside program the harness runs, and the Debian package
// that has it.
type tool struct {
	bin, pkg string
}

// debianPackages is every package a full run needs beyond Go.
var debianPackages = []string{"iproute2", "util-linux", "nginx", "haproxy", "iperf3",
	"nghttp2-client", "openssl"}

// need lists what each system and scenario group runs.
func (h *harness) need() map[string][]tool {
	n := map[string][]tool{
		"the harness": {{"ip", "iproute2"}, {"taskset", "util-linux"}},
	}
	for _, s := range h.cfg.systems {
		switch s {
		case "nginx":
			n["system nginx"] = []tool{{"nginx", "nginx"}}
		case "haproxy":
			n["system haproxy"] = []tool{{"haproxy", "haproxy"}}
		case "plain-tcp":
			n["system plain-tcp"] = []tool{{"iperf3", "iperf3"}}
		case "tlsstack-tun", "tlsstack-kernel":
			if h.cfg.tlsstackBin == "" {
				n["building tlsstack"] = []tool{{"go", "the Go toolchain"}}
			}
		}
	}
	for _, t := range h.tests {
		switch t.group {
		case "rps":
			n["scenarios rps-*"] = []tool{{"h2load", "nghttp2-client"}}
		case "crypto":
			n["scenario crypto"] = []tool{{"openssl", "openssl"}}
		}
	}
	if h.cfg.profileDir != "" {
		n["--profile"] = []tool{{"go", "the Go toolchain"}}
	}
	return n
}

// preflight checks for root and for every tool the chosen systems and
// scenarios run. It installs nothing; it names what is missing and how to
// install it, and with --skip-missing it leaves those parts out instead.
func (h *harness) preflight() error {
	if os.Geteuid() != 0 {
		return usagef("needs root: it builds network namespaces and TUN devices " +
			"(sudo go run ./bench ...)")
	}
	var (
		lines []string
		pkgs  []string
	)
	users := map[string]bool{} // what needs a missing tool
	for who, tools := range h.need() {
		for _, t := range tools {
			if _, err := exec.LookPath(t.bin); err == nil {
				continue
			}
			lines = append(lines, fmt.Sprintf("  %s (for %s): in package %s", t.bin, who, t.pkg))
			if !strings.Contains(t.pkg, " ") && !slices.Contains(pkgs, t.pkg) {
				pkgs = append(pkgs, t.pkg)
			}
			users[who] = true
		}
	}
	if len(lines) == 0 {
		return nil
	}
	slices.Sort(lines)
	slices.Sort(pkgs)
	msg := "missing tools:\n" + strings.Join(lines, "\n")
	if len(pkgs) > 0 {
		msg += "\ninstall with: apt-get install -y " + strings.Join(pkgs, " ")
	}
	if !h.cfg.skipMissing || users["the harness"] || users["building tlsstack"] {
		return usagef("%s\nor choose other --systems/--scenarios, or pass --skip-missing", msg)
	}

	fmt.Fprintf(h.out, "bench: %s\nbench: --skip-missing: leaving those parts out\n", msg)
	h.cfg.systems = slices.DeleteFunc(h.cfg.systems, func(s string) bool {
		return users["system "+s]
	})
	h.tests = slices.DeleteFunc(h.tests, func(t *test) bool {
		return (t.group == "rps" && users["scenarios rps-*"]) ||
			(t.group == "crypto" && users["scenario crypto"])
	})
	if len(h.cfg.systems) == 0 || len(h.tests) == 0 {
		return usagef("nothing left to run")
	}
	return nil
}
