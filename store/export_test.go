package store

import "context"

// OpenAtVersion opens a store migrated only up to version, to test
// upgrades of older databases.
func OpenAtVersion(ctx context.Context, dataDir string, version int) (*Store, error) {
	path := dataDir + "/" + DatabaseFile
	if err := createPrivateFile(path); err != nil {
		return nil, err
	}
	st, err := openHandles(path, nil)
	if err != nil {
		return nil, err
	}
	if err := st.migrate(ctx, version); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}
