// Package intake is the one path every upload takes, whatever channel it
// came through (browser form, API, raw PUT, drop link, resumable upload):
//
//	body -> size limit -> first chunk -> content sniffing -> type policy
//	     -> tee: temp file in vault/incoming | SHA-256 | clamd INSTREAM
//	     -> verdict -> commit (fsync, rename, insert row, audit) or discard
//
// One read of the body feeds the file, the hash and the scanner. The
// package does not import net/http, and the app maps its rejections to
// statuses.
//
// A finished resumable upload is already on disk, so Receive moves it into
// vault/incoming (Upload.Adopt) and reads it for the checks, the hash and
// the scanner without writing it again.
package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/app/filename"
	"github.com/vaultdrop/vaultdrop/app/filetype"
	"github.com/vaultdrop/vaultdrop/store"
)

// chunkSize is the size of each read from the body and each write to disk
// and to the scanner. Writes of this size keep system calls rare, and the
// hashWindow buffers of a large upload take 1 MiB.
const chunkSize = 256 << 10

// smallChunkSize replaces chunkSize for a body known to be smaller than
// chunkSize, so that uploads of small files in flight do not each hold a
// full-size buffer. It must be at least filetype.HeadSize, the bytes that content
// sniffing reads from the first chunk.
const smallChunkSize = 128 << 10

// freeSpaceInterval is the number of bytes written between two checks of
// the free-space reserve during one upload.
const freeSpaceInterval = 32 << 20

// Config holds the intake's limits.
type Config struct {
	MaxFileSize  int64
	MinFreeSpace int64
	ScanWait     time.Duration // how long Commit waits for a verdict
	ScanTimeout  time.Duration // how long a background scan may take in all
	// UserQuota is the storage each owner may fill unless an admin set
	// their own quota; 0 means unlimited. See quota.go.
	UserQuota int64
}

// Pipeline receives uploads into the vault.
type Pipeline struct {
	cfg      Config
	vault    *store.Vault
	store    *store.Store
	policy   *filetype.Policy
	scanning *Scanning
	log      *slog.Logger
	now      func() time.Time
	quotas   *quotas
	observer Observer // set by SetObserver; nil when unused

	buffers      sync.Pool // of chunkSize
	smallBuffers sync.Pool // of smallChunkSize
}

// New returns a pipeline. scanning decides whether and how files are
// scanned; see Scanning.
func New(cfg Config, vault *store.Vault, st *store.Store, policy *filetype.Policy, scanning *Scanning, log *slog.Logger, now func() time.Time) *Pipeline {
	if now == nil {
		now = time.Now
	}
	return &Pipeline{
		cfg: cfg, vault: vault, store: st, policy: policy, scanning: scanning, log: log, now: now,
		quotas:       newQuotas(st, cfg.UserQuota),
		buffers:      sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }},
		smallBuffers: sync.Pool{New: func() any { b := make([]byte, smallChunkSize); return &b }},
	}
}

// Upload is one file arriving through any channel.
type Upload struct {
	Owner        store.User
	Name         string    // as the client sent it; sanitised here
	Body         io.Reader // read once, to its end or to the first rejection
	DeclaredSize int64     // from Content-Length or the resumable upload; -1 when unknown
	// LengthBound is the most bytes Body can hold, such as the length of a
	// multipart request around it; -1 when unknown. It only sizes the read
	// buffer.
	LengthBound int64
	// Adopt is the path of the complete file that Body reads, on the vault's
	// file system, as for a finished resumable upload. Receive moves that
	// file into the vault instead of writing a copy, and copies it only
	// when the move fails. Empty for bodies that arrive over the network.
	Adopt      string
	Actor      string // who is uploading, for the audit log
	ClientAddr string
}

// Received is an upload that passed every check on its bytes and waits in
// vault/incoming for Commit. Discard ends it without storing anything.
type Received struct {
	File store.File

	up       Upload
	incoming *store.Incoming
	scan     *scanJob   // nil when scanning is off or no scanner is available
	quota    *quotaHold // nil when the owner has no storage quota
	adopted  bool       // incoming is the Adopt file itself, so nothing is written
	finished bool
}

// Receive streams one upload to vault/incoming, checking its name, size,
// type and the free-space reserve on the way. On any error nothing is left
// on disk and the rejection is in the audit log.
func (p *Pipeline) Receive(ctx context.Context, up Upload) (*Received, error) {
	p.observe().UploadStarted()
	defer p.observe().UploadEnded()

	rec, err := p.receive(ctx, up)
	if err != nil {
		p.observe().UploadRejected(err)
		p.auditRejection(ctx, up, rec, err)
		if rec != nil {
			rec.Discard()
		}
		return nil, err
	}
	return rec, nil
}

func (p *Pipeline) receive(ctx context.Context, up Upload) (*Received, error) {
	name, err := p.checkName(up.Name)
	if err != nil {
		return nil, err
	}
	if err := p.checkDeclaredSize(up.DeclaredSize, up.Adopt == ""); err != nil {
		return nil, err
	}

	hold, err := p.quotas.begin(ctx, up.Owner, up.DeclaredSize)
	if err != nil {
		return nil, err
	}

	incoming, adopted, err := p.openIncoming(up)
	if err != nil {
		hold.release()
		return nil, fmt.Errorf("receive %q: %w", name, err)
	}
	rec := &Received{
		up:       up,
		incoming: incoming,
		quota:    hold,
		adopted:  adopted,
		File:     store.File{ID: store.NewID(), OwnerID: up.Owner.ID, Name: name},
	}

	if err := p.copyBody(ctx, rec); err != nil {
		return rec, err
	}
	return rec, nil
}

// openIncoming returns the incoming file for up: the Adopt file moved into
// vault/incoming when up names one and the move works, and a new empty file
// otherwise. adopted reports which.
func (p *Pipeline) openIncoming(up Upload) (incoming *store.Incoming, adopted bool, err error) {
	if up.Adopt != "" {
		incoming, err := p.vault.AdoptIncoming(up.Adopt)
		if err == nil {
			return incoming, true, nil
		}
		p.log.Warn("could not move a finished upload into the vault; copying it instead", "err", err)
	}

	incoming, err = p.vault.CreateIncoming()
	return incoming, false, err
}

// checkName sanitises the client's name and checks its extensions against
// the allowlist, before any byte is read.
func (p *Pipeline) checkName(raw string) (string, error) {
	name, err := filename.Sanitize(raw)
	if err != nil {
		return "", err
	}
	if err := p.policy.CheckName(name); err != nil {
		return name, err
	}
	return name, nil
}

// checkDeclaredSize refuses an upload whose announced size is already over
// the limit, or over the disk's reserve when its bytes are still to be
// written (toWrite), so not a byte of it is read.
func (p *Pipeline) checkDeclaredSize(size int64, toWrite bool) error {
	if size > p.cfg.MaxFileSize {
		sizeText, limitText := config.FormatBytesApart(size, p.cfg.MaxFileSize)
		return reject(ErrTooLarge,
			"The file is %s, larger than the maximum file size of %s. Upload a smaller file, or ask the operator to raise --max-file-size.",
			sizeText, limitText)
	}
	if !toWrite {
		return nil
	}
	return p.checkFreeSpace(max(size, 0))
}

// checkFreeSpace refuses to write need more bytes when that would leave
// less than the reserve free on the vault's disk.
func (p *Pipeline) checkFreeSpace(need int64) error {
	free, err := p.vault.FreeSpace()
	if err != nil {
		return err
	}
	if int64(free)-need < p.cfg.MinFreeSpace {
		return reject(ErrInsufficientStorage,
			"The server is low on disk space: %s free, and it keeps %s in reserve. Try again later or upload a smaller file, and tell the operator.",
			config.FormatBytes(int64(free)), config.FormatBytes(p.cfg.MinFreeSpace))
	}
	return nil
}

// copyBody is the single read of the upload: the first chunk is sniffed
// and checked before anything is written, then every chunk goes to the
// incoming file, the hash and the scanner.
func (p *Pipeline) copyBody(ctx context.Context, rec *Received) error {
	buffers := newChunkBuffers(p.bufferPool(rec.up))
	defer buffers.release()
	buf := buffers.first()

	body := &limitedReader{r: rec.up.Body, max: p.cfg.MaxFileSize}
	n, readErr := fill(body, buf)
	if err := bodyError(readErr); err != nil {
		return err
	}

	contentType, err := p.policy.CheckContent(path.Ext(rec.File.Name), buf[:min(n, filetype.HeadSize)])
	if err != nil {
		return err
	}
	rec.File.ContentType = contentType

	rec.scan = p.scanning.start(ctx)
	hash := newChunkHasher()
	defer hash.stop() // deferred after buffers.release, so it runs first
	sinceCheck := int64(0)
	for {
		if err := rec.quota.grow(rec.File.Size + int64(n)); err != nil {
			return p.quotaRejection(rec, body, buf, rec.File.Size+int64(n), err)
		}
		if err := p.writeChunk(rec, hash, buf[:n]); err != nil {
			return err
		}
		rec.File.Size += int64(n)

		// An adopted file writes nothing, so it cannot fill the disk.
		if sinceCheck += int64(n); sinceCheck >= freeSpaceInterval && !rec.adopted {
			sinceCheck = 0
			if err := p.checkFreeSpace(0); err != nil {
				return err
			}
		}
		if readErr != nil { // io.EOF: the body is done
			break
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("receive %q: %w", rec.File.Name, err)
		}

		// The chunks written last may still be hashing, so the next one goes
		// into the next buffer in turn.
		buf = buffers.next()
		n, readErr = fill(body, buf)
		if err := bodyError(readErr); err != nil {
			return err
		}
	}

	rec.File.SHA256 = hash.sum()
	rec.scan.finishInput()
	return nil
}

// quotaRejection picks the status of an upload that no longer fits its
// owner's quota after received bytes. A file alone larger than the whole
// quota is 413, one that only misses the space left is 507. When the client
// did not declare the size, the rest of the body is read into buf and
// dropped until it either ends or passes the whole quota. That reads at
// most the quota's size again, so the message can state whether deleting
// files would help.
func (p *Pipeline) quotaRejection(rec *Received, body io.Reader, buf []byte, received int64, rejection error) error {
	if rec.up.DeclaredSize >= 0 {
		return rejection
	}

	for !rec.quota.overWholeQuota(received) {
		n, err := body.Read(buf)
		received += int64(n)
		if err == io.EOF {
			return rec.quota.rejection(received, true, rejection)
		}
		if err != nil {
			return err
		}
	}
	return rec.quota.rejection(received, false, rejection)
}

// bufferPool returns the pool of small read buffers when up's body is known
// to be smaller than chunkSize, and the pool of full ones otherwise.
func (p *Pipeline) bufferPool(up Upload) *sync.Pool {
	bound := up.LengthBound
	if up.DeclaredSize >= 0 {
		bound = up.DeclaredSize
	}
	if bound >= 0 && bound < chunkSize {
		return &p.smallBuffers
	}
	return &p.buffers
}

// fill reads until buf is full or the body ends. Unlike io.ReadFull it
// passes the body's own error through unchanged, so a truncated multipart
// body (io.ErrUnexpectedEOF from the part) is not mistaken for its end.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// bodyError keeps the end of the body from looking like a failure.
func bodyError(err error) error {
	if err == nil || err == io.EOF {
		return nil
	}
	return err
}

// writeChunk hands chunk to the hasher, then writes it to the incoming file
// and feeds it to the scanner while it may still be hashing. An adopted
// file already holds the chunk, so it is only fed to the scanner.
func (p *Pipeline) writeChunk(rec *Received, hash *chunkHasher, chunk []byte) error {
	if len(chunk) == 0 {
		return nil
	}
	hash.add(chunk)
	if rec.adopted {
		rec.scan.feed(chunk)
		return nil
	}

	if _, err := rec.incoming.Write(chunk); err != nil {
		if isDiskFull(err) {
			return reject(ErrInsufficientStorage,
				"The server's disk is full. Try again later, and tell the operator.")
		}
		return fmt.Errorf("write upload %q: %w", rec.File.Name, err)
	}
	rec.scan.feed(chunk)
	return nil
}

// Discard removes the incoming file. It is safe to call more than once and
// after Commit.
func (r *Received) Discard() {
	if r.finished {
		return
	}
	r.finished = true
	r.scan.abandon()
	r.incoming.Discard()
	r.quota.release()
}

// auditRejection records a refused upload with the reason. Errors that are
// not rejections (a client that hung up, a disk error) are logged by the
// caller instead, but still audited as failures.
func (p *Pipeline) auditRejection(ctx context.Context, up Upload, rec *Received, err error) {
	detail := "name " + quoteForLog(up.Name) + ": " + rejectionDetail(err)
	if rec != nil && rec.File.SHA256 != "" {
		detail += fmt.Sprintf("; size %d; sha256 %s", rec.File.Size, rec.File.SHA256)
	}

	ev := store.AuditEvent{
		At: p.now(), Actor: up.Actor, ClientAddr: up.ClientAddr,
		Action: "upload", Target: "user:" + up.Owner.Username, Outcome: store.OutcomeFailure, Detail: detail,
	}
	if err := p.store.RecordAudit(context.WithoutCancel(ctx), ev); err != nil {
		p.log.Error("record audit event", "action", "upload", "err", err)
	}
	p.log.Warn("upload rejected", "actor", up.Actor, "client_addr", up.ClientAddr, "reason", rejectionDetail(err))
}

func rejectionDetail(err error) string {
	var r *Rejection
	if errors.As(err, &r) && r.Signature != "" {
		return r.Kind.Error() + " (" + r.Signature + ")"
	}
	if errors.As(err, &r) {
		return r.Kind.Error()
	}
	var fe *filetype.Error
	if errors.As(err, &fe) {
		return fe.Error()
	}
	if errors.Is(err, filename.ErrInvalid) {
		return "invalid name: " + err.Error()
	}
	return err.Error()
}

// quoteForLog quotes a client name for the log and audit text, cut to 120
// bytes, so a 100 KB name or escape sequences cannot flood or recolour them.
func quoteForLog(name string) string {
	if len(name) > 120 {
		name = strings.ToValidUTF8(name[:120], "") + "…"
	}
	return fmt.Sprintf("%q", name)
}
