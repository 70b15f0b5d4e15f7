package affinity

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"testing"
)

func TestParseList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		bad  bool
	}{
		{"", nil, false},
		{"0", []int{0}, false},
		{"0-3", []int{0, 1, 2, 3}, false},
		{"8,0-1,10-11", []int{0, 1, 8, 10, 11}, false},
		{"3-1", nil, true},
		{"x", nil, true},
		{"1-", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseList(tt.in)
		if (err != nil) != tt.bad || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseList(%q) = %v, %v; want %v, bad %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

// fakeSys writes a /sys/devices/system/cpu tree: cores[i] is the core of
// CPU i, all in package 0.
func fakeSys(t *testing.T, online string, cores []int) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "online"), []byte(online+"\n"), 0o644)
	for i, core := range cores {
		top := filepath.Join(dir, "cpu"+strconv.Itoa(i), "topology")
		os.MkdirAll(top, 0o755)
		os.WriteFile(filepath.Join(top, "core_id"), []byte(strconv.Itoa(core)+"\n"), 0o644)
		os.WriteFile(filepath.Join(top, "physical_package_id"), []byte("0\n"), 0o644)
		os.MkdirAll(filepath.Join(dir, "cpu"+strconv.Itoa(i), "node0"), 0o755)
	}
	old := sysCPU
	sysCPU = dir
	t.Cleanup(func() { sysCPU = old })
}

func TestSpreadPrefersDistinctCores(t *testing.T) {
	// Four cores with two threads each, numbered as on most Intel
	// machines: CPU i and i+4 are siblings.
	fakeSys(t, "0-7", []int{0, 1, 2, 3, 0, 1, 2, 3})
	topo, err := ReadTopology()
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.CPUs) != 8 || topo.CPUs[5].Core != 1 {
		t.Fatalf("topology %+v", topo)
	}
	tests := []struct {
		n       int
		allowed []int
		want    []int
	}{
		{4, nil, []int{0, 1, 2, 3}},
		{6, nil, []int{0, 1, 2, 3, 4, 5}},
		{10, nil, []int{0, 1, 2, 3, 4, 5, 6, 7, 0, 1}},
		{3, []int{0, 4, 5}, []int{0, 5, 4}},
	}
	for _, tt := range tests {
		if got := topo.Spread(tt.n, tt.allowed); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Spread(%d, %v) = %v, want %v", tt.n, tt.allowed, got, tt.want)
		}
	}
}

func TestShardIsEvenAndInRange(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 64} {
		counts := make([]int, max(n, 1))
		for i := uint32(0); i < 1<<16; i++ {
			s := Shard(i*2654435761, n)
			if s < 0 || s >= max(n, 1) {
				t.Fatalf("Shard(_, %d) = %d", n, s)
			}
			counts[s]++
		}
		for s, c := range counts {
			if want := (1 << 16) / max(n, 1); c < want*9/10 || c > want*11/10 {
				t.Errorf("n=%d: shard %d got %d of %d", n, s, c, 1<<16)
			}
		}
	}
}

func TestFlowHashIsSymmetric(t *testing.T) {
	a, b := []byte{198, 18, 0, 2}, []byte{198, 19, 0, 1}
	if FlowHash(a, b, 51000, 443) != FlowHash(b, a, 443, 51000) {
		t.Fatal("the two directions of a flow hash differently")
	}
	if FlowHash(a, b, 51000, 443) == FlowHash(a, b, 51001, 443) {
		t.Fatal("neighbouring ports collide")
	}
}

func TestPinMovesTheThread(t *testing.T) {
	cpus, err := Allowed()
	if err != nil {
		t.Fatal(err)
	}
	if len(cpus) == 0 {
		t.Fatal("no allowed CPU")
	}
	target := cpus[len(cpus)-1]
	unpin, err := Pin(target)
	if err != nil {
		t.Fatal(err)
	}
	runtime.Gosched()
	cur, err := Current()
	if err != nil {
		t.Fatal(err)
	}
	if cur != target {
		t.Errorf("running on CPU %d after Pin(%d)", cur, target)
	}
	now, _ := Allowed()
	if !reflect.DeepEqual(now, []int{target}) {
		t.Errorf("allowed %v after Pin(%d)", now, target)
	}
	unpin()

	if err := PinThread(1 << 20); err == nil {
		t.Error("PinThread accepted CPU 1<<20")
	}
}

func TestReadTopologyOfThisMachine(t *testing.T) {
	topo, err := ReadTopology()
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.CPUs) != runtime.NumCPU() && len(topo.CPUs) < runtime.NumCPU() {
		t.Errorf("%d CPUs online, runtime sees %d", len(topo.CPUs), runtime.NumCPU())
	}
}
