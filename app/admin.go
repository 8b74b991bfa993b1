package app

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/app/intake"
	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/views"
)

// staleSignatures is the age past which the admin page warns: freshclam
// normally updates the databases several times a day.
const staleSignatures = 7 * 24 * time.Hour

func (s *Server) adminRoutes(pages *echo.Group) {
	admin := pages.Group("/admin", requireAdmin)
	admin.GET("", s.adminPage)
	admin.POST("/scanner/test", s.adminTestScanner)
	admin.POST("/scanner/rescan", s.adminRescan)
	s.quotaRoutes(admin)
}

func (s *Server) adminPage(c echo.Context) error {
	data, err := s.adminData(c.Request().Context())
	if err != nil {
		return err
	}
	data.Notice = adminNotice(c.QueryParam("notice"))
	return s.render(c, http.StatusOK, views.Admin(s.page(c, "Admin", "admin"), data))
}

func adminNotice(code string) string {
	switch code {
	case "rescanned":
		return "The rescan has finished; see the recent activity for what it found."
	}
	return ""
}

// adminData gathers the scanner's state, file counts and recent events.
func (s *Server) adminData(ctx context.Context) (views.AdminData, error) {
	var d views.AdminData
	d.ScanningOff = s.scanning == nil || s.scanning.Off()
	if !d.ScanningOff {
		s.describeScanner(ctx, &d)
	}

	counts, err := s.store.CountByStatus(ctx)
	if err != nil {
		return d, err
	}
	for _, status := range []string{store.StatusClean, store.StatusPending, store.StatusInfected, store.StatusUnscannable, store.StatusUnscanned, store.StatusMissing} {
		d.Counts = append(d.Counts, views.StatusCount{Label: statusLabel(status), Count: counts[status]})
	}

	events, err := s.store.AuditEvents(ctx, 100)
	if err != nil {
		return d, err
	}
	for _, ev := range events {
		d.Events = append(d.Events, views.AuditRow{
			At: ev.At.UTC().Format("2006-01-02 15:04:05"), Actor: ev.Actor, Client: ev.ClientAddr,
			Action: ev.Action, Target: ev.Target, Outcome: ev.Outcome, Detail: ev.Detail,
		})
	}
	return d, nil
}

func (s *Server) describeScanner(ctx context.Context, d *views.AdminData) {
	sc, version := s.scanning.Current()
	if sc == nil {
		return
	}
	vctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if v, err := sc.Version(vctx); err == nil {
		version = v
	}

	d.ScannerName = sc.Name()
	d.Engine = version.Engine
	d.Signatures, d.SignatureDate = "unknown (local database only)", "unknown"
	if version.Signatures > 0 {
		d.Signatures = fmt.Sprint(version.Signatures)
	}
	if !version.SignatureDate.IsZero() {
		d.SignatureDate = version.SignatureDate.Format("2 Jan 2006 15:04")
		d.SignaturesOld = s.now().Sub(version.SignatureDate) > staleSignatures
	}

	switch limit := s.scanning.Limit(); {
	case limit == intake.LimitUnknown:
		d.Limit = "being measured"
	case limit < int64(s.cfg.MaxFileSize):
		d.Limit = config.FormatBytes(limit)
		d.LimitWarning = fmt.Sprintf("The scanner checks files only up to %s, but --max-file-size allows %s, so larger uploads are refused. "+
			"Raise MaxFileSize, MaxScanSize and StreamMaxLength in clamd.conf to %s or more and restart clamd.",
			config.FormatBytes(limit), s.cfg.MaxFileSize, s.cfg.MaxFileSize)
	default:
		d.Limit = config.FormatBytes(limit) + " (the whole --max-file-size)"
	}
}

// adminTestScanner scans the EICAR test file from memory and shows the
// verdict: a working scanner must report it infected.
func (s *Server) adminTestScanner(c echo.Context) error {
	ctx := c.Request().Context()
	data, err := s.adminData(ctx)
	if err != nil {
		return err
	}

	data.TestResult, data.TestOK = s.testScanner(ctx)
	return s.render(c, http.StatusOK, views.Admin(s.page(c, "Admin", "admin"), data))
}

func (s *Server) testScanner(ctx context.Context) (string, bool) {
	sc, _ := s.scanning.Current()
	if sc == nil {
		return "No scanner is available to test.", false
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	res, err := sc.Scan(ctx, bytes.NewReader(scanner.EICAR()))
	switch {
	case err != nil:
		return "The scan failed: " + err.Error(), false
	case res.Verdict == scanner.Infected:
		return "The scanner works: it found " + res.Signature + " in the EICAR test file.", true
	}
	return fmt.Sprintf("The scanner did NOT detect the EICAR test file (verdict %q). Check its signature database.", res.Verdict), false
}

// adminRescan rescans every clean file with the current scanner.
//
// NOTE: the rescan runs within the request, so on a large vault the page
// takes as long as the scans; "vaultdrop rescan" is the tool for that case.
func (s *Server) adminRescan(c echo.Context) error {
	user, _ := currentUser(c)
	sum, err := s.intake.Rescan(context.WithoutCancel(c.Request().Context()), true, nil)
	if err != nil {
		return err
	}
	s.audit(c, user.Username, "rescan", "files", store.OutcomeSuccess,
		fmt.Sprintf("scanned %d: %d clean, %d infected, %d failed", sum.Scanned, sum.Clean, sum.Infected, sum.Failed))
	return redirect(c, "/admin?notice=rescanned")
}
