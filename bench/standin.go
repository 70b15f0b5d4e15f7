package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// The stand-in answers the same paths as tlsstack's http responder with
// net/http on crypto/tls over a kernel socket: "/" a short page,
// "/bytes/N" N bytes, and POST "/upload" reads the body and answers its
// length. With --plain it speaks HTTP without TLS, as the backend behind
// HAProxy's TCP-mode frontend. Unlike tlsstack it does not hash what it
// moves.

// standinMaxBytes bounds /bytes/N.
const standinMaxBytes = 1 << 40

func standinMain(args []string) error {
	fs := flag.NewFlagSet("standin", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8443", "`ADDR:PORT` to listen on")
	certFile := fs.String("cert", "", "certificate `FILE` (PEM)")
	keyFile := fs.String("key", "", "key `FILE` (PEM)")
	plain := fs.Bool("plain", false, "serve plain HTTP, no TLS")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if !*plain && (*certFile == "" || *keyFile == "") {
		return usagef("standin: --cert and --key are needed without --plain")
	}

	srv := &http.Server{
		Handler:           standinHandler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       10 * time.Minute,
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "standin: serving on %s (plain=%v)\n", l.Addr(), *plain)
	if *plain {
		err = srv.Serve(l)
	} else {
		cert, cerr := tls.LoadX509KeyPair(*certFile, *keyFile)
		if cerr != nil {
			return cerr
		}
		srv.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{cert},
			NextProtos:   []string{"h2", "http/1.1"},
		}
		err = srv.Serve(tls.NewListener(l, srv.TLSConfig))
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func standinHandler() http.Handler {
	block := make([]byte, 256<<10)
	for i := range block {
		block[i] = byte(i * 13)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "bench stand-in\n")
	})
	mux.HandleFunc("GET /bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n < 0 || n > standinMaxBytes {
			http.Error(w, "bad byte count", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		for n > 0 {
			chunk := block
			if n < int64(len(chunk)) {
				chunk = chunk[:n]
			}
			m, err := w.Write(chunk)
			n -= int64(m)
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "{\"bytes\":%d}\n", n)
	})
	return mux
}
