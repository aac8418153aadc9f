// Package notes is the demo service behind the gateway: each user's short
// notes, in a store of its own. It trusts no one for identity: it verifies
// the access token itself with the published keys (a request that comes
// around the gateway is refused just the same), and it refuses a request
// whose identity headers disagree with the token.
package notes

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"tokenflow/httpx"
)

// Bounds on a note's text, in characters (Unicode code points).
const (
	MinTextLength = 1
	MaxTextLength = 2000
)

// maxBodyBytes bounds a request body: 2000 characters of up to 4 bytes,
// JSON-escaped, fit.
const maxBodyBytes = 16 << 10

// Config configures the notes service.
type Config struct {
	// Store keeps the notes. Required.
	Store *Store
	// Verifier checks access tokens (an httpx.JWKSVerifier). Required.
	Verifier httpx.Verifier
	// AccessCookie is the access cookie's name, read when there is no
	// Authorization header (with the cookie-tossing rule). Required.
	AccessCookie string
	// Development adds GET /api/notes/whoami, which echoes the identity
	// headers received, for the tutorial.
	// Optional. Default value false.
	Development bool
	// Now stamps new notes. Optional. Default value time.Now.
	Now func() time.Time
	// Logger receives one line per request. Optional. Default: discard.
	Logger *slog.Logger
}

type service struct {
	store *Store
	now   func() time.Time
	log   *slog.Logger
}

// New returns the notes service's handler.
func New(cfg Config) (*echo.Echo, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("notes: Store is required")
	case cfg.Verifier == nil:
		return nil, errors.New("notes: Verifier is required")
	case cfg.AccessCookie == "":
		return nil, errors.New("notes: AccessCookie is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	guard, err := httpx.GuardConfig{
		Verifier:     cfg.Verifier,
		CookieName:   cfg.AccessCookie,
		ErrorHandler: httpx.BearerChallenge,
	}.ToMiddleware()
	if err != nil {
		return nil, err
	}
	s := &service{store: cfg.Store, now: cfg.Now, log: cfg.Logger}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(httpx.RequestID, httpx.RequestLog(cfg.Logger), middleware.Recover(),
		httpx.SecurityHeaders(nil), httpx.CrossOriginProtection())

	e.GET("/healthz", s.health)

	api := e.Group("/api/notes", guard, s.sameIdentity)
	api.GET("", s.list)
	api.POST("", s.create)
	api.DELETE("/:id", s.delete)
	if cfg.Development {
		api.GET("/whoami", s.whoami)
	}
	return e, nil
}

// sameIdentity refuses, with 403, a request carrying an identity header
// (in any spelling) that disagrees with the verified token: X-User-ID not
// sub, X-Session-ID not sid, X-Username not the username. The token is
// valid, so 401 (authenticate again) would not help; what is wrong is that
// something between the caller and us claims another identity, a forged
// header or a gateway bug, and serving either identity would be a guess.
// No identity header at all is fine: the token alone is the identity.
func (s *service) sameIdentity(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		claims := httpx.ClaimsFrom(c)
		want := map[string]string{"x-user-id": claims.Subject, "x-session-id": claims.SessionID, "x-username": claims.Username}
		for name, values := range c.Request().Header {
			n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
			expected, isIdentity := want[n]
			if !isIdentity {
				continue
			}
			for _, v := range values {
				if v != expected {
					s.log.Warn("identity header disagrees with the token; refused", "header", name, "sub", claims.Subject,
						"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
					return c.JSON(http.StatusForbidden, httpx.APIError{Error: "identity_mismatch", Message: "The identity headers disagree with the access token."})
				}
			}
		}
		return next(c)
	}
}

func (s *service) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return c.JSON(http.StatusServiceUnavailable, httpx.APIError{Error: "unavailable", Message: "The store does not answer."})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *service) list(c echo.Context) error {
	list, err := s.store.List(c.Request().Context(), httpx.ClaimsFrom(c).Subject)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

type newNote struct {
	Text *string `json:"text"`
}

func (s *service) create(c echo.Context) error {
	mediaType, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || mediaType != echo.MIMEApplicationJSON {
		return c.JSON(http.StatusUnsupportedMediaType, httpx.APIError{Error: "unsupported_media_type", Message: "Send Content-Type: application/json."})
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return c.JSON(http.StatusRequestEntityTooLarge, httpx.APIError{Error: "too_large", Message: "The request body is too large."})
		}
		return c.JSON(http.StatusBadRequest, httpx.APIError{Error: "bad_request", Message: "The request body could not be read."})
	}
	text, err := decodeNewNote(body)
	if err != nil {
		return c.JSON(http.StatusBadRequest, httpx.APIError{Error: "bad_json", Message: `Send one JSON object: {"text": "..."}.`})
	}
	if msg := checkText(text); msg != "" {
		return c.JSON(http.StatusUnprocessableEntity, httpx.APIError{Error: "invalid_text", Message: msg})
	}
	note, err := s.store.Create(c.Request().Context(), httpx.ClaimsFrom(c).Subject, text, s.now())
	if errors.Is(err, ErrTooManyNotes) {
		return c.JSON(http.StatusUnprocessableEntity, httpx.APIError{Error: "too_many_notes", Message: "You have the most notes one account may keep; delete one first."})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, note)
}

// decodeNewNote reads exactly one object with exactly a string "text".
func decodeNewNote(body []byte) (string, error) {
	if !utf8.Valid(body) {
		return "", errors.New("not UTF-8")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	var n newNote
	if err := dec.Decode(&n); err != nil {
		return "", err
	}
	if dec.More() {
		return "", errors.New("data after the object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("data after the object")
	}
	if n.Text == nil {
		return "", errors.New("no text")
	}
	return *n.Text, nil
}

// checkText returns what is wrong with a note's text, or "".
func checkText(text string) string {
	if strings.TrimSpace(text) == "" {
		return "A note needs some text."
	}
	if utf8.RuneCountInString(text) > MaxTextLength {
		return "A note is at most 2000 characters."
	}
	for _, r := range text {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' || r == 0x7f {
			return "A note cannot contain control characters."
		}
	}
	return ""
}

func (s *service) delete(c echo.Context) error {
	err := s.store.Delete(c.Request().Context(), httpx.ClaimsFrom(c).Subject, c.Param("id"))
	if errors.Is(err, ErrNotFound) {
		return c.JSON(http.StatusNotFound, httpx.APIError{Error: "not_found", Message: "No such note."})
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// whoami echoes what the service was told and what it verified, for the
// tutorial (development only).
func (s *service) whoami(c echo.Context) error {
	claims := httpx.ClaimsFrom(c)
	h := c.Request().Header
	return c.JSON(http.StatusOK, map[string]any{
		"verified": map[string]string{"sub": claims.Subject, "sid": claims.SessionID, "username": claims.Username},
		"headers": map[string]string{
			"X-User-ID": h.Get("X-User-ID"), "X-Session-ID": h.Get("X-Session-ID"), "X-Username": h.Get("X-Username"),
		},
	})
}
