package zerocopy

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
)

// onlyReader hides bytes.Reader's WriteTo so that Copy uses its buffer.
type onlyReader struct{ io.Reader }

// onlyWriter hides bytes.Buffer's ReadFrom.
type onlyWriter struct{ io.Writer }

func TestCopyMovesEveryByte(t *testing.T) {
	for _, n := range []int{0, 1, BufferSize - 1, BufferSize, 3*BufferSize + 7} {
		data := make([]byte, n)
		rand.Read(data)
		var dst bytes.Buffer
		got, err := Copy(onlyWriter{&dst}, onlyReader{bytes.NewReader(data)})
		if err != nil || got != int64(n) || !bytes.Equal(dst.Bytes(), data) {
			t.Errorf("n=%d: copied %d, err %v, equal %v", n, got, err,
				bytes.Equal(dst.Bytes(), data))
		}
	}
}

func TestPutBufferRejectsForeignSizes(t *testing.T) {
	small := make([]byte, 10)
	PutBuffer(&small) // must not enter the pool
	for i := 0; i < 100; i++ {
		if b := GetBuffer(); len(*b) != BufferSize {
			t.Fatalf("pool returned a %d-byte buffer", len(*b))
		}
	}
}

func BenchmarkCopy(b *testing.B) {
	data := make([]byte, 1<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Copy(onlyWriter{io.Discard}, onlyReader{bytes.NewReader(data)})
	}
}
