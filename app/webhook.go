package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vaultdrop/vaultdrop/app/auth"
	"github.com/vaultdrop/vaultdrop/store"
	"github.com/vaultdrop/vaultdrop/views"
)

// maxWebhookURL is the longest webhook URL the settings page accepts.
const maxWebhookURL = 2048

// signatureHeader carries the HMAC-SHA256 of each notice; see signNotice.
const signatureHeader = "X-Vaultdrop-Signature"

// dropEvent is the JSON body the drop webhook receives for each file that
// arrives through a drop link. It never carries file content or a token.
type dropEvent struct {
	Event      string    `json:"event"` // always "drop.upload"
	DropID     string    `json:"drop_id"`
	DropLabel  string    `json:"drop_label"`
	FileID     string    `json:"file_id"`
	FileName   string    `json:"file_name"`
	Size       int64     `json:"size"`
	Status     string    `json:"status"` // the file's status when it was stored, such as clean or pending
	UploadedAt time.Time `json:"uploaded_at"`
}

// webhookSender POSTs drop events to the webhook URL an admin set, in the
// background, with a timeout per attempt and a bounded retry.
//
// NOTE: events wait only in memory, so those still being sent or retried
// when the server stops are lost, and when all delivery slots are busy a
// new event is dropped with a log record. The audit log keeps every upload.
type webhookSender struct {
	client    *http.Client
	slots     chan struct{} // bounds the deliveries in flight
	retries   []time.Duration
	userAgent string
	log       *slog.Logger
}

func newWebhookSender(log *slog.Logger, version string) *webhookSender {
	return &webhookSender{
		client: &http.Client{
			Timeout: 10 * time.Second,
			// A redirect could send the event somewhere the admin did not
			// choose, so it counts as a failed delivery.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		slots:     make(chan struct{}, 8),
		retries:   []time.Duration{500 * time.Millisecond, 2 * time.Second},
		userAgent: "vaultdrop/" + version,
		log:       log,
	}
}

// notifyDropUpload sends the drop webhook its event for a stored file,
// when a webhook URL is set. It returns at once.
func (s *Server) notifyDropUpload(d store.Drop, f store.File) {
	target, err := s.store.DropWebhookURL(context.Background())
	if err != nil {
		s.log.Error("read drop webhook URL", "err", err)
		return
	}
	if target == "" {
		return
	}
	secret, err := s.store.DropWebhookSecret(context.Background())
	if err != nil {
		s.log.Error("read drop webhook secret", "err", err)
		return
	}

	ev := dropEvent{
		Event: "drop.upload", DropID: d.ID, DropLabel: d.Label, FileID: f.ID, FileName: f.Name,
		Size: f.Size, Status: f.Status, UploadedAt: f.CreatedAt.UTC(),
	}
	s.webhook.send(target, secret, ev)
}

// send delivers ev in the background, or drops it when every delivery slot
// is busy.
func (w *webhookSender) send(target, secret string, ev dropEvent) {
	select {
	case w.slots <- struct{}{}:
	default:
		w.log.Warn("drop webhook busy; event dropped", "file_id", ev.FileID, "drop_id", ev.DropID)
		return
	}
	go func() {
		defer func() { <-w.slots }()
		w.deliver(target, secret, ev)
	}()
}

// deliver POSTs ev until the receiver responds 2xx or the retries run out.
// Logs name the receiver's host only, because webhook URLs often carry a
// secret in their path or query.
func (w *webhookSender) deliver(target, secret string, ev dropEvent) {
	body, err := json.Marshal(ev)
	if err != nil {
		w.log.Error("encode drop webhook event", "file_id", ev.FileID, "err", err)
		return
	}
	host := webhookHost(target)

	for attempt := 1; ; attempt++ {
		err := w.post(target, secret, body)
		if err == nil {
			w.log.Debug("drop webhook delivered", "host", host, "file_id", ev.FileID, "attempt", attempt)
			return
		}
		if attempt > len(w.retries) {
			w.log.Error("drop webhook failed; event dropped", "host", host, "file_id", ev.FileID, "attempts", attempt, "err", err)
			return
		}
		w.log.Warn("drop webhook failed; retrying", "host", host, "file_id", ev.FileID, "attempt", attempt, "err", err)
		time.Sleep(w.retries[attempt-1])
	}
}

func (w *webhookSender) post(target, secret string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return errors.New("invalid webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.userAgent)
	if secret != "" {
		req.Header.Set(signatureHeader, signNotice(secret, time.Now(), body))
	}

	resp, err := w.client.Do(req)
	if err != nil {
		// The *url.Error repeats the URL, which may hold a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver responded %s", resp.Status)
	}
	return nil
}

// signNotice returns the signature header of a notice sent at: the Unix
// time and the hex HMAC-SHA256, keyed with secret, of the time, a dot and
// the body. The time lets a receiver reject a notice replayed later, and
// each attempt is signed anew.
func signNotice(secret string, at time.Time, body []byte) string {
	t := fmt.Sprint(at.Unix())
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(t + "."))
	mac.Write(body)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

func webhookHost(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Host
}

// checkWebhookURL checks a webhook URL from the settings form: "" turns the
// webhook off; anything else must be an absolute http or https URL.
func checkWebhookURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || len(raw) > maxWebhookURL || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", apiError(http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("The webhook URL must be an absolute http:// or https:// URL of at most %d characters, or empty to turn the webhook off.", maxWebhookURL))
	}
	return u.String(), nil
}

// settingsRoutes registers the admin settings page.
func (s *Server) settingsRoutes(pages *echo.Group) {
	admin := pages.Group("/admin", requireAdmin)
	// The page shows the webhook's signing secret, so no cache may keep it.
	admin.GET("/settings", s.settingsPage, noStore)
	admin.POST("/settings", s.settingsPost)
	admin.POST("/settings/webhook-secret", s.webhookSecretPost)
}

func (s *Server) settingsPage(c echo.Context) error {
	ctx := c.Request().Context()
	target, err := s.store.DropWebhookURL(ctx)
	if err != nil {
		return err
	}
	secret, err := s.store.DropWebhookSecret(ctx)
	if err != nil {
		return err
	}

	data := views.SettingsData{WebhookURL: target, WebhookSecret: secret}
	switch c.QueryParam("notice") {
	case "saved":
		data.Notice = "The settings were saved."
	case "secret":
		data.Notice = "A new signing secret was made. Give it to the webhook's receiver: notices signed with the old one will fail its check."
	}
	return s.render(c, http.StatusOK, views.Settings(s.page(c, "Settings", "admin"), data))
}

func (s *Server) settingsPost(c echo.Context) error {
	user, _ := currentUser(c)
	raw := c.FormValue("drop_webhook_url")
	target, err := checkWebhookURL(raw)
	if err != nil {
		data := views.SettingsData{WebhookURL: raw, Error: s.classify(err).Message}
		return s.render(c, http.StatusBadRequest, views.Settings(s.page(c, "Settings", "admin"), data))
	}

	detail := "drop webhook turned off"
	if target != "" {
		detail = "drop webhook set to a URL on host " + webhookHost(target)
	}
	ev := s.auditEvent(c, user.Username, "settings", "", store.OutcomeSuccess, detail)
	if err := s.store.SetDropWebhookURL(auditCtx(c), target, ev); err != nil {
		return err
	}
	ev.Target = "setting:drop_webhook_url"
	s.logAudit(ev)

	if target != "" {
		if err := s.ensureWebhookSecret(c, user.Username); err != nil {
			return err
		}
	}
	return redirect(c, "/admin/settings?notice=saved")
}

// ensureWebhookSecret makes the signing secret when a webhook is set for
// the first time. A secret already made is kept when the URL changes.
func (s *Server) ensureWebhookSecret(c echo.Context, actor string) error {
	secret, err := s.store.DropWebhookSecret(c.Request().Context())
	if err != nil || secret != "" {
		return err
	}
	return s.replaceWebhookSecret(c, actor, "drop webhook signing secret made")
}

// webhookSecretPost replaces the signing secret, for when the old one
// leaked or its receiver changed.
func (s *Server) webhookSecretPost(c echo.Context) error {
	user, _ := currentUser(c)
	if err := s.replaceWebhookSecret(c, user.Username, "drop webhook signing secret replaced"); err != nil {
		return err
	}
	return redirect(c, "/admin/settings?notice=secret")
}

func (s *Server) replaceWebhookSecret(c echo.Context, actor, detail string) error {
	ev := s.auditEvent(c, actor, "settings", "", store.OutcomeSuccess, detail)
	if err := s.store.SetDropWebhookSecret(auditCtx(c), auth.NewToken(auth.PrefixWebhookSecret), ev); err != nil {
		return err
	}
	ev.Target = "setting:drop_webhook_secret"
	s.logAudit(ev)
	return nil
}
