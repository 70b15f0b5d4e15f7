package tlslayer

import (
	"bytes"
	"regexp"
	"sync"
	"testing"
)

var nssLine = regexp.MustCompile(`^(CLIENT_RANDOM|CLIENT_HANDSHAKE_TRAFFIC_SECRET|` +
	`SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0) ` +
	`[0-9a-f]{64} [0-9a-f]+\n$`)

func TestKeylogLinesCarryTheirConn(t *testing.T) {
	p := newTestPKI(t)
	for _, version := range []string{VersionTLS12, VersionTLS13} {
		var mu sync.Mutex
		var serverLines, clientLines [][]byte
		var serverConns []*Conn
		ts := startServer(t, ServerOptions{Context: p.context(t, nil),
			OnKeylog: func(line []byte, c *Conn) {
				mu.Lock()
				serverLines = append(serverLines, line)
				serverConns = append(serverConns, c)
				mu.Unlock()
			}})
		c, err := Connect(ClientOptions{Port: portOf(t, ts.addr),
			ContextOptions: ContextOptions{CA: [][]byte{p.ca.pem}, MaxVersion: version},
			OnKeylog: func(line []byte, _ *Conn) {
				mu.Lock()
				clientLines = append(clientLines, line)
				mu.Unlock()
			}})
		if err != nil {
			t.Fatal(err)
		}
		echo(t, c)
		c.Close()
		accepted := nextAccepted(t, ts)

		mu.Lock()
		want := map[string]int{VersionTLS12: 1, VersionTLS13: 4}[version]
		if len(serverLines) != want || len(clientLines) != want {
			t.Errorf("%s: %d server and %d client lines, want %d", version,
				len(serverLines), len(clientLines), want)
		}
		for i, l := range serverLines {
			if !nssLine.Match(l) {
				t.Errorf("%s: not an NSS key-log line: %q", version, l)
			}
			if serverConns[i] != accepted {
				t.Errorf("%s: line given with another connection", version)
			}
			if !bytes.Equal(l, clientLines[i]) {
				t.Errorf("%s: server and client lines differ", version)
			}
		}
		mu.Unlock()
	}
}
