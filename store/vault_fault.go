package store

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
