package intake

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// hashWindow is the most chunks of one upload that exist at once: the one
// being read, and up to hashWindow-1 that the hasher has not finished yet.
// With chunkSize buffers this is 1 MiB per large upload.
const hashWindow = 4

// concurrentHashMin is the smallest chunk that starts the hashing goroutine.
// An upload that never reads a chunk this large is hashed in line, because
// handing small chunks to another goroutine costs more than it saves.
const concurrentHashMin = 128 << 10

// chunkBuffers are the read buffers of one upload, taken from pool as the
// body turns out to need them, up to hashWindow of them. Chunks go into
// them in turn, so a chunk stays untouched while the hasher catches up.
type chunkBuffers struct {
	pool     *sync.Pool
	fromPool []*[]byte
	index    int // of the buffer returned last
}

func newChunkBuffers(pool *sync.Pool) *chunkBuffers {
	return &chunkBuffers{pool: pool, fromPool: []*[]byte{pool.Get().(*[]byte)}}
}

// first returns the buffer of the first chunk.
func (b *chunkBuffers) first() []byte {
	return *b.fromPool[0]
}

// next returns the buffer of the chunk after the one returned last.
func (b *chunkBuffers) next() []byte {
	b.index = (b.index + 1) % hashWindow
	if b.index == len(b.fromPool) {
		b.fromPool = append(b.fromPool, b.pool.Get().(*[]byte))
	}
	return *b.fromPool[b.index]
}

// release returns the buffers to their pool. The hasher must be stopped
// first, because it may still be reading one of them.
func (b *chunkBuffers) release() {
	for _, buf := range b.fromPool {
		b.pool.Put(buf)
	}
}

// chunkHasher computes SHA-256 of an upload's chunks in order. Once a large
// chunk arrives, it hashes on a goroutine of its own, beside the write to
// disk and the read of the next chunks. SHA-256 costs about as much CPU
// time as those two together, so a second core halves the critical path.
type chunkHasher struct {
	hash    hash.Hash
	chunks  chan []byte   // to the hashing goroutine; nil until it starts
	hashed  chan struct{} // one value for each chunk the goroutine finished
	pending int           // chunks sent and not yet seen as hashed
}

func newChunkHasher() *chunkHasher {
	return &chunkHasher{hash: sha256.New()}
}

// add hashes chunk after the chunks added before it. The caller must leave
// chunk unchanged until hashWindow-1 more chunks were added, or until wait
// or stop returns, which chunkBuffers does when the chunks come from it.
func (h *chunkHasher) add(chunk []byte) {
	if h.chunks == nil && len(chunk) < concurrentHashMin {
		h.hash.Write(chunk)
		return
	}
	if h.chunks == nil {
		h.start()
	}

	// The next chunk is read into the buffer of the chunk hashWindow-1
	// places before this one, so that one must be hashed by then.
	for h.pending >= hashWindow-1 {
		<-h.hashed
		h.pending--
	}
	h.chunks <- chunk
	h.pending++
}

func (h *chunkHasher) start() {
	h.chunks = make(chan []byte, hashWindow)
	h.hashed = make(chan struct{}, hashWindow)
	go func(chunks <-chan []byte, hashed chan<- struct{}) {
		for chunk := range chunks {
			h.hash.Write(chunk)
			hashed <- struct{}{}
		}
	}(h.chunks, h.hashed)
}

// wait returns once every chunk added so far is hashed.
func (h *chunkHasher) wait() {
	for h.pending > 0 {
		<-h.hashed
		h.pending--
	}
}

// stop waits for the chunks added so far and ends the hashing goroutine.
// It is safe to call more than once.
func (h *chunkHasher) stop() {
	h.wait()
	if h.chunks != nil {
		close(h.chunks)
		h.chunks = nil
	}
}

// sum returns the hex SHA-256 of every chunk added.
func (h *chunkHasher) sum() string {
	h.wait()
	return hex.EncodeToString(h.hash.Sum(nil))
}
