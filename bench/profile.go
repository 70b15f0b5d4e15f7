package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// profileSeconds is how long each CPU profile records.
const profileSeconds = 5

// profile takes a CPU profile of each tlsstack server, from its --pprof
// endpoint inside the server namespace, while the client keeps one
// scenario's load on it; then it writes `go tool pprof -top` of each.
func (h *harness) profile(ctx context.Context, live []*system) {
	if err := os.MkdirAll(h.cfg.profileDir, 0o755); err != nil {
		h.logf("profile: %v", err)
		return
	}
	loads := []struct {
		name string
		args func(s *system) []string
	}{
		{"bulk-download-1conn", func(s *system) []string {
			return []string{"bulk", "--addr", s.bulkAddr, "--bytes", strconv.Itoa(256 << 20)}
		}},
		{"bulk-upload-1conn", func(s *system) []string {
			return []string{"bulk", "--addr", s.bulkAddr, "--upload", "--bytes",
				strconv.Itoa(256 << 20)}
		}},
		{"handshake-full-tls13", func(s *system) []string {
			return []string{"handshake", "--addr", s.httpAddr, "--workers", "64",
				"--duration", "2s", "--max", "200000"}
		}},
		{"requests-h1-5000rps", func(s *system) []string {
			return []string{"latency", "--addr", s.httpAddr, "--conns", "64",
				"--rate", "5000", "--duration", "2s", "--max", "20000"}
		}},
	}
	for _, s := range live {
		if s.pprofAddr == "" || s.main == nil || !s.main.alive() {
			continue
		}
		for _, l := range loads {
			if ctx.Err() != nil {
				return
			}
			base := filepath.Join(h.cfg.profileDir, s.name+"-"+l.name)
			if err := h.profileOne(ctx, s, base+".pprof", l.args(s)); err != nil {
				h.logf("profile %s %s: %v", s.name, l.name, err)
				continue
			}
			out, err := runCmd(ctx, time.Minute, nil, "go", "tool", "pprof", "-top",
				"-nodecount=40", h.tlsstackBin, base+".pprof")
			if err != nil {
				h.logf("profile %s %s: %v", s.name, l.name, err)
				continue
			}
			os.WriteFile(base+".txt", out, 0o644)
			h.logf("profile %s %s: %s.txt", s.name, l.name, base)
		}
	}
}

// profileOne records one profile while repeating the client load (at most
// 50 times) until the profile is in.
func (h *harness) profileOne(ctx context.Context, s *system, out string, load []string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprofAddr,
		profileSeconds)
	done := make(chan error, 1)
	go func() {
		_, err := runCmd(ctx, time.Duration(profileSeconds+60)*time.Second, nil,
			h.inServer(h.self, "client", "fetch", "--url", url, "--out", out,
				"--timeout", strconv.Itoa(profileSeconds+30)+"s")...)
		done <- err
	}()
	for range 50 {
		select {
		case err := <-done:
			return err
		default:
		}
		if _, err := h.client(ctx, 2*time.Minute, load[0], load[1:]...); err != nil {
			h.logf("profile load %s: %v", load[0], err)
			time.Sleep(200 * time.Millisecond)
		}
	}
	return <-done
}
