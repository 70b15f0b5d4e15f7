package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestProxyResponder puts tlsstack in front of a plaintext backend in the
// server namespace: the decrypted stream goes through both ways, and each
// side's half-close reaches the other.
func TestProxyResponder(t *testing.T) {
	requireNetns(t)
	requireCommands(t, "curl")
	for _, m := range servingModes() {
		t.Run(m.name, func(t *testing.T) {
			prefix := m.prefix + "p"
			topology(t, prefix)
			backend, err := listenIn(prefix+"-srv", "tcp", "198.18.0.1:9000")
			if err != nil {
				t.Fatal(err)
			}
			defer backend.Close()
			go serveDigestBackend(backend)

			args := append(append([]string{}, m.args...), "--responder", "proxy",
				"--backend", "198.18.0.1:9000")
			startServer(t, prefix+"-srv", args...)

			// A request whose answer comes only after the backend has seen
			// the end of the upload: it needs the client's half-close.
			c, err := dialIn(prefix+"-cli", "tcp", m.v4)
			if err != nil {
				t.Fatal(err)
			}
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
			defer tc.Close()
			tc.SetDeadline(time.Now().Add(30 * time.Second))
			data := make([]byte, 8<<20)
			rand.Read(data)
			go func() {
				tc.Write(data)
				tc.CloseWrite()
			}()
			answer, err := io.ReadAll(tc)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			want := fmt.Sprintf("%d %x\n", len(data), sha256.Sum256(data))
			if !bytes.HasPrefix(answer, []byte(want)) {
				t.Fatalf("backend answered %q, want %q", answer[:min(len(answer), 100)], want)
			}
			if !bytes.Equal(answer[len(want):], data) {
				t.Errorf("echoed bytes differ from those sent (%d of %d)",
					len(answer)-len(want), len(data))
			}

			// curl speaks HTTP through the proxy to the same backend, which
			// answers HTTP when it sees a request line.
			out := runIn(t, prefix+"-cli", "curl", "-sS", "-k", "--http1.1", "--max-time", "10",
				"https://"+m.v4+"/via-proxy")
			if !strings.Contains(out, "backend saw GET /via-proxy") {
				t.Errorf("curl through proxy: %q", out)
			}
		})
	}
}

// serveDigestBackend answers each connection: to an HTTP GET with a short
// page; otherwise, after reading to EOF, with "LEN SHA256\n" and the data.
func serveDigestBackend(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			head := make([]byte, 4)
			n, _ := io.ReadFull(c, head)
			if string(head[:n]) == "GET " {
				line := make([]byte, 256)
				m, _ := c.Read(line)
				path := strings.Fields(string(line[:m]))[0]
				body := "backend saw GET " + path + "\n"
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
					len(body), body)
				return
			}
			rest, err := io.ReadAll(c)
			if err != nil {
				return
			}
			all := append(head[:n], rest...)
			fmt.Fprintf(c, "%d %x\n", len(all), sha256.Sum256(all))
			c.Write(all)
		}()
	}
}
