package main

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// guardListener enforces two limits below TLS, on the raw connections of
// any listener: at most max open at once (0 means no limit), and each one
// closed after idle without a byte moving either way. Being below TLS, the
// idle limit catches every way of stalling: a peer that sends nothing, one
// that stops mid-body, and one that stops reading a response.
type guardListener struct {
	net.Listener
	max  int64
	idle time.Duration
	log  *slog.Logger

	open     atomic.Int64
	refused  atomic.Int64
	sometime rate.Sometimes
}

func newGuardListener(l net.Listener, max int, idle time.Duration,
	log *slog.Logger) *guardListener {
	return &guardListener{Listener: l, max: int64(max), idle: idle, log: log,
		sometime: rate.Sometimes{First: 5, Interval: 10 * time.Second}}
}

func (g *guardListener) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if g.max > 0 && g.open.Load() >= g.max {
			c.Close()
			n := g.refused.Add(1)
			g.sometime.Do(func() {
				g.log.Warn("connection limit reached: refusing connections", "limit", g.max,
					"refused", n, "peer", c.RemoteAddr())
			})
			continue
		}
		g.open.Add(1)
		return newIdleConn(c, g.idle, func() { g.open.Add(-1) }), nil
	}
}

// idleConn closes itself once no byte has moved for idle. Reads and writes
// only store a timestamp; a timer per connection checks it.
type idleConn struct {
	net.Conn
	idle    time.Duration
	last    atomic.Int64 // UnixNano of the last read or write that moved bytes
	timer   *time.Timer
	once    sync.Once
	release func()
}

func newIdleConn(c net.Conn, idle time.Duration, release func()) *idleConn {
	ic := &idleConn{Conn: c, idle: idle, release: release}
	ic.last.Store(time.Now().UnixNano())
	ic.timer = time.AfterFunc(idle, ic.check)
	return ic
}

func (c *idleConn) check() {
	quiet := time.Duration(time.Now().UnixNano() - c.last.Load())
	if quiet >= c.idle {
		c.Close()
		return
	}
	c.timer.Reset(c.idle - quiet)
}

func (c *idleConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *idleConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	return n, err
}

func (c *idleConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.timer.Stop()
		c.release()
	})
	return err
}

// CloseWrite passes a half-close down when the connection supports it.
func (c *idleConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// clientErrorLog logs failed handshakes without letting a flood of bad
// peers flood the log: the first few, then one per interval, each with the
// running total. At debug level every one is logged.
type clientErrorLog struct {
	log      *slog.Logger
	total    atomic.Int64
	sometime rate.Sometimes
}

func newClientErrorLog(log *slog.Logger) *clientErrorLog {
	return &clientErrorLog{log: log, sometime: rate.Sometimes{First: 20, Interval: time.Second}}
}

func (l *clientErrorLog) report(err error, remote net.Addr) {
	n := l.total.Add(1)
	if errors.Is(err, io.EOF) {
		// A TCP probe (a health check, a port scan) that sent nothing:
		// not worth an operator's attention.
		l.log.Debug("tls client error", "peer", remote, "err", err, "total", n)
		return
	}
	logged := false
	l.sometime.Do(func() {
		logged = true
		l.log.Info("tls client error", "peer", remote, "err", err, "total", n)
	})
	if !logged {
		l.log.Debug("tls client error", "peer", remote, "err", err, "total", n)
	}
}
