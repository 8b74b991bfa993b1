package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/vaultdrop/vaultdrop/app"
	"github.com/vaultdrop/vaultdrop/app/auth"
	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/app/filetype"
	"github.com/vaultdrop/vaultdrop/app/intake"
	"github.com/vaultdrop/vaultdrop/scanner"
	"github.com/vaultdrop/vaultdrop/store"
)

// runServe runs "vaultdrop serve": parse, check, open the data directory,
// wire the parts, listen, and serve until a signal arrives.
func runServe(ctx context.Context, args []string, e env) error {
	cfg, err := parseServeConfig(args, e)
	if err != nil {
		return err
	}
	log := newLogger(cfg, e.stderr)

	if err := config.PrepareDataDir(cfg.DataDir); err != nil {
		return err
	}
	lock, err := store.LockDataDir(cfg.DataDir)
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("another vaultdrop server is already using the data directory %s; stop it first, or give another --data-dir", cfg.DataDir)
	}
	if err != nil {
		return err
	}
	defer lock.Unlock()

	st, vault, err := openData(ctx, cfg.DataDir, log)
	if err != nil {
		return err
	}
	defer st.Close()
	defer vault.Close()

	srv, scanning, err := buildServer(ctx, cfg, st, vault, log)
	if err != nil {
		return err
	}

	ln, err := listen(cfg, log)
	if err != nil {
		return err
	}
	base := baseURL(cfg, ln)
	setupURL, err := announce(ctx, st, base, e.stdout, log)
	if err != nil {
		ln.Close()
		return err
	}
	if cfg.Desktop {
		openDesktop(e.stdout, base, setupURL, cfg.DataDir, desktopBrowser(cfg), log)
	}

	log.Info("server started", "url", base, "data_dir", cfg.DataDir, "version", version,
		"max_file_size", cfg.MaxFileSize.String(), "scanner", cfg.Scanner)
	go srv.RunWorkers(ctx)
	if !cfg.ScannerOff() {
		go watchScanner(ctx, cfg, scanning, srv, log)
	}
	return srv.Serve(ctx, ln)
}

func parseServeConfig(args []string, e env) (config.Config, error) {
	cfg := config.Defaults()
	fs, dataDir := newCommandFlags("serve", "vaultdrop [serve] [flags]", e)
	cfg.BindServe(fs)
	if err := parseFlags(fs, args, e); err != nil {
		return cfg, err
	}

	cfg.DataDir = *dataDir
	cfg.AddrExplicit = fs.Given("addr")
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // checked by Validate
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openData opens the database and the vault, and checks and repairs them
// after an earlier run that stopped mid-way (see app.RecoverAtStart).
func openData(ctx context.Context, dataDir string, log *slog.Logger) (*store.Store, *store.Vault, error) {
	st, err := store.Open(ctx, dataDir, nil)
	if err != nil {
		return nil, nil, app.DatabaseOpenError(dataDir, err)
	}
	vault, err := store.OpenVault(dataDir)
	if err != nil {
		st.Close()
		return nil, nil, err
	}

	if err := app.RecoverAtStart(ctx, st, vault, dataDir, log); err != nil {
		st.Close()
		vault.Close()
		return nil, nil, err
	}
	return st, vault, nil
}

// buildServer wires the type policy, the scanner, the intake pipeline and
// the HTTP server.
func buildServer(ctx context.Context, cfg config.Config, st *store.Store, vault *store.Vault, log *slog.Logger) (*app.Server, *intake.Scanning, error) {
	policy, err := filetype.NewPolicy(cfg.Allow, cfg.Deny)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid --allow or --deny: %w", err)
	}

	scanning := setupScanning(ctx, cfg, log)
	pipeline := intake.New(intake.Config{
		MaxFileSize:  int64(cfg.MaxFileSize),
		MinFreeSpace: int64(cfg.MinFreeSpace),
		ScanWait:     cfg.ScanWait,
		ScanTimeout:  cfg.ScanTimeout,
		UserQuota:    int64(cfg.UserQuota),
	}, vault, st, policy, scanning, log, nil)

	srv, err := app.New(app.Deps{
		Config: cfg, Store: st, Vault: vault, Intake: pipeline, Scanning: scanning,
		Log: log, Version: version,
	})
	return srv, scanning, err
}

// setupScanning finds the scanner the configuration asks for. A missing
// scanner does not stop the server: uploads wait as pending until one
// appears, and every page says so.
func setupScanning(ctx context.Context, cfg config.Config, log *slog.Logger) *intake.Scanning {
	if cfg.ScannerOff() {
		log.Warn("virus scanning is off (--scanner off): files are stored and served unscanned")
		return intake.NewScanning(true, nil, scanner.Version{}, cfg.ScanTimeout)
	}

	sc, v, err := findScanner(ctx, cfg, log)
	if err != nil {
		log.Warn("no virus scanner available; uploads are held as pending until one is",
			"err", err, "fix", "install ClamAV (Debian/Ubuntu: apt install clamav-daemon) or start with --scanner off")
	}
	return intake.NewScanning(false, sc, v, scanStall)
}

// scanStall is the longest the upload waits for the scanner to take one
// chunk before it gives up on the scan and holds the file as pending.
const scanStall = 30 * time.Second

func detectConfig(cfg config.Config) scanner.DetectConfig {
	return scanner.DetectConfig{
		ClamdAddress:    cfg.ClamdAddress,
		ClamscanPath:    cfg.ClamscanPath,
		ScanTimeout:     cfg.ScanTimeout,
		ClamscanTimeout: cfg.ScanTimeout,
	}
}

func findScanner(ctx context.Context, cfg config.Config, log *slog.Logger) (scanner.Scanner, scanner.Version, error) {
	sc, err := scanner.New(ctx, cfg.Scanner, detectConfig(cfg), log)
	if err != nil {
		return nil, scanner.Version{}, err
	}
	vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, _ := sc.Version(vctx) // an explicit scanner may be down at start
	return sc, v, nil
}

// watchScanner looks for a scanner every 30 seconds while none is in use,
// and wakes the retry worker when one appears.
func watchScanner(ctx context.Context, cfg config.Config, scanning *intake.Scanning, srv *app.Server, log *slog.Logger) {
	ticker := time.NewTicker(30 * time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if sc, _ := scanning.Current(); sc != nil {
			continue
		}
		sc, v, err := findScanner(ctx, cfg, log)
		if err != nil {
			log.Debug("still no virus scanner", "err", err)
			continue
		}
		scanning.Set(sc, v)
		log.Info("virus scanner found; scanning pending files", "scanner", sc.Name(), "engine", v.Engine)
		srv.WakeRetries()
	}
}

// baseURL is the address people open: --base-url, or the listener's.
func baseURL(cfg config.Config, ln net.Listener) string {
	if cfg.BaseURL != "" {
		return cfg.BaseURL
	}
	return listenURL(cfg, ln)
}

// announce prints where the server listens and, on first run, the one-time
// setup URL, which it returns ("" once an account exists). Each start
// replaces the setup token, so an old URL stops working.
func announce(ctx context.Context, st *store.Store, base string, stdout io.Writer, log *slog.Logger) (string, error) {
	users, err := st.CountUsers(ctx)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(stdout, "vaultdrop is listening on %s\n", base)
	if users > 0 {
		return "", nil
	}

	token := auth.NewToken(auth.PrefixSetup)
	if err := st.SetSetupTokenHash(ctx, auth.HashTokenHex(token)); err != nil {
		return "", err
	}
	setupURL := base + "/setup?token=" + token
	fmt.Fprintf(stdout, "No account exists yet. Create the administrator at:\n  %s\n", setupURL)
	// The setup URL is logged on purpose, because it is the one way to reach
	// a fresh server that runs as a service. It stops working once an admin
	// exists.
	log.Info("first run: open the setup URL to create the administrator", "setup_url", setupURL)
	return setupURL, nil
}
