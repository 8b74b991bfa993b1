package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	tushandler "github.com/tus/tusd/v2/pkg/handler"

	"github.com/vaultdrop/vaultdrop/store"
)

// The uploads folder holds, per upload id, tusd's files (the bytes in <id>
// and its state in <id>.info) while the upload runs, and vaultdrop's
// <id>.result once it finished. The result stays until the upload expires,
// so a client whose final response was lost still learns the verdict.

// Upload-Metadata keys stored with each upload. Only metaFilename is shown
// back to clients.
const (
	metaFilename = "filename"
	metaOwner    = "vaultdrop-owner"
)

const (
	infoSuffix   = ".info"
	resultSuffix = ".result"
)

// Result statuses besides the file statuses of a stored upload.
const uploadRejected = "rejected"

var (
	errUploadFinished = apiError(http.StatusForbidden, "upload_finished",
		"This upload is finished and cannot be changed. Start a new upload to send the file again.")
	errTooManyOpenUploads = apiError(http.StatusTooManyRequests, "too_many_requests",
		fmt.Sprintf("You have %d unfinished uploads. Finish or cancel some of them, or wait until they expire, then try again.", maxOpenUploadsPerUploader))
	errServerOpenUploads = apiError(http.StatusTooManyRequests, "too_many_requests",
		"The server has too many unfinished uploads right now. Try again later.")
)

// uploadState is the server's record of one upload.
type uploadState struct {
	id     string
	owner  string // the uploader key
	name   string
	size   int64
	offset int64
	result *uploadResult // set once the upload finished
}

// uploadResult is the outcome of a finished upload.
type uploadResult struct {
	FileID     string `json:"file_id,omitempty"`
	Status     string `json:"status"`         // a file status, or uploadRejected
	Code       string `json:"code,omitempty"` // the error code of a rejection
	Message    string `json:"message,omitempty"`
	HTTPStatus int    `json:"http_status,omitempty"`
}

// resultRecord is the content of <id>.result.
type resultRecord struct {
	Owner  string       `json:"owner"`
	Name   string       `json:"name"`
	Size   int64        `json:"size"`
	Result uploadResult `json:"result"`
}

func (u *resumableUploads) path(id, suffix string) string {
	return filepath.Join(u.dir, id+suffix)
}

// load returns the upload id, or errNotFound when it does not exist or
// expired. An expired upload is removed on the way; if that fails, the
// periodic expiry removes it and logs the error.
func (u *resumableUploads) load(id string, now time.Time, expiry time.Duration) (uploadState, error) {
	if state, modified, err := u.loadResult(id); err == nil {
		if now.Sub(modified) > expiry {
			u.remove(id)
			return uploadState{}, errNotFound
		}
		return state, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return uploadState{}, err
	}

	info, lastActivity, err := u.loadInfo(id)
	if errors.Is(err, fs.ErrNotExist) {
		return uploadState{}, errNotFound
	}
	if err != nil {
		return uploadState{}, err
	}
	if now.Sub(lastActivity) > expiry {
		u.remove(id)
		return uploadState{}, errNotFound
	}

	return uploadState{
		id: id, owner: info.MetaData[metaOwner], name: info.MetaData[metaFilename],
		size: info.Size, offset: info.Offset,
	}, nil
}

func (u *resumableUploads) loadResult(id string) (uploadState, time.Time, error) {
	path := u.path(id, resultSuffix)
	data, err := os.ReadFile(path)
	if err != nil {
		return uploadState{}, time.Time{}, err
	}
	stat, err := os.Stat(path)
	if err != nil {
		return uploadState{}, time.Time{}, err
	}

	var rec resultRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return uploadState{}, time.Time{}, fmt.Errorf("read upload result %s: %w", id, err)
	}
	state := uploadState{id: id, owner: rec.Owner, name: rec.Name, size: rec.Size, offset: rec.Size, result: &rec.Result}
	return state, stat.ModTime(), nil
}

// loadInfo reads tusd's state of an unfinished upload, with the offset
// taken from its bytes on disk as tusd does. lastActivity is when it was
// created or last received bytes.
func (u *resumableUploads) loadInfo(id string) (info tushandler.FileInfo, lastActivity time.Time, err error) {
	infoPath := u.path(id, infoSuffix)
	data, err := os.ReadFile(infoPath)
	if err != nil {
		return info, lastActivity, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, lastActivity, fmt.Errorf("read upload state %s: %w", id, err)
	}

	infoStat, err := os.Stat(infoPath)
	if err != nil {
		return info, lastActivity, err
	}
	binStat, err := os.Stat(u.path(id, ""))
	if err != nil {
		return info, lastActivity, err
	}
	info.Offset = binStat.Size()
	lastActivity = infoStat.ModTime()
	if binStat.ModTime().After(lastActivity) {
		lastActivity = binStat.ModTime()
	}
	return info, lastActivity, nil
}

// finish records a finished upload's result and removes its bytes. The
// result is written first, so at no moment does the upload look missing.
func (u *resumableUploads) finish(id string, rec resultRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode upload result %s: %w", id, err)
	}
	tmp := u.path(id, resultSuffix+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write upload result %s: %w", id, err)
	}
	if err := os.Rename(tmp, u.path(id, resultSuffix)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write upload result %s: %w", id, err)
	}

	return errors.Join(removeIfExists(u.path(id, "")), removeIfExists(u.path(id, infoSuffix)))
}

// remove deletes every file of upload id. An unfinished upload's metadata
// goes to onDiscard first, so what it held (a drop slot) is given back.
func (u *resumableUploads) remove(id string) error {
	if data, err := os.ReadFile(u.path(id, infoSuffix)); err == nil && u.onDiscard != nil {
		var info tushandler.FileInfo
		if json.Unmarshal(data, &info) == nil {
			u.onDiscard(info.MetaData)
		}
	}
	return errors.Join(
		removeIfExists(u.path(id, "")),
		removeIfExists(u.path(id, infoSuffix)),
		removeIfExists(u.path(id, resultSuffix)),
	)
}

func removeIfExists(path string) error {
	err := os.Remove(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// checkOpenUploads rejects a new upload when its uploader, or the whole
// server, already has too many unfinished ones.
func (u *resumableUploads) checkOpenUploads(key string) error {
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return fmt.Errorf("list resumable uploads: %w", err)
	}

	total, mine := 0, 0
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), infoSuffix)
		if !ok || !store.ValidID(id) {
			continue
		}
		if total++; total >= maxOpenUploads {
			return errServerOpenUploads
		}
		info, _, err := u.loadInfo(id)
		if err == nil && info.MetaData[metaOwner] == key {
			mine++
		}
	}
	if mine >= maxOpenUploadsPerUploader {
		return errTooManyOpenUploads
	}
	return nil
}

// uploadFiles groups the uploads folder's files by upload id.
type uploadFiles struct {
	bin, info, result bool
	lastActivity      time.Time
}

// scan lists the uploads folder by upload id. Files that belong to no
// valid id (left-over temporary files, anything put there by hand) are
// returned as strays.
func (u *resumableUploads) scan() (map[string]*uploadFiles, []string, error) {
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("list resumable uploads: %w", err)
	}

	uploads := map[string]*uploadFiles{}
	var strays []string
	for _, e := range entries {
		id, suffix := splitUploadFileName(e.Name())
		stat, err := e.Info()
		if !store.ValidID(id) || e.IsDir() || err != nil {
			strays = append(strays, e.Name())
			continue
		}

		files := uploads[id]
		if files == nil {
			files = &uploadFiles{}
			uploads[id] = files
		}
		switch suffix {
		case "":
			files.bin = true
		case infoSuffix:
			files.info = true
		case resultSuffix:
			files.result = true
		default:
			strays = append(strays, e.Name())
		}
		if stat.ModTime().After(files.lastActivity) {
			files.lastActivity = stat.ModTime()
		}
	}
	return uploads, strays, nil
}

func splitUploadFileName(name string) (id, suffix string) {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[:i], name[i:]
	}
	return name, ""
}

// expire removes every upload whose last activity is older than expiry
// and returns how many it removed.
func (u *resumableUploads) expire(now time.Time, expiry time.Duration) (int, error) {
	uploads, _, err := u.scan()
	if err != nil {
		return 0, err
	}

	removed := 0
	var errs []error
	for id, files := range uploads {
		if now.Sub(files.lastActivity) <= expiry {
			continue
		}
		if err := u.remove(id); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// clearStale runs at start, before any request. Besides expired uploads it
// removes what cannot continue: files without their partner, uploads whose
// bytes all arrived but whose processing a stop interrupted, and stray
// files. Unfinished uploads within their expiry stay, so clients resume
// them after a restart.
func (u *resumableUploads) clearStale(now time.Time, expiry time.Duration) (int, error) {
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return 0, fmt.Errorf("create uploads folder %s: %w", u.dir, err)
	}
	uploads, strays, err := u.scan()
	if err != nil {
		return 0, err
	}

	var errs []error
	for _, name := range strays {
		if err := os.RemoveAll(filepath.Join(u.dir, name)); err != nil {
			errs = append(errs, fmt.Errorf("remove stray upload file %s: %w", name, err))
		}
	}

	removed := 0
	for id, files := range uploads {
		if files.result && (files.bin || files.info) {
			// A stop between writing the result and removing the bytes.
			errs = append(errs, removeIfExists(u.path(id, "")), removeIfExists(u.path(id, infoSuffix)))
		}
		if !u.staleAtStart(id, files, now, expiry) {
			continue
		}
		if err := u.remove(id); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

func (u *resumableUploads) staleAtStart(id string, files *uploadFiles, now time.Time, expiry time.Duration) bool {
	if now.Sub(files.lastActivity) > expiry {
		return true
	}
	if files.result {
		return false
	}
	if !files.bin || !files.info {
		return true
	}
	info, _, err := u.loadInfo(id)
	return err != nil || info.Offset >= info.Size
}
