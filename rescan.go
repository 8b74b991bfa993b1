package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/app/filetype"
	"github.com/vaultdrop/vaultdrop/app/intake"
	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/store"
)

// runRescan runs "vaultdrop rescan [--all]": it scans stored clean files
// again, by default those judged by older signatures than the scanner now
// has. It works while a server runs on the same data directory.
func runRescan(ctx context.Context, args []string, e env) error {
	cfg := config.Defaults()
	fs, dataDir := newCommandFlags("rescan", "vaultdrop rescan [--all] [flags]", e)
	all := fs.Bool("all", false, "rescan every clean file, not only those judged by older signatures")
	cfg.BindScanner(fs)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if cfg.ScannerOff() {
		return errors.New("rescan needs a scanner: give --scanner auto, clamd or clamscan")
	}

	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sc, version, err := findScanner(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("find a scanner: %w", err)
	}
	st, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	vault, err := store.OpenVault(*dataDir)
	if err != nil {
		return err
	}
	defer vault.Close()

	// The policy is unused by a rescan, which reads no new names.
	policy, err := filetype.NewPolicy(nil, nil)
	if err != nil {
		return err
	}
	scanning := intake.NewScanning(false, sc, version, scanStall)
	pipeline := intake.New(intake.Config{ScanTimeout: cfg.ScanTimeout}, vault, st, policy, scanning, log, nil)

	fmt.Fprintf(e.stdout, "rescanning with %s %s\n", sc.Name(), version)
	sum, err := pipeline.Rescan(ctx, *all, func(f store.File, res scanner.Result, err error) {
		switch {
		case err != nil:
			fmt.Fprintf(e.stdout, "failed    %s %q: %v\n", f.ID, f.Name, err)
		case res.Verdict != scanner.Clean:
			fmt.Fprintf(e.stdout, "INFECTED  %s %q: %s, moved to quarantine\n", f.ID, f.Name, res.Signature)
		default:
			fmt.Fprintf(e.stdout, "clean     %s %q\n", f.ID, f.Name)
		}
	})
	fmt.Fprintf(e.stdout, "scanned %d: %d clean, %d infected, %d failed; %d already judged by current signatures\n",
		sum.Scanned, sum.Clean, sum.Infected, sum.Failed, sum.Skipped)
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d files could not be scanned; they keep their status", sum.Failed)
	}
	return nil
}
