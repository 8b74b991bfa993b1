package config

import (
	"fmt"
	"time"
)

// minUploadChunkSize is the smallest accepted --upload-chunk-size. Smaller
// chunks would turn a large file into thousands of requests.
const minUploadChunkSize = 1 << 20

// ResumableUploads are the settings of resumable (tus) uploads.
type ResumableUploads struct {
	// UploadExpiry is how long an unfinished upload is kept after its last
	// byte arrived before it is deleted.
	UploadExpiry time.Duration
	// UploadChunkSize is the largest request body one resumable upload
	// request may carry. The browser splits files into chunks of this size,
	// so uploads pass reverse proxies that cap request bodies.
	UploadChunkSize Size
}

// DefaultResumableUploads returns the settings used when no flag is given.
// 32 MiB chunks stay well below the 100 MB body cap common in reverse
// proxies and CDNs.
func DefaultResumableUploads() ResumableUploads {
	return ResumableUploads{
		UploadExpiry:    24 * time.Hour,
		UploadChunkSize: 32 << 20,
	}
}

// bind registers the flags of ResumableUploads.
func (u *ResumableUploads) bind(fs *FlagSet) {
	fs.DurationVar(&u.UploadExpiry, "upload-expiry", u.UploadExpiry,
		"delete an unfinished resumable upload this long after its last byte arrived, as a Go `duration`")
	fs.Var(&u.UploadChunkSize, "upload-chunk-size",
		"largest request body of a resumable upload, a `size` such as 32MiB; keep it below your reverse proxy's body limit")
}

// validate returns one error per invalid setting.
func (u *ResumableUploads) validate() []error {
	var errs []error
	if u.UploadExpiry < time.Minute {
		errs = append(errs, fmt.Errorf("--upload-expiry must be at least 1m, got %s", u.UploadExpiry))
	}
	if u.UploadChunkSize < minUploadChunkSize {
		errs = append(errs, fmt.Errorf("--upload-chunk-size must be at least %s, got %s", Size(minUploadChunkSize), u.UploadChunkSize))
	}
	return errs
}
