package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
)

// httpConn is a minimal HTTP/1.1 keep-alive client over one connection. The
// harness speaks HTTP itself, rather than through net/http, so that the
// client's own cost stays small and the same for every server.
type httpConn struct {
	c  net.Conn
	br *bufio.Reader
	// sink receives response bodies, which are thrown away.
	sink []byte
}

func newHTTPConn(c net.Conn) *httpConn {
	return &httpConn{c: c, br: bufio.NewReaderSize(c, 64<<10), sink: make([]byte, 256<<10)}
}

// get sends GET path and reads the whole response, returning the body length.
func (h *httpConn) get(path string) (int64, error) {
	if _, err := io.WriteString(h.c, "GET "+path+" HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		return 0, err
	}
	return h.readResponse()
}

// post sends POST path with n bytes taken from body, repeated, and reads the
// response.
func (h *httpConn) post(path string, n int64, body []byte) (int64, error) {
	head := "POST " + path + " HTTP/1.1\r\nHost: bench\r\n" +
		"Content-Type: application/octet-stream\r\n" +
		"Content-Length: " + strconv.FormatInt(n, 10) + "\r\n\r\n"
	if _, err := io.WriteString(h.c, head); err != nil {
		return 0, err
	}
	for left := n; left > 0; {
		chunk := body
		if left < int64(len(chunk)) {
			chunk = chunk[:left]
		}
		m, err := h.c.Write(chunk)
		left -= int64(m)
		if err != nil {
			return 0, err
		}
	}
	return h.readResponse()
}

var errNoLength = errors.New("http: response has neither Content-Length nor chunked body")

// readResponse reads one response and discards its body. It fails on a
// status other than 200.
func (h *httpConn) readResponse() (int64, error) {
	line, err := h.br.ReadSlice('\n')
	if err != nil {
		return 0, fmt.Errorf("http: reading status line: %w", err)
	}
	status, err := parseStatus(line)
	if err != nil {
		return 0, err
	}

	length, chunked := int64(-1), false
	for {
		line, err := h.br.ReadSlice('\n')
		if err != nil {
			return 0, fmt.Errorf("http: reading header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(v), 10, 64)
			if err != nil || length < 0 {
				return 0, fmt.Errorf("http: bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		}
	}

	var n int64
	switch {
	case chunked:
		n, err = h.readChunked()
	case length >= 0:
		n, err = h.discard(length)
	default:
		return 0, errNoLength
	}
	if err != nil {
		return n, err
	}
	if status != 200 {
		return n, fmt.Errorf("http: status %d", status)
	}
	return n, nil
}

func parseStatus(line []byte) (int, error) {
	f := bytes.Fields(line)
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) {
		return 0, fmt.Errorf("http: bad status line %q", bytes.TrimSpace(line))
	}
	s, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return 0, fmt.Errorf("http: bad status line %q", bytes.TrimSpace(line))
	}
	return s, nil
}

func (h *httpConn) readChunked() (int64, error) {
	var total int64
	for {
		line, err := h.br.ReadSlice('\n')
		if err != nil {
			return total, fmt.Errorf("http: reading chunk size: %w", err)
		}
		hexSize, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		size, err := strconv.ParseInt(string(hexSize), 16, 64)
		if err != nil || size < 0 {
			return total, fmt.Errorf("http: bad chunk size %q", hexSize)
		}
		if size == 0 {
			break
		}
		n, err := h.discard(size)
		total += n
		if err != nil {
			return total, err
		}
		if _, err := h.discard(2); err != nil {
			return total, err
		}
	}
	// Trailers end with an empty line.
	for {
		line, err := h.br.ReadSlice('\n')
		if err != nil {
			return total, fmt.Errorf("http: reading trailer: %w", err)
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return total, nil
		}
	}
}

// discard reads and drops exactly n bytes.
func (h *httpConn) discard(n int64) (int64, error) {
	var got int64
	for got < n {
		buf := h.sink
		if rest := n - got; rest < int64(len(buf)) {
			buf = buf[:rest]
		}
		m, err := h.br.Read(buf)
		got += int64(m)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return got, fmt.Errorf("http: body after %d of %d bytes: %w", got, n, err)
		}
	}
	return got, nil
}
