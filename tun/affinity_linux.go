package tun

// pinQueue pins the calling thread to the CPU of queue i. The thread is
// locked by the caller.
func pinQueue(i int, cpus []int) {}
