package app

import (
	"context"
	"time"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/scanner"
)

// probeInterval is how often the scannable limit is measured again; clamd's
// configuration can change with a package upgrade or an operator's edit.
const probeInterval = 24 * time.Hour

// runProbes measures the scanner's real size limit at start and daily, and
// again whenever the scanner changes.
func (s *Server) runProbes(ctx context.Context) {
	var probedAt time.Time
	for {
		sc, _ := s.scanning.Current()
		due := s.scanning.Limit() < 0 || s.now().Sub(probedAt) >= probeInterval
		if sc != nil && due {
			if s.ProbeScannerLimit(ctx) == nil {
				probedAt = s.now()
			}
		}

		select {
		case <-ctx.Done():
			return
		case <-time.After(30 * time.Second):
		}
	}
}

// ProbeScannerLimit measures the largest file, up to --max-file-size, in
// which the scanner still finds the EICAR test file, and records it. Larger
// uploads are refused as unscannable.
func (s *Server) ProbeScannerLimit(ctx context.Context) error {
	sc, _ := s.scanning.Current()
	if sc == nil {
		return scanner.ErrUnavailable
	}

	start := s.now()
	limit, err := scanner.ProbeLimit(ctx, sc, int64(s.cfg.MaxFileSize))
	if err != nil {
		s.log.Warn("measure the scanner's size limit; retrying later", "scanner", sc.Name(), "err", err)
		return err
	}
	if cur, _ := s.scanning.Current(); cur != sc {
		return nil // the scanner changed during the probe; the next probe measures the new one
	}

	s.scanning.SetLimit(limit)
	attrs := []any{"scanner", sc.Name(), "scannable_limit", config.FormatBytes(limit), "duration", s.now().Sub(start)}
	if limit < int64(s.cfg.MaxFileSize) {
		s.log.Warn("the scanner checks smaller files than --max-file-size allows; larger uploads are refused as unscannable",
			append(attrs, "max_file_size", s.cfg.MaxFileSize.String(),
				"fix", "raise MaxFileSize, MaxScanSize and StreamMaxLength in clamd.conf to at least --max-file-size")...)
	} else {
		s.log.Info("scanner size limit measured", attrs...)
	}
	s.WakeRetries()
	return nil
}
