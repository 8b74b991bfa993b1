package app

import (
	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/views"
)

// uploadScript configures the page script that sends files as resumable
// uploads, with the limits it checks before sending.
func (s *Server) uploadScript() views.UploadScript {
	return views.UploadScript{
		Endpoint:    uploadsPath,
		ChunkSize:   int64(s.cfg.Resumable.UploadChunkSize),
		MaxFileSize: int64(s.cfg.MaxFileSize),
		MaxFileText: config.FormatBytes(int64(s.cfg.MaxFileSize)),
		Allowed:     s.intake.AllowedExtensions(),
	}
}

// dropUploadScript is uploadScript for a drop link's page: uploads go to
// the endpoint under the link's path.
func (s *Server) dropUploadScript(linkPath string) views.UploadScript {
	u := s.uploadScript()
	u.Endpoint = linkPath + "/uploads/"
	return u
}
