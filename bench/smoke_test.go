package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// smokeScenarios is a small cut across every kind of scenario the smoke
// test can run without outside tools (rps needs h2load, crypto openssl).
const smokeScenarios = "bulk-download-1conn,bulk-upload-8conn,handshake-full-tls13," +
	"handshake-resumed-tls12,latency,idle"

// mustMeasure are rows the smoke test requires numbers for on both
// systems; the others may carry a note instead (a failure is reported in
// the results, which is itself well-formed output).
var mustMeasure = []string{"bulk-download-1conn", "handshake-full-tls13", "idle-conns-answered"}

// TestSmokeTinyRunOfTLSStackWritesWellFormedResults builds tlsstack and the
// harness, runs the harness with its smallest sizes against tlsstack-kernel
// and tlsstack-tun in namespaces of its own (prefix bsm), and checks the
// shape of what it wrote. It asserts nothing about speed.
func TestSmokeTinyRunOfTLSStackWritesWellFormedResults(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the bench smoke test needs root (network namespaces, TUN); CI runs as root")
		}
		t.Skip("needs root for network namespaces and a TUN device")
	}
	for _, bin := range []string{"ip", "taskset"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed", bin)
			}
			t.Skipf("%s not installed", bin)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	t.Cleanup(func() {
		exec.Command(filepath.Join(repo, "scripts", "netns", "down.sh"), "--prefix",
			"bsm").Run()
	})

	// BENCH_TLSSTACK names a tlsstack binary to use instead of building one.
	tlsstack := os.Getenv("BENCH_TLSSTACK")
	builds := [][]string{{"go", "build", "-o", filepath.Join(tmp, "bench"), "./bench"}}
	if tlsstack == "" {
		tlsstack = filepath.Join(tmp, "tlsstack")
		builds = append(builds, []string{"go", "build", "-o", tlsstack, "./cmd/tlsstack"})
	}
	for _, b := range builds {
		cmd := exec.CommandContext(ctx, b[0], b[1:]...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(b, " "), err, out)
		}
	}

	out := filepath.Join(tmp, "results")
	cmd := exec.CommandContext(ctx, filepath.Join(tmp, "bench"), "--tiny",
		"--systems", "tlsstack-kernel,tlsstack-tun", "--scenarios", smokeScenarios,
		"--prefix", "bsm", "--tlsstack", tlsstack, "--out", out)
	cmd.Dir = repo
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	start := time.Now()
	err = cmd.Run()
	t.Logf("harness ran %v:\n%s", time.Since(start).Round(time.Millisecond), log.String())
	if err != nil {
		t.Fatalf("harness: %v", err)
	}

	b, err := os.ReadFile(filepath.Join(out, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Mode      string         `json:"mode"`
		Machine   map[string]any `json:"machine"`
		Scenarios []struct {
			Name   string    `json:"name"`
			System string    `json:"system"`
			Unit   string    `json:"unit"`
			Median *float64  `json:"median"`
			Min    *float64  `json:"min"`
			Max    *float64  `json:"max"`
			Runs   []float64 `json:"runs"`
			Note   string    `json:"note"`
		} `json:"scenarios"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("latest.json: %v", err)
	}
	if rep.Mode != "tiny" {
		t.Errorf("mode %q, want tiny", rep.Mode)
	}
	for _, k := range []string{"cpu_model", "cores", "kernel", "go"} {
		if v, ok := rep.Machine[k]; !ok || v == "" || v == 0.0 {
			t.Errorf("machine.%s missing", k)
		}
	}

	measured := map[string]bool{}
	for _, s := range rep.Scenarios {
		if s.Name == "" || s.Unit == "" || s.Median == nil || s.Min == nil || s.Max == nil ||
			s.Runs == nil {
			t.Errorf("incomplete entry %+v", s)
			continue
		}
		if s.System != "tlsstack-kernel" && s.System != "tlsstack-tun" {
			t.Errorf("%s: unexpected system %q", s.Name, s.System)
		}
		if len(s.Runs) == 0 {
			if s.Note == "" {
				t.Errorf("%s on %s: no runs and no note", s.Name, s.System)
			}
			t.Logf("%s on %s: %s", s.Name, s.System, s.Note)
			continue
		}
		if *s.Min > *s.Median || *s.Median > *s.Max || !slices.Contains(s.Runs, *s.Min) {
			t.Errorf("%s on %s: min %v, median %v, max %v of %v", s.Name, s.System,
				*s.Min, *s.Median, *s.Max, s.Runs)
		}
		measured[s.Name+" "+s.System] = true
	}
	for _, name := range mustMeasure {
		for _, sys := range []string{"tlsstack-kernel", "tlsstack-tun"} {
			if !measured[name+" "+sys] {
				t.Errorf("%s on %s: not measured", name, sys)
			}
		}
	}

	md, err := os.ReadFile(filepath.Join(out, "latest.md"))
	header := "| scenario | unit | tlsstack-kernel | tlsstack-tun |"
	if err != nil || !bytes.Contains(md, []byte(header)) {
		t.Errorf("latest.md: %v\n%s", err, md)
	}
	png, err := os.ReadFile(filepath.Join(out, "latest.png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("latest.png: %v", err)
	}
}
