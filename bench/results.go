package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
)

// results collects the runs of every row and system as they come.
type results struct {
	mu       sync.Mutex
	rows     []row             // in the order first seen
	groups   map[string]string // row name -> group
	runs     map[[2]string][]float64
	notes    map[[2]string]string
	sysNotes map[string]string
	// tls records what a system negotiated, by "system" or "system test".
	tls map[string]string
	// clientBound counts the runs of a row and system in which the client
	// kept its CPU at least clientBoundAt busy.
	clientBound map[[2]string]int
	// other is, per system and measured run, how much of a core the
	// server CPUs were busy beyond what the server's processes were
	// charged.
	other map[string][]float64
}

// clientBoundAt is the client CPU use, in cores, above which a run is
// taken to measure the client as much as the server.
const clientBoundAt = 0.9

func newResults() *results {
	return &results{
		groups:   map[string]string{},
		runs:     map[[2]string][]float64{},
		notes:    map[[2]string]string{},
		sysNotes: map[string]string{},
		tls:      map[string]string{},

		clientBound: map[[2]string]int{},
		other:       map[string][]float64{},
	}
}

func (r *results) addRow(rw row, group string) {
	if _, ok := r.groups[rw.name]; !ok {
		r.rows = append(r.rows, rw)
		r.groups[rw.name] = group
	}
}

func (r *results) add(rw row, group, system string, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addRow(rw, group)
	k := [2]string{rw.name, system}
	r.runs[k] = append(r.runs[k], v)
}

// client records how busy the client was in one run of rw on system.
func (r *results) client(rw row, system string, busy float64) {
	if busy < clientBoundAt {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clientBound[[2]string{rw.name, system}]++
}

func (r *results) otherLoad(system string, cores float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.other[system] = append(r.other[system], cores)
}

// otherLoadSummary describes, per system, the busy time on the server CPUs
// during the measured bulk and handshake runs that no server process was
// charged with.
func (r *results) otherLoadSummary(systems []string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for _, sys := range systems {
		if v := r.other[sys]; len(v) > 0 {
			med, _, _ := stats(v)
			parts = append(parts, fmt.Sprintf("%s %.0f%%", sys, med*100))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "server CPU busy time that was not charged to the server's processes, median " +
		"share of a core during the bulk and handshake runs: " + strings.Join(parts, ", ") +
		"; mostly softirq network work done for the server while it was not running " +
		"(the -cpu rows leave it out), plus other processes on the machine and steal"
}

func (r *results) note(rw row, group, system, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addRow(rw, group)
	r.notes[[2]string{rw.name, system}] = msg
}

func (r *results) systemNote(system, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sysNotes[system] = msg
}

func (r *results) negotiated(key string, res clientResult) {
	if res.Version == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tls[key] = strings.TrimSpace(res.Version + " " + res.Cipher + " " + res.Group)
}

// series is one row on one system: the JSON shape of a scenario result.
type series struct {
	Name   string    `json:"name"`
	Group  string    `json:"group"`
	System string    `json:"system"`
	Unit   string    `json:"unit"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
	// HigherIsBetter says which way the row improves.
	HigherIsBetter bool `json:"higher_is_better"`
	// Note says why a row has no runs, or what to know about them.
	Note string `json:"note,omitempty"`
}

// all returns every row and system that has runs or a note.
func (r *results) all(systems []string) []series {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []series
	for _, rw := range r.rows {
		for _, sys := range systems {
			k := [2]string{rw.name, sys}
			runs, note := r.runs[k], r.notes[k]
			if len(runs) == 0 && note == "" {
				continue
			}
			s := series{Name: rw.name, Group: r.groups[rw.name], System: sys, Unit: rw.unit,
				Runs: slices.Clone(runs), HigherIsBetter: rw.higher, Note: note}
			if s.Runs == nil {
				s.Runs = []float64{}
			}
			s.Median, s.Min, s.Max = stats(runs)
			if n := r.clientBound[k]; n > 0 && s.Note == "" {
				s.Note = fmt.Sprintf("client-bound: the client CPU was at least %.0f%% "+
					"busy in %d of %d runs", clientBoundAt*100, n, len(runs))
			}
			out = append(out, s)
		}
	}
	return out
}

// stats returns the median, min and max of vs; NaN-free zeros when empty.
func stats(vs []float64) (med, lo, hi float64) {
	if len(vs) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(vs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

// fmtNum prints a measurement with about three significant digits.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 100_000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	case a >= 0.01:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2g", v)
}
