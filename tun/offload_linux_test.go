package tun

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

func TestNegotiateOffloadFallsBack(t *testing.T) {
	tests := []struct {
		name     string
		accepted map[int]bool // feature sets the fake kernel takes
		want     Offload      // Err compared by errors.Is
		hostGSO  bool
	}{
		{"all", map[int]bool{tunFCsum | tunFTSO4 | tunFTSO6: true},
			Offload{VirtioHeader: true, Checksum: true, TSO4: true, TSO6: true}, true},
		{"checksum only", map[int]bool{tunFCsum: true, 0: true},
			Offload{VirtioHeader: true, Checksum: true, Err: ErrOffloadRefused}, false},
		{"nothing", map[int]bool{0: true},
			Offload{VirtioHeader: true, Err: ErrOffloadRefused}, false},
	}
	defer func(f func(int, int) error) { setOffload = f }(setOffload)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last int
			setOffload = func(fd, features int) error {
				last = features
				if tt.accepted[features] {
					return nil
				}
				return unix.EINVAL
			}
			got := negotiateOffload("tun0", -1)
			if !errors.Is(got.Err, tt.want.Err) || (got.Err == nil) != (tt.want.Err == nil) {
				t.Errorf("Err = %v, want %v", got.Err, tt.want.Err)
			}
			got.Err, tt.want.Err = nil, nil
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if !tt.accepted[last] {
				t.Errorf("left the device with refused features %#x", last)
			}

			e := &Endpoint{virtio: got.VirtioHeader, hostGSO: got.canGSO()}
			want := stack.GVisorGSOSupported
			if tt.hostGSO {
				want = stack.HostGSOSupported
			}
			if e.SupportedGSO() != want {
				t.Errorf("SupportedGSO = %v, want %v", e.SupportedGSO(), want)
			}
		})
	}
}
