package affinity

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CPU is one logical CPU.
type CPU struct {
	// ID is the kernel's CPU number, as sched_setaffinity takes it.
	ID int
	// Core identifies the physical core within the package; hyperthread
	// siblings share it.
	Core int
	// Package is the physical package (socket).
	Package int
	// Node is the NUMA node, 0 where the kernel has none.
	Node int
}

// Topology is the set of CPUs the machine has online.
type Topology struct {
	CPUs []CPU // sorted by ID
}

// sysCPU is where the kernel describes its CPUs; a variable for tests.
var sysCPU = "/sys/devices/system/cpu"

// ReadTopology reads the online CPUs and how they group into cores,
// packages and nodes.
func ReadTopology() (Topology, error) {
	online, err := os.ReadFile(filepath.Join(sysCPU, "online"))
	if err != nil {
		return Topology{}, fmt.Errorf("affinity: read online CPUs: %w", err)
	}
	ids, err := ParseList(strings.TrimSpace(string(online)))
	if err != nil {
		return Topology{}, fmt.Errorf("affinity: %s/online: %w", sysCPU, err)
	}
	var t Topology
	for _, id := range ids {
		dir := filepath.Join(sysCPU, "cpu"+strconv.Itoa(id))
		c := CPU{ID: id, Core: id}
		if v, err := readInt(filepath.Join(dir, "topology", "core_id")); err == nil {
			c.Core = v
		}
		if v, err := readInt(filepath.Join(dir, "topology", "physical_package_id")); err == nil {
			c.Package = v
		}
		if nodes, _ := filepath.Glob(filepath.Join(dir, "node*")); len(nodes) > 0 {
			c.Node, _ = strconv.Atoi(strings.TrimPrefix(filepath.Base(nodes[0]), "node"))
		}
		t.CPUs = append(t.CPUs, c)
	}
	return t, nil
}

func readInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// ParseList parses a kernel CPU list such as "0-3,8,10-11".
func ParseList(s string) ([]int, error) {
	var ids []int
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		for i := a; i <= b; i++ {
			ids = append(ids, i)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

// Allowed returns the CPUs the calling thread may run on, in order.
func Allowed() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("affinity: sched_getaffinity: %w", err)
	}
	var ids []int
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			ids = append(ids, i)
		}
	}
	return ids, nil
}

// Spread picks a CPU for each of n queues from allowed, one physical
// core each before any core gets a second (hyperthread sibling) queue,
// and wraps around when there are more queues than CPUs. Empty allowed
// means every CPU of t.
func (t Topology) Spread(n int, allowed []int) []int {
	ok := map[int]bool{}
	for _, id := range allowed {
		ok[id] = true
	}
	type key struct{ pkg, core int }
	seen := map[key]int{}
	var order []CPU
	for _, c := range t.CPUs {
		if len(allowed) == 0 || ok[c.ID] {
			order = append(order, c)
		}
	}
	// Rank each CPU by how many siblings on its core come before it, so
	// that first threads of all cores come first.
	rank := make(map[int]int, len(order))
	for _, c := range order {
		k := key{c.Package, c.Core}
		rank[c.ID] = seen[k]
		seen[k]++
	}
	sort.SliceStable(order, func(i, j int) bool { return rank[order[i].ID] < rank[order[j].ID] })

	if len(order) == 0 {
		return nil
	}
	cpus := make([]int, n)
	for i := range cpus {
		cpus[i] = order[i%len(order)].ID
	}
	return cpus
}

// ErrNoCPU means a CPU number is outside what the kernel supports.
var ErrNoCPU = errors.New("no such CPU")

// PinThread binds the calling OS thread to cpu. The caller must have
// locked its goroutine to the thread (runtime.LockOSThread), or the
// binding lands on whichever goroutine runs on the thread next.
func PinThread(cpu int) error {
	var set unix.CPUSet
	if cpu < 0 || cpu >= len(set)*64 {
		return fmt.Errorf("affinity: pin to CPU %d: %w", cpu, ErrNoCPU)
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("affinity: pin to CPU %d: %w", cpu, err)
	}
	return nil
}
