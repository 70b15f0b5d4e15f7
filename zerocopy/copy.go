package zerocopy

import (
	"io"
	"sync"
)

// BufferSize is the size of pooled buffers: four full TLS records, so one
// Read from a TLS connection rarely needs a second call.
const BufferSize = 64 << 10

var pool = sync.Pool{New: func() any {
	b := make([]byte, BufferSize)
	return &b
}}

// GetBuffer returns a BufferSize buffer from the pool. Return it with
// PutBuffer when done; do not keep references to it afterwards.
func GetBuffer() *[]byte { return pool.Get().(*[]byte) }

// PutBuffer returns b to the pool.
func PutBuffer(b *[]byte) {
	if cap(*b) != BufferSize {
		return
	}
	*b = (*b)[:BufferSize]
	pool.Put(b)
}

// Copy copies from src to dst until EOF, like io.Copy, but through a pooled
// buffer. When src implements io.WriterTo or dst io.ReaderFrom (kernel TCP
// sockets do, and use splice or sendfile between themselves), those are
// used instead and no buffer is needed.
func Copy(dst io.Writer, src io.Reader) (int64, error) {
	b := GetBuffer()
	defer PutBuffer(b)
	return io.CopyBuffer(dst, src, *b)
}
