package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// orphansDir contains files found in the vault without a row. Start-up
// recovery moves them there instead of deleting them, so an operator can
// look at them. Nothing in it is ever served.
const orphansDir = "orphans"

// VaultContents is the list of files in the vault folders, by file id.
type VaultContents struct {
	Stored      map[string]bool // vault/<ab>/<id>: served when the row allows it
	Quarantined map[string]bool // vault/quarantine/<ab>/<id>: never served
	Orphans     []string        // ids in vault/orphans, set aside at an earlier start
	// Unexpected are vault-relative paths of entries that no vaultdrop
	// version writes, such as a file whose name is not an id.
	Unexpected []string
}

// List walks the vault's shard folders. Files being received in
// vault/incoming are not listed.
func (v *Vault) List() (VaultContents, error) {
	c := VaultContents{Stored: map[string]bool{}, Quarantined: map[string]bool{}}
	fsys := v.root.FS()

	top, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return c, fmt.Errorf("list vault %s: %w", v.dir, err)
	}
	for _, e := range top {
		switch name := e.Name(); {
		case name == incomingDir:
		case name == quarantineDir:
			if err := v.listShards(quarantineDir, c.Quarantined, &c.Unexpected); err != nil {
				return c, err
			}
		case name == orphansDir:
			orphans, err := fs.ReadDir(fsys, orphansDir)
			if err != nil {
				return c, fmt.Errorf("list vault orphans: %w", err)
			}
			for _, o := range orphans {
				c.Orphans = append(c.Orphans, o.Name())
			}
		case e.IsDir() && len(name) == 2:
			if err := v.listShard(name, c.Stored, &c.Unexpected); err != nil {
				return c, err
			}
		default:
			c.Unexpected = append(c.Unexpected, name)
		}
	}
	return c, nil
}

// listShards lists every shard folder under dir.
func (v *Vault) listShards(dir string, ids map[string]bool, unexpected *[]string) error {
	shards, err := fs.ReadDir(v.root.FS(), dir)
	if err != nil {
		return fmt.Errorf("list vault folder %s: %w", dir, err)
	}
	for _, s := range shards {
		if !s.IsDir() || len(s.Name()) != 2 {
			*unexpected = append(*unexpected, path.Join(dir, s.Name()))
			continue
		}
		if err := v.listShard(path.Join(dir, s.Name()), ids, unexpected); err != nil {
			return err
		}
	}
	return nil
}

// listShard adds the ids of the files in one shard folder.
func (v *Vault) listShard(shard string, ids map[string]bool, unexpected *[]string) error {
	files, err := fs.ReadDir(v.root.FS(), shard)
	if err != nil {
		return fmt.Errorf("list vault folder %s: %w", shard, err)
	}
	prefix := path.Base(shard)
	for _, f := range files {
		id := f.Name()
		if !f.Type().IsRegular() || !ValidID(id) || id[:2] != prefix {
			*unexpected = append(*unexpected, path.Join(shard, id))
			continue
		}
		ids[id] = true
	}
	return nil
}

// SetAsideOrphan moves the file of id that has no row out of the served
// vault (or quarantine) into vault/orphans, keeping its bytes.
func (v *Vault) SetAsideOrphan(id string, quarantined bool) error {
	p, err := storedPath(id)
	if err != nil {
		return err
	}
	if quarantined {
		p = path.Join(quarantineDir, p)
	}

	if err := v.root.MkdirAll(orphansDir, 0o700); err != nil {
		return fmt.Errorf("create vault folder %s: %w", orphansDir, err)
	}
	if err := v.root.Rename(p, path.Join(orphansDir, id)); err != nil {
		return fmt.Errorf("set aside orphan %s: %w", id, err)
	}
	return v.syncDir(orphansDir)
}

// OrphansDir returns the path of the folder that holds set-aside orphans.
func (v *Vault) OrphansDir() string {
	return filepath.Join(v.dir, orphansDir)
}

// OpenAny opens the bytes of id wherever they are: in the served vault
// first, then in quarantine. It reports which one it opened.
func (v *Vault) OpenAny(id string) (f *os.File, quarantined bool, err error) {
	f, err = v.Open(id)
	if err == nil {
		return f, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	f, err = v.OpenQuarantined(id)
	return f, true, err
}
