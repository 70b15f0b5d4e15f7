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
	self := func(args ...string) []string { return append([]string{h.self, "client"}, args...) }
	h2load := func(s *system, proto ...string) []string {
		return append(append([]string{"h2load", "--clients", "64",
			"--max-concurrent-streams", "1", "--duration", "3"}, proto...),
			"https://"+s.httpAddr+"/bytes/1024")
	}
	loads := []struct {
		name string
		argv func(s *system) []string
	}{
		{"bulk-download-1conn", func(s *system) []string {
			return self("bulk", "--addr", s.bulkAddr, "--bytes", strconv.Itoa(256<<20))
		}},
		{"bulk-upload-1conn", func(s *system) []string {
			return self("bulk", "--addr", s.bulkAddr, "--upload", "--bytes",
				strconv.Itoa(256<<20))
		}},
		{"handshake-full-tls13", func(s *system) []string {
			return self("handshake", "--addr", s.httpAddr, "--workers", "64",
				"--duration", "2s", "--max", "200000")
		}},
		{"rps-h1-1k-64conn", func(s *system) []string { return h2load(s, "--h1") }},
		{"rps-h2-1k-64conn", func(s *system) []string { return h2load(s) }},
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
			if err := h.profileOne(ctx, s, base+".pprof", l.argv(s)); err != nil {
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

// profileOne records one profile while repeating the load, run in the
// client namespace (at most 50 times), until the profile is in.
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
		if _, err := runCmd(ctx, 2*time.Minute, nil, h.inClient(load...)...); err != nil {
			h.logf("profile load: %v", firstLine(err.Error()))
			time.Sleep(200 * time.Millisecond)
		}
	}
	return <-done
}
