package intake

import (
	"context"
	"fmt"
	"sync"

	"github.com/vaultdrop/vaultdrop/app/config"
	"github.com/vaultdrop/vaultdrop/store"
)

// quotas keeps each owner's uploads within their storage quota. Bytes of
// uploads in progress are reserved in memory under one mutex, next to the
// owner's stored bytes, so two concurrent uploads cannot both pass a quota
// that only one of them fits.
//
// NOTE: an owner's stored bytes are read from the database when their first
// upload in progress starts and are then kept in memory until their last
// one ends. Files deleted meanwhile free their space only for uploads
// started after that, so the check errs on the side of rejecting.
type quotas struct {
	store        *store.Store
	defaultQuota int64 // --user-quota; 0 means unlimited

	mu    sync.Mutex
	users map[string]*ownerUsage // only owners with a quota and uploads in progress
}

// ownerUsage is one owner's storage while they have uploads in progress.
type ownerUsage struct {
	limit    int64 // bytes; 0 means unlimited
	stored   int64 // bytes of stored files, plus uploads committed since
	reserved int64 // bytes held by uploads in progress
	uploads  int   // uploads in progress
}

// quotaHold is the space reserved by one upload in progress. A nil one (an
// owner without a quota) allows everything.
type quotaHold struct {
	quotas   *quotas
	ownerID  string
	usage    *ownerUsage
	reserved int64
	done     bool
}

func newQuotas(st *store.Store, defaultQuota int64) *quotas {
	return &quotas{store: st, defaultQuota: defaultQuota, users: map[string]*ownerUsage{}}
}

// limitOf returns the quota that applies to ownerID, 0 for unlimited.
func (q *quotas) limitOf(ctx context.Context, ownerID string) (int64, error) {
	own, set, err := q.store.QuotaSetting(ctx, ownerID)
	if err != nil {
		return 0, err
	}
	if set {
		return own, nil
	}
	return q.defaultQuota, nil
}

// begin reserves declared bytes (when declared is not -1) for a new upload of
// owner, refusing it when they do not fit.
func (q *quotas) begin(ctx context.Context, owner store.User, declared int64) (*quotaHold, error) {
	q.mu.Lock()
	defer q.mu.Unlock()

	usage, err := q.usageLocked(ctx, owner.ID)
	if err != nil || usage == nil {
		return nil, err
	}

	hold := &quotaHold{quotas: q, ownerID: owner.ID, usage: usage}
	if declared > 0 {
		if err := hold.reserveLocked(declared, true); err != nil {
			q.dropIfIdleLocked(owner.ID, usage)
			return nil, err
		}
	}
	usage.uploads++
	return hold, nil
}

// usageLocked returns the owner's usage, loading it from the database for
// the owner's first upload in progress. It returns nil for an owner
// without a quota.
func (q *quotas) usageLocked(ctx context.Context, ownerID string) (*ownerUsage, error) {
	if usage, ok := q.users[ownerID]; ok {
		return usage, nil
	}

	limit, err := q.limitOf(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("check storage quota: %w", err)
	}
	if limit == 0 {
		return nil, nil
	}
	stored, err := q.store.UsedBytes(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("check storage quota: %w", err)
	}

	usage := &ownerUsage{limit: limit, stored: stored}
	q.users[ownerID] = usage
	return usage, nil
}

func (q *quotas) dropIfIdleLocked(ownerID string, usage *ownerUsage) {
	if usage.uploads == 0 && usage.reserved == 0 {
		delete(q.users, ownerID)
	}
}

// refresh reloads an owner's quota after an admin changed it, so uploads
// already in progress are held to the new value.
func (q *quotas) refresh(ctx context.Context, ownerID string) error {
	limit, err := q.limitOf(ctx, ownerID)
	if err != nil {
		return err
	}

	q.mu.Lock()
	defer q.mu.Unlock()
	if usage, ok := q.users[ownerID]; ok {
		usage.limit = limit
	}
	return nil
}

// grow reserves space for total bytes of this upload, rejecting the upload
// when they no longer fit.
func (h *quotaHold) grow(total int64) error {
	if h == nil || total <= h.reserved {
		return nil
	}
	h.quotas.mu.Lock()
	defer h.quotas.mu.Unlock()
	return h.reserveLocked(total, false)
}

// reserveLocked raises the reservation to total bytes. declared is true
// when total is the size the client announced, and false when it is the
// bytes received so far. It changes only the wording of a rejection.
func (h *quotaHold) reserveLocked(total int64, declared bool) error {
	if err := h.checkLocked(total, declared); err != nil {
		return err
	}
	h.usage.reserved += total - h.reserved
	h.reserved = total
	return nil
}

// checkLocked returns the rejection of an upload of total bytes, or nil
// when they fit.
func (h *quotaHold) checkLocked(total int64, declared bool) error {
	u := h.usage
	if u.limit > 0 && total > u.limit {
		return overQuotaError(total, u.limit, declared)
	}
	if u.limit > 0 && u.stored+u.reserved-h.reserved+total > u.limit {
		return quotaFullError(u.limit, u.stored, u.reserved-h.reserved, total, declared)
	}
	return nil
}

// overWholeQuota reports whether total bytes are more than the owner's
// whole quota, which no deleted file would make room for.
func (h *quotaHold) overWholeQuota(total int64) bool {
	h.quotas.mu.Lock()
	defer h.quotas.mu.Unlock()
	return h.usage.limit > 0 && total > h.usage.limit
}

// rejection returns the rejection of total bytes, the whole file when
// complete is true, worded with the figures as they are now. Bytes that
// fit by now (files were deleted meanwhile) keep the earlier rejection,
// because they were read without being stored.
func (h *quotaHold) rejection(total int64, complete bool, earlier error) error {
	h.quotas.mu.Lock()
	defer h.quotas.mu.Unlock()
	if err := h.checkLocked(total, complete); err != nil {
		return err
	}
	return earlier
}

// commit turns the reservation into stored bytes once the file's row exists.
func (h *quotaHold) commit(size int64) {
	h.end(size)
}

// release gives the reservation back without storing anything. It is safe
// to call more than once and after commit.
func (h *quotaHold) release() {
	h.end(0)
}

func (h *quotaHold) end(stored int64) {
	if h == nil {
		return
	}
	h.quotas.mu.Lock()
	defer h.quotas.mu.Unlock()
	if h.done {
		return
	}
	h.done = true

	h.usage.reserved -= h.reserved
	h.usage.stored += stored
	h.usage.uploads--
	h.quotas.dropIfIdleLocked(h.ownerID, h.usage)
}

func overQuotaError(size, limit int64, declared bool) *Rejection {
	if declared {
		sizeText, limitText := config.FormatBytesApart(size, limit)
		return reject(ErrTooLarge,
			"The file is %s, larger than your whole storage quota of %s. Upload a smaller file, or ask an administrator to raise your quota.",
			sizeText, limitText)
	}
	return reject(ErrTooLarge,
		"The file is larger than your whole storage quota of %s. Upload a smaller file, or ask an administrator to raise your quota.",
		config.FormatBytes(limit))
}

func quotaFullError(limit, stored, others, total int64, declared bool) *Rejection {
	free := max(limit-stored-others, 0)
	totalText, freeText := config.FormatBytesApart(total, free)
	size := "This " + totalText + " file"
	if !declared {
		size = "This upload, at " + totalText + " so far,"
	}
	return reject(ErrInsufficientStorage,
		"%s does not fit in your storage quota of %s: your stored files use %s and your other uploads in progress %s, which leaves %s. "+
			"Delete files you no longer need, or ask an administrator to raise your quota.",
		size, config.FormatBytes(limit), config.FormatBytes(stored), config.FormatBytes(others), freeText)
}

// RefreshQuota applies an owner's changed quota to their uploads in
// progress. Call it after changing a user's quota setting.
func (p *Pipeline) RefreshQuota(ctx context.Context, ownerID string) error {
	return p.quotas.refresh(ctx, ownerID)
}
