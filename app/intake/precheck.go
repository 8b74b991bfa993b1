package intake

import "context"

// Precheck runs the checks that Receive makes before it reads a byte: the
// name is sanitised and checked against the allowlist, and the declared
// size against --max-file-size, the free-space reserve and the owner's
// storage quota. Channels that announce an upload before sending it
// (resumable uploads) call it so that a file that would be rejected is
// rejected before any of it arrives.
//
// It returns the sanitised name. A rejection is audited and logged as
// Receive does. Nothing is held: the same checks run again, and the quota
// is held, when the bytes go through Receive.
func (p *Pipeline) Precheck(ctx context.Context, up Upload) (string, error) {
	name, err := p.checkName(up.Name)
	if err == nil {
		err = p.checkDeclaredSize(up.DeclaredSize, true)
	}
	if err == nil {
		var hold *quotaHold
		hold, err = p.quotas.begin(ctx, up.Owner, up.DeclaredSize)
		hold.release()
	}
	if err != nil {
		p.auditRejection(ctx, up, nil, err)
		return "", err
	}
	return name, nil
}

// AllowedExtensions returns the extensions the type policy allows, sorted
// and without dots, for pages that check a file's name before sending it.
func (p *Pipeline) AllowedExtensions() []string {
	return p.policy.Extensions()
}
