package main

import (
	"crypto/tls"
	"io"
	"syscall"
	"testing"
	"time"
)

// TestGracefulStop sends SIGTERM while a connection is open: the server
// stops accepting, lets the open connection finish, exits 0 once it has,
// and removes the TUN device it created.
func TestGracefulStop(t *testing.T) {
	requireNetns(t)
	topology(t, "e2g")
	srv := startServer(t, "e2g-srv", "--addr", "198.19.0.1/24", "--responder", "echo",
		"--grace", "20s")

	c, err := dialIn("e2g-cli", "tcp", "198.19.0.1:443")
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	echoOnce := func(msg string) {
		t.Helper()
		if _, err := tc.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(tc, got); err != nil || string(got) != msg {
			t.Fatalf("echo: got %q, %v; want %q", got, err, msg)
		}
	}
	echoOnce("before")

	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.waitLog(t, "msg=\"stopping")
	echoOnce("during the grace period")
	if c2, err := dialIn("e2g-cli", "tcp", "198.19.0.1:443"); err == nil {
		c2.SetDeadline(time.Now().Add(5 * time.Second))
		_, err := tls.Client(c2, &tls.Config{InsecureSkipVerify: true}).Write([]byte("x"))
		c2.Close()
		if err == nil {
			t.Error("a new connection was served after SIGTERM")
		}
	}
	select {
	case err := <-srv.done:
		t.Fatalf("server exited (%v) while a connection was open", err)
	case <-time.After(200 * time.Millisecond):
	}

	tc.CloseWrite()
	io.Copy(io.Discard, tc)
	select {
	case err := <-srv.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, srv.log)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("server still running 10s after its last connection closed\n%s", srv.log)
	}
	if _, err := runInErr("e2g-srv", "ip", "link", "show", "tls0"); err == nil {
		t.Error("tls0 still exists after the server stopped")
	}
}
