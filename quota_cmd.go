package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
)

// runUserQuota runs "vaultdrop user quota NAME SIZE": it sets one user's
// storage quota. SIZE is a size such as 10GiB, "unlimited" (or 0) for no
// quota, or "default" to return the user to the server's --user-quota. A
// running server applies it to uploads that start afterwards.
func runUserQuota(ctx context.Context, args []string, e env) error {
	fs, dataDir := newCommandFlags("user quota", "vaultdrop user quota NAME SIZE|unlimited|default [flags]", e)
	name, size, err := parseNameAndSize(fs, args, e)
	if err != nil {
		return err
	}
	quota, err := config.ParseQuota(size)
	if err != nil {
		return err
	}

	st, err := openStore(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()

	user, err := st.UserByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("user %q not found", name)
	}
	if err != nil {
		return err
	}

	ev := store.AuditEvent{Actor: "cli", ClientAddr: "local", Action: "quota_set", Target: "user:" + user.Username,
		Detail: "quota " + config.DescribeQuota(quota)}
	if err := st.SetUserQuota(ctx, user.ID, quota, ev); err != nil {
		return err
	}
	usage, err := st.StorageOf(ctx, user.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "quota of %s: %s; %s used by %d files\n",
		user.Username, config.DescribeQuota(quota), config.FormatBytes(usage.Used), usage.Files)
	return nil
}

// parseNameAndSize parses flags around the two positional arguments.
func parseNameAndSize(fs *config.FlagSet, args []string, e env) (name, size string, err error) {
	var positional []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		positional, args = append(positional, args[0]), args[1:]
	}
	if err := fs.Parse(args, e.getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", "", errHelpShown
		}
		return "", "", errUsage
	}
	positional = append(positional, fs.Args()...)
	if len(positional) != 2 {
		fmt.Fprintln(e.stderr, "usage: vaultdrop user quota NAME SIZE|unlimited|default [--data-dir DIR]")
		return "", "", errUsage
	}
	return positional[0], positional[1], nil
}
