package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// procUsage is what a process tree used so far.
type procUsage struct {
	cpu time.Duration // user plus system, all threads, live processes
	rss int64         // resident bytes, summed over the tree
}

// treeUsage sums CPU time and RSS over pid and all its descendants.
func treeUsage(pid int) (procUsage, error) {
	var u procUsage
	pids := descendants(pid)
	if len(pids) == 0 {
		return u, fmt.Errorf("process %d is gone", pid)
	}
	for _, p := range pids {
		ticks, err := cpuTicks(p)
		if err != nil {
			continue // exited between the listing and now
		}
		u.cpu += time.Duration(ticks) * time.Second / clockTicks
		u.rss += rssBytes(p)
	}
	return u, nil
}

// descendants lists pid and every process below it.
func descendants(pid int) []int {
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		return nil
	}
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, err := ppid(p); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// statFields returns the fields of /proc/PID/stat after the command name,
// which may itself hold spaces and parentheses.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

func ppid(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: %v", pid, err)
	}
	return strconv.Atoi(f[1])
}

// cpuTicks is utime+stime of pid: fields 14 and 15 of stat, which are 12
// and 13 after the command name.
func cpuTicks(pid int) (int64, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %v", pid, err)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times", pid)
	}
	return u + s, nil
}

func rssBytes(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(
				strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// daemon is a long-running process the harness started: a server, or a
// helper such as a backend. Its output goes to a log file.
type daemon struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // set before done closes
}

// startDaemon runs argv with its output in logPath.
func startDaemon(name string, argv []string, logPath string) (*daemon, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a Ctrl-C at the terminal reaches the
	// harness first, which then stops its servers in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	return d, nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

func (d *daemon) alive() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM, and SIGKILL to the group if the process is still
// there after grace.
func (d *daemon) stop(grace time.Duration) {
	if !d.alive() {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(grace):
		syscall.Kill(-d.pid(), syscall.SIGKILL)
		<-d.done
	}
}

// tail returns the last n lines of the daemon's log, for error messages.
func (d *daemon) tail(n int) string {
	return tailFile(d.log, n)
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runCmd runs argv to completion within timeout and returns its standard
// output; the error carries the end of its standard error.
func runCmd(ctx context.Context, timeout time.Duration, stdin io.Reader,
	argv ...string) ([]byte, error) {
	out, _, err := runCmdCPU(ctx, timeout, stdin, argv...)
	return out, err
}

// runCmdCPU is runCmd that also returns how busy the command kept the
// CPU: its user plus system time over its wall time, in cores.
func runCmdCPU(ctx context.Context, timeout time.Duration, stdin io.Reader,
	argv ...string) ([]byte, float64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	var busy float64
	if ps := cmd.ProcessState; ps != nil {
		busy = (ps.UserTime() + ps.SystemTime()).Seconds() / time.Since(start).Seconds()
	}
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("timed out after %v", timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 600 {
			msg = "..." + msg[len(msg)-600:]
		}
		return stdout.Bytes(), busy, fmt.Errorf("%s: %w: %s", filepath.Base(argv[0]), err, msg)
	}
	return stdout.Bytes(), busy, nil
}

// cpusBusy returns the time the given CPUs spent on anything but idle and
// iowait since boot, from /proc/stat; -1 when it cannot be read.
func cpusBusy(cpus []int) time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	var total int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(f[0], "cpu"))
		if err != nil || !slices.Contains(cpus, n) {
			continue
		}
		// user nice system idle iowait irq softirq steal
		for i, v := range f[1:9] {
			if i == 3 || i == 4 {
				continue
			}
			t, _ := strconv.ParseInt(v, 10, 64)
			total += t
		}
	}
	return time.Duration(total) * time.Second / clockTicks
}
