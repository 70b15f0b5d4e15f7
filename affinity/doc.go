// Package affinity knows the machine's CPU topology, pins OS threads to
// CPUs and maps flows and queues onto shards, so that a TUN queue, the
// goroutine reading it and the connections it carries can share one core.
//
// It reads the topology from /sys and uses sched_setaffinity; it depends on
// golang.org/x/sys/unix only. Pinning applies to an OS thread, so callers
// lock their goroutine to its thread first (Pin does that itself). The Go
// scheduler still moves other goroutines between threads freely: pinning
// a reader keeps its system calls and their softirq work on one core, not
// the goroutines it wakes.
package affinity
