package app

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/tus/tusd/v2/pkg/filestore"
	tushandler "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/app/intake"
	"github.com/vaultdrop/vaultdrop/store"
)

// Resumable uploads speak tus 1.0.0 (core, creation, creation-with-upload,
// termination and expiration) through tusd's handler. Every request passes
// vaultdrop's own checks first: who is uploading, whose upload it is, the
// name, the sizes and the disk reserve. tusd then streams the bytes into
// <data-dir>/uploads, and a finished upload goes through the intake
// pipeline like any other upload.

// uploadsPath is the URL path of the tus endpoint.
const uploadsPath = "/api/v1/uploads/"

// Caps on unfinished uploads. Each one keeps two files in the uploads
// folder until it finishes or expires, so the caps bound the folder.
const (
	maxOpenUploadsPerUploader = 50
	maxOpenUploads            = 2000
)

// resumableUploads is the tus side of the server: the upload folder and
// tusd's handlers, one per operation.
type resumableUploads struct {
	dir string
	tus *tushandler.UnroutedHandler
	// onDiscard receives the metadata of every unfinished upload removed
	// without finishing (expired, stale or terminated).
	onDiscard func(tushandler.MetaData)

	create, head, patch, terminate, options http.Handler
}

// newResumableUploads prepares the upload folder, removes what an earlier
// run left that can no longer finish, and builds tusd's handler.
func (s *Server) newResumableUploads() (*resumableUploads, error) {
	u := &resumableUploads{dir: filepath.Join(s.cfg.DataDir, "uploads"), onDiscard: s.releaseDropReservation}
	removed, err := u.clearStale(time.Now(), s.cfg.Resumable.UploadExpiry)
	if err != nil {
		return nil, err
	}
	if removed > 0 {
		s.log.Info("removed stale resumable uploads from an earlier run", "count", removed)
	}

	files := filestore.New(u.dir)
	files.DirModePerm, files.FileModePerm = 0o700, 0o600
	composer := tushandler.NewStoreComposer()
	composer.UseCore(files)
	composer.UseTerminater(files)
	composer.UseLocker(memorylocker.New())

	u.tus, err = tushandler.NewUnroutedHandler(tushandler.Config{
		StoreComposer:              composer,
		BasePath:                   uploadsPath,
		MaxSize:                    int64(s.cfg.MaxFileSize),
		DisableDownload:            true, // unfinished bytes are unscanned and never served
		Cors:                       &tushandler.CorsConfig{Disable: true},
		PreUploadCreateCallback:    s.beforeUploadCreate,
		PreFinishResponseCallback:  s.finishUpload,
		PreUploadTerminateCallback: s.beforeUploadTerminate,
		NetworkTimeout:             s.cfg.BodyIdleTimeout,
		Logger:                     newTusLogger(s.log),
	})
	if err != nil {
		return nil, fmt.Errorf("set up resumable uploads: %w", err)
	}

	u.create = u.tus.Middleware(http.HandlerFunc(u.tus.PostFile))
	u.head = u.tus.Middleware(http.HandlerFunc(u.tus.HeadFile))
	u.patch = u.tus.Middleware(http.HandlerFunc(u.tus.PatchFile))
	u.terminate = u.tus.Middleware(http.HandlerFunc(u.tus.DelFile))
	u.options = u.tus.Middleware(http.NotFoundHandler()) // tusd responds to OPTIONS itself
	return u, nil
}

// uploadRoutes registers the tus endpoint twice: under /api/v1/uploads/
// for signed-in users, and under each drop link for its visitors, where
// the link's cookies (its password and the visitor's id) are sent along.
// Both sit outside the signed-in API group; uploaderOf decides who may.
func (s *Server) uploadRoutes(e *echo.Echo) {
	s.mountUploads(e, uploadsPath, jsonErrors)
	s.mountUploads(e, dropUploadsPath, jsonErrors, noStore)
}

func (s *Server) mountUploads(e *echo.Echo, base string, m ...echo.MiddlewareFunc) {
	limited := append(m[:len(m):len(m)], s.LimitUploads)
	for _, path := range []string{base, strings.TrimSuffix(base, "/")} {
		e.OPTIONS(path, s.uploadOptions, m...)
		e.POST(path, s.uploadCreate, limited...)
	}
	e.OPTIONS(base+":id", s.uploadOptions, m...)
	e.HEAD(base+":id", s.uploadHead, m...)
	e.PATCH(base+":id", s.uploadPatch, limited...)
	e.DELETE(base+":id", s.uploadDelete, m...)
}

// jsonErrors makes the error handler return a route's errors as the API's
// JSON whatever the client's Accept header, as tus clients expect.
func jsonErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Request().Header.Set(echo.HeaderAccept, echo.MIMEApplicationJSON)
		return next(c)
	}
}

// uploader is the sender of a resumable upload.
type uploader struct {
	key   string        // stored with the upload; only requests with the same key may touch it
	owner store.User    // whose files the finished upload joins
	actor string        // the audit log's actor
	drop  *dropUploader // set for a drop link's visitor
}

// uploaderOf finds who is sending the request: a drop link's visitor under
// the link's path, else the signed-in user (session cookie or bearer
// token).
func (s *Server) uploaderOf(c echo.Context) (uploader, error) {
	if c.Param("token") != "" {
		return s.dropUploaderOf(c)
	}
	if u, ok := currentUser(c); ok {
		return uploader{key: "user:" + u.ID, owner: u, actor: u.Username}, nil
	}
	return uploader{}, errUnauthorized
}

// uploadBase is the path the request's upload URLs start with.
func uploadBase(c echo.Context) string {
	if token := c.Param("token"); token != "" {
		return "/d/" + token + "/uploads/"
	}
	return uploadsPath
}

// uploadRequest travels to tusd's callbacks in the request context.
type uploadRequest struct {
	sender     uploader
	name       string // sanitised file name
	clientAddr string
	control    *http.ResponseController
	// reservation is the drop slot a new upload took; the finish hook
	// marks it settled when it stores or releases it.
	reservation *dropReservation
}

type uploadRequestKey struct{}

func uploadRequestFrom(ctx context.Context) (uploadRequest, bool) {
	req, ok := ctx.Value(uploadRequestKey{}).(uploadRequest)
	return req, ok
}

// uploadOptions handles tus discovery (OPTIONS): versions, extensions and
// the maximum size.
func (s *Server) uploadOptions(c echo.Context) error {
	return s.serveTus(c, s.uploads.options, uploadRequest{}, "")
}

// uploadCreate checks a new upload's uploader, declared length and name
// before tusd creates it, so a file that would be rejected is rejected
// before any of its bytes arrive.
func (s *Server) uploadCreate(c echo.Context) error {
	if c.Param("token") != "" {
		if err := s.limitDropUploads(c); err != nil {
			return err
		}
	}
	sender, err := s.uploaderOf(c)
	if err != nil {
		return err
	}
	r := c.Request()

	size, err := declaredUploadLength(r)
	if err != nil {
		return err
	}
	if _, err := s.checkChunkLength(r, false); err != nil {
		return err
	}
	if err := s.uploads.checkOpenUploads(sender.key); err != nil {
		return err
	}

	meta := tushandler.ParseMetadataHeader(r.Header.Get("Upload-Metadata"))
	name, err := s.intake.Precheck(r.Context(), intake.Upload{
		Owner: sender.owner, Name: meta[metaFilename], DeclaredSize: size,
		Actor: sender.actor, ClientAddr: clientAddr(c),
	})
	if err != nil {
		return uploadError(err)
	}
	// The finished upload is moved into the vault, not copied, so it needs
	// its own size once.
	//
	// NOTE: where the move fails (the uploads folder on another file system
	// than the vault) the file is copied, and that copy can still be refused
	// with 507 when the disk runs low meanwhile.
	if err := s.checkUploadSpace(size); err != nil {
		return err
	}

	req := uploadRequest{sender: sender, name: name, clientAddr: clientAddr(c)}
	if sender.drop != nil {
		if req.reservation, err = s.reserveDropUpload(c, sender.drop, size, meta); err != nil {
			return err
		}
	}
	err = s.serveTus(c, s.uploads.create, req, "")
	if req.reservation != nil && !req.reservation.settled && c.Response().Status != http.StatusCreated {
		s.releaseDropReservation(req.reservation.metadata())
	}
	return err
}

// uploadHead reports an upload's offset, or the result of a finished one.
func (s *Server) uploadHead(c echo.Context) error {
	sender, state, err := s.callersUpload(c)
	if err != nil {
		return err
	}
	if state.result != nil {
		return s.respondFinishedHead(c, state)
	}
	return s.serveTus(c, s.uploads.head, uploadRequest{sender: sender, name: state.name, clientAddr: clientAddr(c)}, state.name)
}

// uploadPatch appends one chunk. The chunk that completes the upload also
// runs the intake pipeline, and its response carries the verdict.
func (s *Server) uploadPatch(c echo.Context) error {
	sender, state, err := s.callersUpload(c)
	if err != nil {
		return err
	}
	if state.result != nil {
		return errUploadFinished
	}
	r := c.Request()

	length, err := s.checkChunkLength(r, true)
	if err != nil {
		return err
	}
	need := length
	if offset, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64); err == nil && offset+length == state.size {
		need += state.size // the copy into the vault
	}
	if err := s.checkUploadSpace(need); err != nil {
		return err
	}

	c.Response().Header().Set("Upload-Expires", s.uploadExpires())
	return s.serveTus(c, s.uploads.patch, uploadRequest{sender: sender, name: state.name, clientAddr: clientAddr(c)}, state.name)
}

// uploadDelete ends an unfinished upload and removes its bytes. For a
// finished upload it only deletes the result record; the stored file stays.
func (s *Server) uploadDelete(c echo.Context) error {
	sender, state, err := s.callersUpload(c)
	if err != nil {
		return err
	}
	if state.result != nil {
		if err := s.uploads.remove(state.id); err != nil {
			return fmt.Errorf("delete result of upload %s: %w", state.id, err)
		}
		return c.NoContent(http.StatusNoContent)
	}
	return s.serveTus(c, s.uploads.terminate, uploadRequest{sender: sender, name: state.name, clientAddr: clientAddr(c)}, state.name)
}

// callersUpload loads the :id upload for the caller. An upload that does
// not exist, expired, or belongs to someone else is 404 alike, so upload
// ids cannot be probed.
func (s *Server) callersUpload(c echo.Context) (uploader, uploadState, error) {
	sender, err := s.uploaderOf(c)
	if err != nil {
		return uploader{}, uploadState{}, err
	}

	id := c.Param("id")
	if !store.ValidID(id) {
		return sender, uploadState{}, errNotFound
	}
	state, err := s.uploads.load(id, time.Now(), s.cfg.Resumable.UploadExpiry)
	if err != nil {
		return sender, uploadState{}, err
	}
	if state.owner != sender.key {
		return sender, uploadState{}, errNotFound
	}
	return sender, state, nil
}

// serveTus hands the request to one of tusd's handlers, with the upload
// request in its context and the path reduced to the upload id, as tusd
// expects. name is the file name HEAD may show; "" shows none.
func (s *Server) serveTus(c echo.Context, h http.Handler, req uploadRequest, name string) error {
	w := &tusResponse{ResponseWriter: c.Response(), method: c.Request().Method, base: uploadBase(c), filename: name, log: s.log}
	req.control = http.NewResponseController(w)

	r := c.Request().WithContext(context.WithValue(c.Request().Context(), uploadRequestKey{}, req))
	r.URL = &url.URL{Path: c.Param("id")}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &tusBody{ReadCloser: r.Body, response: w}
	}
	// tusd would turn a POST with this header into a PATCH or DELETE that
	// skipped the checks above.
	r.Header.Del("X-HTTP-Method-Override")

	h.ServeHTTP(w, r)
	w.finish()
	return nil
}

// declaredUploadLength reads Upload-Length. Deferred lengths are rejected:
// the size must be known to check it against the limits before any byte.
func declaredUploadLength(r *http.Request) (int64, error) {
	if r.Header.Get("Upload-Defer-Length") != "" {
		return 0, apiError(http.StatusBadRequest, "invalid_request",
			"This server needs the file's size up front. Send Upload-Length instead of Upload-Defer-Length.")
	}
	size, err := strconv.ParseInt(r.Header.Get("Upload-Length"), 10, 64)
	if err != nil || size < 0 {
		return 0, apiError(http.StatusBadRequest, "invalid_request",
			"Send the file's size in bytes in the Upload-Length header.")
	}
	return size, nil
}

// checkChunkLength caps one request body at --upload-chunk-size, before any
// of it is read. PATCH requests must declare their length; a creation
// request without a body may omit it.
func (s *Server) checkChunkLength(r *http.Request, required bool) (int64, error) {
	switch {
	case r.ContentLength < 0 && (required || r.Header.Get("Content-Type") == "application/offset+octet-stream"):
		return 0, apiError(http.StatusLengthRequired, "length_required",
			"Send the chunk's size in the Content-Length header; chunked transfer encoding is not accepted here.")
	case r.ContentLength > int64(s.cfg.Resumable.UploadChunkSize):
		return 0, apiError(http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("The chunk is %s, larger than this server's chunk size of %s. Send the file in chunks of at most %s.",
				config.FormatBytes(r.ContentLength), s.cfg.Resumable.UploadChunkSize, s.cfg.Resumable.UploadChunkSize))
	}
	return max(r.ContentLength, 0), nil
}

// checkUploadSpace rejects a request that needs need more bytes when that
// would leave less than --min-free-space free on the data directory's disk.
func (s *Server) checkUploadSpace(need int64) error {
	free, err := s.vault.FreeSpace()
	if err != nil {
		return err
	}
	if int64(free)-need < int64(s.cfg.MinFreeSpace) {
		s.log.Warn("resumable upload rejected: not enough free disk space", "need_bytes", need, "free_bytes", free)
		return apiError(http.StatusInsufficientStorage, "insufficient_storage",
			fmt.Sprintf("The server is low on disk space: %s free, and it keeps %s in reserve. Try again later or upload a smaller file, and tell the operator.",
				config.FormatBytes(int64(free)), s.cfg.MinFreeSpace))
	}
	return nil
}

// beforeUploadCreate is tusd's creation hook: the upload gets a random id
// and only the metadata vaultdrop needs, the sanitised name and the owner.
func (s *Server) beforeUploadCreate(hook tushandler.HookEvent) (tushandler.HTTPResponse, tushandler.FileInfoChanges, error) {
	req, ok := uploadRequestFrom(hook.Context)
	if !ok {
		return tushandler.HTTPResponse{}, tushandler.FileInfoChanges{}, fmt.Errorf("create upload: request context without the uploader")
	}

	meta := tushandler.MetaData{metaFilename: req.name, metaOwner: req.sender.key}
	if req.reservation != nil {
		maps.Copy(meta, req.reservation.metadata())
	}
	changes := tushandler.FileInfoChanges{ID: store.NewID(), MetaData: meta}
	resp := tushandler.HTTPResponse{Header: tushandler.HTTPHeader{
		"Upload-Expires": s.uploadExpires(),
	}}
	return resp, changes, nil
}

// uploadExpires is the Upload-Expires value of an upload that received
// bytes just now.
//
// Expiry runs on the wall clock, not the server's clock: it compares with
// the modification times of the upload's files, which the operating system
// sets.
func (s *Server) uploadExpires() string {
	return time.Now().Add(s.cfg.Resumable.UploadExpiry).UTC().Format(http.TimeFormat)
}

// ExpireUploads removes unfinished resumable uploads, and the results of
// finished ones, whose last activity is older than --upload-expiry. It
// returns how many uploads it removed. RunWorkers calls it periodically.
func (s *Server) ExpireUploads() (int, error) {
	removed, err := s.uploads.expire(time.Now(), s.cfg.Resumable.UploadExpiry)
	if removed > 0 {
		s.log.Info("removed expired resumable uploads", "count", removed)
	}
	return removed, err
}

// runUploadExpiry calls ExpireUploads until ctx ends, often enough that an
// upload outlives its expiry by at most a quarter of it.
func (s *Server) runUploadExpiry(ctx context.Context) {
	ticker := time.NewTicker(min(s.cfg.Resumable.UploadExpiry/4, 15*time.Minute))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if _, err := s.ExpireUploads(); err != nil {
			s.log.Error("remove expired resumable uploads", "err", err)
		}
	}
}
