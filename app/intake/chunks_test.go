package intake

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"testing"
)

// hashThroughChunks reads body the way copyBody does, through chunkBuffers
// and chunkHasher, and returns the hex SHA-256.
func hashThroughChunks(t *testing.T, body []byte, bufferSize int) string {
	t.Helper()
	pool := &sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}
	buffers := newChunkBuffers(pool)
	defer buffers.release()
	hash := newChunkHasher()
	defer hash.stop()

	r := bytes.NewReader(body)
	buf := buffers.first()
	for {
		n, err := fill(r, buf)
		hash.add(buf[:n])
		// Every buffer but the one read next may still be hashing, never
		// that one too.
		if hash.pending > hashWindow-1 {
			t.Fatalf("%d chunks wait for the hasher; the buffers allow %d", hash.pending, hashWindow-1)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		buf = buffers.next()
	}
	return hash.sum()
}

func TestChunkHasherMatchesSHA256(t *testing.T) {
	sizes := []int{0, 1, 100 << 10, chunkSize, chunkSize + 1, 9*chunkSize + 777}
	for _, size := range sizes {
		for _, bufferSize := range []int{smallChunkSize, chunkSize} {
			t.Run(fmt.Sprintf("%d bytes in %d-byte chunks", size, bufferSize), func(t *testing.T) {
				body := make([]byte, size)
				for i := range body {
					body[i] = byte(i*7 + i/chunkSize)
				}
				want := sha256.Sum256(body)

				if got := hashThroughChunks(t, body, bufferSize); got != hex.EncodeToString(want[:]) {
					t.Errorf("sha256 = %s, want %x", got, want)
				}
			})
		}
	}
}

func TestChunkBuffersReuseAfterWindow(t *testing.T) {
	pool := &sync.Pool{New: func() any { b := make([]byte, 8); return &b }}
	buffers := newChunkBuffers(pool)
	defer buffers.release()

	seen := [][]byte{buffers.first()}
	for range 2 * hashWindow {
		seen = append(seen, buffers.next())
	}

	for i := range seen {
		for j := i + 1; j < len(seen) && j < i+hashWindow; j++ {
			if &seen[i][0] == &seen[j][0] {
				t.Errorf("chunks %d and %d share a buffer, closer than the hash window of %d", i, j, hashWindow)
			}
		}
	}
	if &seen[0][0] != &seen[hashWindow][0] {
		t.Errorf("chunk %d does not reuse the first buffer; the upload holds more than %d", hashWindow, hashWindow)
	}
}
