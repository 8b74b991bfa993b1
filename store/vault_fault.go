package store

import "io/fs"

// WriteFault decides whether one write of chunk to an incoming file fails,
// and with which error; nil lets the write through.
type WriteFault func(chunk []byte) error

// FailWrites makes writes to incoming files fail as fault decides, and nil
// restores normal writes. Tests use it to show a full disk (syscall.ENOSPC)
// or a failing drive without filling a real one. The server never calls it.
func (v *Vault) FailWrites(fault WriteFault) {
	if fault == nil {
		v.writeFault.Store(nil)
		return
	}
	v.writeFault.Store(&fault)
}

// Write writes chunk to the incoming file, unless a fault installed with
// FailWrites fails it first.
func (in *Incoming) Write(chunk []byte) (int, error) {
	if fault := in.vault.writeFault.Load(); fault != nil {
		if err := (*fault)(chunk); err != nil {
			return 0, &fs.PathError{Op: "write", Path: in.name, Err: err}
		}
	}
	return in.File.Write(chunk)
}
