package tlslayer_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/tlsstack/tlsstack/tlslayer"
)

func ExampleParseCipherList() {
	ids, err := tlslayer.ParseCipherList("ECDHE+AESGCM:!ECDSA")
	if err != nil {
		panic(err)
	}
	fmt.Println(tlslayer.CipherSuiteNames(ids))
	// Output: [ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-AES128-GCM-SHA256]
}

func ExampleNewServer() {
	certPEM, keyPEM, err := tlslayer.SelfSigned([]string{"localhost", "127.0.0.1"})
	if err != nil {
		panic(err)
	}
	ctx, err := tlslayer.NewSecureContext(tlslayer.ContextOptions{
		Cert: [][]byte{certPEM}, Key: [][]byte{keyPEM}})
	if err != nil {
		panic(err)
	}
	srv, err := tlslayer.NewServer(tlslayer.ServerOptions{Context: ctx,
		ALPNProtocols: []string{"http/1.1"}})
	if err != nil {
		panic(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ln := srv.Listen(inner)
	defer srv.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := c.(*tlslayer.Conn)
		fmt.Fprintf(tc, "%s %s\n", tc.Protocol(), tc.ALPNProtocol())
	}()

	port := inner.Addr().(*net.TCPAddr).Port
	c, err := tlslayer.Connect(tlslayer.ClientOptions{Port: port,
		ALPNProtocols:  []string{"http/1.1"},
		ContextOptions: tlslayer.ContextOptions{CA: [][]byte{certPEM}}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	reply, _ := io.ReadAll(c)
	fmt.Print(string(reply))
	fmt.Println(c.Authorized())
	// Output:
	// TLSv1.3 http/1.1
	// true
}

// sessionStore is an external session store for ServerOptions.OnNewSession
// and OnResumeSession (Node's 'newSession' and 'resumeSession' events).
type sessionStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Put has the type of ServerOptions.OnNewSession.
func (s *sessionStore) Put(id, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[string(id)] = bytes.Clone(data)
	return nil
}

// Get has the type of ServerOptions.OnResumeSession: nil data is a miss.
func (s *sessionStore) Get(id []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[string(id)], nil
}

func ExampleServerOptions_sessionStore() {
	certPEM, keyPEM, err := tlslayer.SelfSigned([]string{"localhost"})
	if err != nil {
		panic(err)
	}
	store := &sessionStore{m: map[string][]byte{}}
	srv, err := tlslayer.NewServer(tlslayer.ServerOptions{
		ContextOptions: tlslayer.ContextOptions{Cert: [][]byte{certPEM}, Key: [][]byte{keyPEM}},
		OnNewSession:   store.Put, OnResumeSession: store.Get,
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
}
