package affinity

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Pin locks the calling goroutine to its OS thread and binds the thread to
// cpu. The returned function restores the thread's previous CPU set and
// unlocks it; call it from the same goroutine.
func Pin(cpu int) (unpin func(), err error) {
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("affinity: sched_getaffinity: %w", err)
	}
	if err := PinThread(cpu); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	return func() {
		if unix.SchedSetaffinity(0, &old) != nil {
			// A thread that keeps a single-CPU mask must not serve
			// other goroutines: leave it locked so the runtime ends
			// it with this goroutine.
			return
		}
		runtime.UnlockOSThread()
	}, nil
}

// Current returns the CPU the calling thread runs on at this moment.
func Current() (int, error) {
	var cpu uint32
	_, _, errno := unix.RawSyscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0)
	if errno != 0 {
		return -1, fmt.Errorf("affinity: getcpu: %w", errno)
	}
	return int(cpu), nil
}
