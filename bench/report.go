package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// reportFile is the JSON written to results/latest.json.
type reportFile struct {
	Generated string  `json:"generated"`
	Mode      string  `json:"mode"`
	Seconds   float64 `json:"seconds"`
	// Complete is true for a full run of every system and scenario.
	Complete   bool              `json:"complete"`
	Machine    machineInfo       `json:"machine"`
	Setup      setupInfo         `json:"setup"`
	Negotiated map[string]string `json:"negotiated"`
	Scenarios  []series          `json:"scenarios"`
}

type setupInfo struct {
	ServerCPUs string       `json:"server_cpus"`
	ClientCPUs string       `json:"client_cpus"`
	Runs       int          `json:"runs"`
	Systems    []systemInfo `json:"systems"`
	Notes      []string     `json:"notes"`
}

type systemInfo struct {
	Name  string `json:"name"`
	About string `json:"about"`
	Note  string `json:"note,omitempty"`
}

// referenceSystems are the crypto columns, which are not servers.
var referenceSystems = []string{"go", "openssl"}

func (h *harness) setupNotes() []string {
	return []string{
		fmt.Sprintf("servers pinned to CPU %s, clients to CPU %s (taskset); each side's "+
			"veth receive work steered to its own CPUs with RPS",
			h.cfg.serverCPUs, h.cfg.clientCPUs),
		fmt.Sprintf("topology: scripts/netns/up.sh --prefix %s; clients in %s, servers in %s",
			h.cfg.prefix, h.cliNS(), h.srvNS()),
		"one client program (this harness, Go crypto/tls) drives every system; the rps rows " +
			"use h2load; plain-tcp uses iperf3",
		"ECDSA P-256 certificate made per run; TLS 1.3 rows offer X25519 only (the " +
			"-mlkem row X25519MLKEM768 only); TLS 1.2 rows ECDHE-ECDSA-AES128-GCM-SHA256",
		"bulk: each connection moves a power-of-two size picked from a warm-up so a run " +
			"lasts about " + h.plan.bulkTarget.String() + "; server CPU is the user+system " +
			"time charged to the server's process tree, which includes kernel work done " +
			"in its system calls but not softirq work done while it was not running " +
			"(see the last note)",
		"handshake rows are closed-loop with 64 workers on the client CPU; a full " +
			"handshake costs the client about as much as the server (it verifies the " +
			"signature), so read the -cpu rows for server capacity",
		fmt.Sprintf("latency: %.0f requests/s over %d connections for %v, measured from "+
			"each request's scheduled send time", h.plan.latRate, h.plan.latConns,
			h.plan.latDuration),
		fmt.Sprintf("idle: %d connections on a freshly started server; memory is the "+
			"server's RSS growth divided by the connections opened", h.plan.idleConns),
		"tlsstack runs with --log-level warn (nginx: access_log off); its http responder " +
			"counts POST /upload bodies without hashing them (runs before 2026-12-03 " +
			"10:10 UTC hashed them, which nginx and HAProxy do not)",
	}
}

func (h *harness) report() error {
	systems := slices.Clone(h.cfg.systems)
	cols := append(slices.Clone(systems), referenceSystems...)
	rep := reportFile{
		Generated:  time.Now().UTC().Format(time.RFC3339),
		Mode:       h.cfg.mode,
		Seconds:    time.Since(h.started).Round(time.Second).Seconds(),
		Complete:   h.isComplete(),
		Machine:    describeMachine(h.tlsstackBin, h.tlsstackFrom),
		Negotiated: h.res.tls,
		Scenarios:  h.res.all(cols),
		Setup: setupInfo{ServerCPUs: h.cfg.serverCPUs, ClientCPUs: h.cfg.clientCPUs,
			Runs: h.plan.runs, Notes: h.setupNotes()},
	}
	if s := h.res.otherLoadSummary(systems); s != "" {
		rep.Setup.Notes = append(rep.Setup.Notes, s)
	}
	for _, s := range h.systems {
		rep.Setup.Systems = append(rep.Setup.Systems, systemInfo{Name: s.name,
			About: s.about, Note: h.res.sysNotes[s.name]})
	}

	if err := os.MkdirAll(h.cfg.outDir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	jsonPath := filepath.Join(h.cfg.outDir, "latest.json")
	if err := os.WriteFile(jsonPath, append(js, '\n'), 0o644); err != nil {
		return err
	}
	md := markdownTables(rep, systems)
	if err := os.WriteFile(filepath.Join(h.cfg.outDir, "latest.md"), []byte(md), 0o644); err != nil {
		return err
	}
	pngPath := filepath.Join(h.cfg.outDir, "latest.png")
	if err := writeChart(rep, systems, pngPath); err != nil {
		h.logf("chart: %v", err)
	}

	fmt.Fprintln(h.out)
	fmt.Fprint(h.out, md)
	fmt.Fprintf(h.out, "\nwrote %s, latest.md and latest.png\n", jsonPath)

	if (h.cfg.results && !h.interrupted) || rep.Complete {
		if err := h.writeResultsMD(rep, systems, md, pngPath); err != nil {
			return err
		}
	}
	return nil
}

// isComplete reports whether this was a full run of every default system
// and scenario, to its end.
func (h *harness) isComplete() bool {
	if h.interrupted || h.cfg.mode != "full" || len(h.tests) != len(allTests()) {
		return false
	}
	for _, s := range defaultSystems {
		if !slices.Contains(h.cfg.systems, s) {
			return false
		}
	}
	return true
}

// markdownTables renders the servers' table, the reference limits and the
// notes.
func markdownTables(rep reportFile, systems []string) string {
	byKey := map[[2]string]series{}
	var rowNames []string
	for _, s := range rep.Scenarios {
		if !slices.Contains(rowNames, s.Name) {
			rowNames = append(rowNames, s.Name)
		}
		byKey[[2]string{s.Name, s.System}] = s
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "Medians of %d run(s), (min–max); ↑ higher is better, ↓ lower. "+
		"Ratios are tlsstack-tun's median over the other's.\n\n", rep.Setup.Runs)
	hasTun := slices.Contains(systems, "tlsstack-tun")
	var ratioCols []string
	for _, other := range []string{"nginx", "tlsstack-kernel"} {
		if hasTun && slices.Contains(systems, other) {
			ratioCols = append(ratioCols, other)
		}
	}
	head := append([]string{"scenario", "unit"}, systems...)
	for _, o := range ratioCols {
		head = append(head, "tun / "+strings.TrimPrefix(o, "tlsstack-"))
	}
	writeRow(&b, head)
	writeRow(&b, dashes(len(head)))
	var notes []string
	clientBound := false
	cell := func(name, sys string) string {
		s, ok := byKey[[2]string{name, sys}]
		switch {
		case !ok:
			return ""
		case len(s.Runs) == 0 && strings.HasPrefix(s.Note, "n/a"):
			return "n/a"
		case len(s.Runs) == 0:
			notes = append(notes, fmt.Sprintf("%s on %s: %s", name, sys, s.Note))
			return fmt.Sprintf("failed [%d]", len(notes))
		}
		mark := ""
		if strings.HasPrefix(s.Note, "client-bound") {
			mark, clientBound = " †", true
		}
		if len(s.Runs) == 1 {
			return fmtNum(s.Median) + mark
		}
		return fmt.Sprintf("%s (%s–%s)%s", fmtNum(s.Median), fmtNum(s.Min), fmtNum(s.Max),
			mark)
	}
	for _, name := range rowNames {
		var unit string
		var group string
		var higher bool
		for _, s := range rep.Scenarios {
			if s.Name == name {
				unit, group, higher = s.Unit, s.Group, s.HigherIsBetter
				break
			}
		}
		if group == "crypto" {
			continue
		}
		arrow := " ↓"
		if higher {
			arrow = " ↑"
		}
		line := []string{name, unit + arrow}
		for _, sys := range systems {
			line = append(line, cell(name, sys))
		}
		for _, o := range ratioCols {
			line = append(line, ratio(byKey[[2]string{name, "tlsstack-tun"}],
				byKey[[2]string{name, o}]))
		}
		writeRow(&b, line)
	}

	var limits [][]string
	for _, name := range rowNames {
		var unit string
		isCrypto := false
		for _, s := range rep.Scenarios {
			if s.Name == name && s.Group == "crypto" {
				unit, isCrypto = s.Unit, true
				break
			}
		}
		if isCrypto {
			limits = append(limits, []string{name, unit + " ↑", cell(name, "go"),
				cell(name, "openssl")})
		}
	}
	if len(limits) > 0 {
		fmt.Fprintf(&b, "\nSingle-core limits (one server CPU; AEAD rows on 16 KiB records):\n\n")
		writeRow(&b, []string{"limit", "unit", "Go", "OpenSSL"})
		writeRow(&b, dashes(4))
		for _, l := range limits {
			writeRow(&b, l)
		}
	}
	if clientBound {
		fmt.Fprintf(&b, "\n† client-bound: in at least one run the client's CPU was %.0f%% "+
			"busy or more, so the number says as much about the client as the server.\n",
			clientBoundAt*100)
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "[%d] %s\n", i+1, n)
		}
	}
	return b.String()
}

func ratio(tun, other series) string {
	if len(tun.Runs) == 0 || len(other.Runs) == 0 || other.Median == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", tun.Median/other.Median)
}

func writeRow(b *bytes.Buffer, cells []string) {
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

func dashes(n int) []string {
	d := make([]string, n)
	for i := range d {
		d[i] = "---"
	}
	return d
}

// Markers around the generated part of RESULTS.md; text outside them (the
// analysis) is kept when the file is rewritten.
const (
	resultsBegin = "<!-- bench:begin (generated by go run ./bench; edits here are lost) -->"
	resultsEnd   = "<!-- bench:end -->"
)

func (h *harness) writeResultsMD(rep reportFile, systems []string, md, png string) error {
	dir := filepath.Join(h.repo, "bench")
	chart := filepath.Join(dir, "results", "full.png")
	if b, err := os.ReadFile(png); err == nil {
		os.MkdirAll(filepath.Dir(chart), 0o755)
		if err := os.WriteFile(chart, b, 0o644); err != nil {
			return err
		}
	}
	if b, err := json.MarshalIndent(rep, "", "  "); err == nil {
		os.WriteFile(filepath.Join(dir, "results", "full.json"), append(b, '\n'), 0o644)
	}

	var g bytes.Buffer
	g.WriteString(resultsBegin + "\n\n")
	fmt.Fprintf(&g, "## Latest run\n\n%s run of %s, %s, %.0f s.\n\n", rep.Mode,
		strings.Join(systems, ", "), rep.Generated, rep.Seconds)
	g.WriteString("### Machine\n\n")
	m := rep.Machine
	for _, kv := range [][2]string{
		{"CPU", fmt.Sprintf("%s, %d cores", m.CPUModel, m.Cores)},
		{"memory", m.Memory}, {"kernel", m.Kernel}, {"Go", m.Go},
		{"OpenSSL", m.OpenSSL}, {"nginx", m.Nginx}, {"HAProxy", m.HAProxy},
		{"iperf3", m.Iperf3}, {"h2load", m.H2load}, {"tlsstack", m.TLSStack},
	} {
		fmt.Fprintf(&g, "- %s: %s\n", kv[0], kv[1])
	}
	g.WriteString("\n### Setup\n\n")
	for _, s := range rep.Setup.Systems {
		fmt.Fprintf(&g, "- `%s`: %s", s.Name, s.About)
		if s.Note != "" {
			fmt.Fprintf(&g, " (%s)", s.Note)
		}
		g.WriteString("\n")
	}
	for _, n := range rep.Setup.Notes {
		fmt.Fprintf(&g, "- %s\n", n)
	}
	g.WriteString("\n### Results\n\n")
	g.WriteString(md)
	g.WriteString("\n![main scenarios](results/full.png)\n\n")
	if len(rep.Negotiated) > 0 {
		g.WriteString("<details><summary>What each system negotiated</summary>\n\n")
		keys := make([]string, 0, len(rep.Negotiated))
		for k := range rep.Negotiated {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&g, "- %s: %s\n", k, rep.Negotiated[k])
		}
		g.WriteString("\n</details>\n\n")
	}
	g.WriteString(resultsEnd + "\n")

	path := filepath.Join(dir, "RESULTS.md")
	old, err := os.ReadFile(path)
	var out string
	if err == nil && strings.Contains(string(old), resultsBegin) &&
		strings.Contains(string(old), resultsEnd) {
		s := string(old)
		i := strings.Index(s, resultsBegin)
		j := strings.Index(s, resultsEnd) + len(resultsEnd) + 1
		out = s[:i] + g.String() + s[min(j, len(s)):]
	} else {
		out = "# tlsstack benchmark results\n\nWritten by `go run ./bench` (full mode); " +
			"see bench/README.md for how to run it.\n\n" + g.String()
	}
	h.logf("wrote %s", path)
	return os.WriteFile(path, []byte(out), 0o644)
}
