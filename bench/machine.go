package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machineInfo describes where a run happened.
type machineInfo struct {
	CPUModel string `json:"cpu_model"`
	Cores    int    `json:"cores"`
	Memory   string `json:"memory"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	OpenSSL  string `json:"openssl"`
	Nginx    string `json:"nginx"`
	HAProxy  string `json:"haproxy"`
	Iperf3   string `json:"iperf3"`
	H2load   string `json:"h2load"`
	TLSStack string `json:"tlsstack"`
}

func describeMachine(tlsstackBin, from string) machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		cores := 0
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "model name":
				if m.CPUModel == "" {
					m.CPUModel = strings.TrimSpace(v)
				}
			case "processor":
				cores++
			}
		}
		f.Close()
		if cores > 0 {
			m.Cores = cores
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		var kb float64
		fmt.Sscanf(strings.TrimPrefix(line, "MemTotal:"), "%f", &kb)
		m.Memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b))
	}
	m.OpenSSL = toolVersion("openssl", "version")
	m.Nginx = strings.TrimPrefix(toolVersion("nginx", "-v"), "nginx version: ")
	m.HAProxy = toolVersion("haproxy", "-v")
	m.Iperf3 = toolVersion("iperf3", "--version")
	m.H2load = toolVersion("h2load", "--version")
	if tlsstackBin != "" {
		m.TLSStack = toolVersion(tlsstackBin, "version") + ", " + from
	}
	return m
}

// toolVersion returns the first line a tool prints about its version, or
// "not installed".
func toolVersion(name string, args ...string) string {
	path, err := exec.LookPath(name)
	if err != nil {
		return "not installed"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	line := firstLine(strings.TrimSpace(string(out)))
	if err != nil && line == "" {
		return fmt.Sprintf("unknown (%v)", err)
	}
	return line
}
