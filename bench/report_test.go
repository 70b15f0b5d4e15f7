package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sampleReport() (reportFile, []string) {
	r := newResults()
	bulk := row{"bulk-download-1conn", "Gbit/s", true}
	lat := row{"latency-1k-p99", "ms", false}
	mlkem := row{"handshake-full-tls13-mlkem", "handshakes/s", true}
	aes := row{"crypto-aes128gcm-seal-16k", "Gbit/s", true}
	for _, v := range []float64{1, 3, 2} {
		r.add(bulk, "bulk", "tlsstack-tun", v)
		r.add(bulk, "bulk", "nginx", 2*v)
		r.add(lat, "latency", "tlsstack-tun", v)
		r.add(lat, "latency", "tlsstack-kernel", v/2)
	}
	r.note(bulk, "bulk", "tlsstack-kernel", "bulk: 1 of 1 connections failed")
	r.client(lat, "tlsstack-kernel", 0.95)
	r.client(lat, "tlsstack-tun", 0.5)
	r.add(mlkem, "handshake", "tlsstack-tun", 900)
	r.note(mlkem, "handshake", "nginx", "n/a: the server does not offer X25519MLKEM768")
	r.add(aes, "crypto", "go", 28)
	r.add(aes, "crypto", "openssl", 30)
	systems := []string{"tlsstack-tun", "tlsstack-kernel", "nginx"}
	rep := reportFile{Mode: "quick", Setup: setupInfo{Runs: 3},
		Scenarios: r.all(append(systems, referenceSystems...))}
	return rep, systems
}

func TestResultsKeepRunsMedianMinMaxPerSystem(t *testing.T) {
	rep, _ := sampleReport()
	var tun series
	for _, s := range rep.Scenarios {
		if s.Name == "bulk-download-1conn" && s.System == "tlsstack-tun" {
			tun = s
		}
		if s.Runs == nil {
			t.Errorf("%s/%s: runs is null, want a list", s.Name, s.System)
		}
	}
	if tun.Median != 2 || tun.Min != 1 || tun.Max != 3 || len(tun.Runs) != 3 ||
		tun.Unit != "Gbit/s" || !tun.HigherIsBetter {
		t.Errorf("got %+v", tun)
	}
}

func TestMarkdownTableHasARowPerScenarioAndRatios(t *testing.T) {
	rep, systems := sampleReport()
	md := markdownTables(rep, systems)
	for _, want := range []string{
		"| scenario | unit | tlsstack-tun | tlsstack-kernel | nginx | tun / nginx | tun / kernel |",
		"| bulk-download-1conn | Gbit/s ↑ | 2.00 (1.00–3.00) | failed [1] | 4.00 (2.00–6.00) | 0.50× |  |",
		"| latency-1k-p99 | ms ↓ | 2.00 (1.00–3.00) | 1.00 (0.500–1.50) † |  |  | 2.00× |",
		"† client-bound:",
		"| handshake-full-tls13-mlkem | handshakes/s ↑ | 900 |  | n/a |  |  |",
		"| crypto-aes128gcm-seal-16k | Gbit/s ↑ | 28.0 | 30.0 |",
		"[1] bulk-download-1conn on tlsstack-kernel: bulk: 1 of 1 connections failed",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
	// Every table line has as many cells as its header.
	for _, table := range strings.Split(md, "\n\n") {
		var cols int
		for _, line := range strings.Split(table, "\n") {
			if !strings.HasPrefix(line, "|") {
				continue
			}
			n := strings.Count(line, "|")
			if cols == 0 {
				cols = n
			} else if n != cols {
				t.Errorf("ragged row %q (%d cells, header %d)", line, n, cols)
			}
		}
	}
}

func TestChartIsAPNG(t *testing.T) {
	rep, systems := sampleReport()
	path := filepath.Join(t.TempDir(), "chart.png")
	if err := writeChart(rep, systems, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
		t.Errorf("not a PNG: %d bytes", len(b))
	}
}

func TestResultsMDKeepsTheTextAroundTheGeneratedPart(t *testing.T) {
	repo := t.TempDir()
	os.MkdirAll(filepath.Join(repo, "bench", "results"), 0o755)
	path := filepath.Join(repo, "bench", "RESULTS.md")
	old := "# Results\n\nAnalysis above.\n\n" + resultsBegin + "\nold table\n" + resultsEnd +
		"\n\nProfile notes below.\n"
	os.WriteFile(path, []byte(old), 0o644)

	rep, systems := sampleReport()
	h := &harness{repo: repo, out: &bytes.Buffer{}}
	if err := h.writeResultsMD(rep, systems, "NEW TABLE\n", "/nonexistent.png"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	for _, want := range []string{"Analysis above.", "NEW TABLE", "Profile notes below."} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "old table") {
		t.Errorf("old generated part kept:\n%s", got)
	}
}
