package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/vaultdrop/vaultdrop/app"
	"github.com/vaultdrop/vaultdrop/app/auth"
	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
)

// runUser runs "vaultdrop user add NAME [--admin] --password-stdin".
func runUser(ctx context.Context, args []string, e env) error {
	if len(args) > 0 && args[0] == "quota" {
		return runUserQuota(ctx, args[1:], e)
	}
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(e.stderr, "usage: vaultdrop user add NAME [--admin] --password-stdin [--data-dir DIR]")
		return errUsage
	}

	fs, dataDir := newCommandFlags("user add", "vaultdrop user add NAME [--admin] --password-stdin [flags]", e)
	admin := fs.Bool("admin", false, "make the user an administrator")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input (one line); required")
	name, err := parseWithName(fs, args[1:], e)
	if err != nil {
		return err
	}
	if !*fromStdin {
		return errors.New("give --password-stdin and the password as one line on standard input, so it stays out of the shell history")
	}
	if err := app.ValidateUsername(name); err != nil {
		return fmt.Errorf("invalid username %q: %w", name, err)
	}

	password, err := readPassword(e)
	if err != nil {
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}

	st, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()

	ev := store.AuditEvent{Actor: "cli", ClientAddr: "local", Action: "user_create", Detail: fmt.Sprintf("admin=%t", *admin)}
	_, err = st.CreateUser(ctx, store.User{Username: name, PasswordHash: hash, IsAdmin: *admin}, ev)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("user %q already exists; pick another name", name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "created user %s (admin: %t)\n", name, *admin)
	return nil
}

// runToken runs "vaultdrop token create --user NAME [--name LABEL]".
func runToken(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(e.stderr, "usage: vaultdrop token create --user NAME [--name LABEL] [--data-dir DIR]")
		return errUsage
	}

	fs, dataDir := newCommandFlags("token create", "vaultdrop token create --user NAME [--name LABEL] [flags]", e)
	username := fs.String("user", "", "`name` of the user the token acts as; required")
	label := fs.String("name", "cli", "`label` that tells this token apart from the user's others")
	if err := parseFlags(fs, args[1:], e); err != nil {
		return err
	}
	if *username == "" {
		return errors.New("give --user NAME: the user the token acts as")
	}

	st, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()

	user, err := st.UserByName(ctx, *username)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("user %q not found; create it with: vaultdrop user add %s --password-stdin", *username, *username)
	}
	if err != nil {
		return err
	}

	token := auth.NewToken(auth.PrefixAPIToken)
	ev := store.AuditEvent{Actor: "cli", ClientAddr: "local", Action: "token_create", Detail: "label " + *label + " for " + user.Username}
	if _, err := st.CreateAPIToken(ctx, store.APIToken{UserID: user.ID, Name: *label, TokenHash: auth.HashToken(token)}, ev); err != nil {
		return err
	}
	// The token alone on standard output, so scripts can capture it.
	fmt.Fprintln(e.stdout, token)
	return nil
}

// readPassword reads one line from standard input, without its line end.
func readPassword(e env) (string, error) {
	line, err := bufio.NewReaderSize(e.stdin, 4096).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on standard input: pipe it in, for example: printf '%s\\n' \"$PASSWORD\" | vaultdrop user add NAME --password-stdin")
	}
	password := strings.TrimRight(line, "\r\n")
	if err := auth.CheckPasswordPolicy(password); err != nil {
		return "", err
	}
	return password, nil
}

// newCommandFlags returns a flag set with --data-dir already bound.
func newCommandFlags(name, synopsis string, e env) (*config.FlagSet, *string) {
	fs := config.NewFlagSet(name, synopsis, e.stderr)
	dataDir := new(string)
	defaultDir, _ := config.DefaultDataDir(e.getenv)
	config.BindDataDir(fs, dataDir, defaultDir)
	return fs, dataDir
}

func parseFlags(fs *config.FlagSet, args []string, e env) error {
	if err := fs.Parse(args, e.getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelpShown
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	return nil
}

// parseWithName parses flags around one positional NAME, which may come
// before or after the flags.
func parseWithName(fs *config.FlagSet, args []string, e env) (string, error) {
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args, e.getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", errHelpShown
		}
		return "", errUsage
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "unexpected argument %q\n", fs.Arg(0))
		return "", errUsage
	}
	if name == "" {
		fmt.Fprintln(e.stderr, "missing the user NAME")
		return "", errUsage
	}
	return name, nil
}

// openStore opens the database of a data directory for a CLI command. It
// works while a server runs on the same directory: SQLite's WAL mode and
// busy timeout let both write.
func openStore(ctx context.Context, dataDir string) (*store.Store, error) {
	if dataDir == "" {
		return nil, errors.New("no data directory: give --data-dir DIR")
	}
	if err := config.PrepareDataDir(dataDir); err != nil {
		return nil, err
	}
	return store.Open(ctx, dataDir, nil)
}
