package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// TestIdleTimeout checks that connections on which nothing moves are
// closed after --idle-timeout, whatever the responder: a quiet echo
// client, and an HTTP client that stops reading a long download.
func TestIdleTimeout(t *testing.T) {
	echoSrv := startServer(t, "", "--kernel", "127.0.0.1:0", "--responder", "echo",
		"--idle-timeout", "1s")
	c := dialTLS(t, echoSrv.addr(t))
	fmt.Fprint(c, "hi")
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(buf)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("quiet echo connection still open after 10s with --idle-timeout 1s")
	}
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("closed after %s, before the idle timeout", d)
	}

	httpSrv := startServer(t, "", "--kernel", "127.0.0.1:0", "--idle-timeout", "1s")
	c = dialTLS(t, httpSrv.addr(t))
	fmt.Fprint(c, "GET /bytes/1099511627776 HTTP/1.1\r\nHost: x\r\n\r\n")
	c.Read(make([]byte, 100))
	time.Sleep(3 * time.Second) // stop reading: the server's writes stall
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("stalled download still flowing after 20s (%d bytes read)", n)
	}
	if n > 256<<20 {
		t.Errorf("read %d bytes after the stall: the server kept sending", n)
	}
}

// TestMaxConns refuses connections beyond --max-conns and takes new ones
// once a slot is free.
func TestMaxConns(t *testing.T) {
	srv := startServer(t, "", "--kernel", "127.0.0.1:0", "--responder", "echo",
		"--max-conns", "2")
	addr := srv.addr(t)
	a, b := dialTLS(t, addr), dialTLS(t, addr)
	for _, c := range []*tls.Conn{a, b} {
		echoCheck(t, c, "ok")
	}
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	over := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	over.SetDeadline(time.Now().Add(5 * time.Second))
	if err := over.Handshake(); err == nil {
		t.Error("third connection completed a handshake with --max-conns 2")
	}
	over.Close()
	srv.waitLog(t, "connection limit reached")

	a.Close()
	time.Sleep(200 * time.Millisecond)
	echoCheck(t, dialTLS(t, addr), "again")
	echoCheck(t, b, "still")
}

func dialTLS(t *testing.T, addr string) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func echoCheck(t *testing.T, c *tls.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, msg)
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo %q: got %q, %v", msg, buf, err)
	}
}
