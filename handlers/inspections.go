package handlers

// The dashboard's token inspector, kept per token. A browser shows the same
// access token on every dashboard load for the token's five minutes, and
// taking it apart (base64, two JSON decodes and indents, a JSON value per
// claim) and rendering the section cost about a fifth of the page's CPU
// (docs/PERFORMANCE.md, section 5). Both depend on the token alone, so the
// first load of a token does them and later loads reuse the result.
//
// The rest of the page that depends on the token alone (all but the access
// token's time left, the session's expiry and the timeline) is kept the
// same way, as the token's views.DashboardFrame, made at its first
// dashboard load: later loads render only those three parts.
//
// Keyed by SHA-256 of the token, so no token is held as a key; what is held
// is what the page shows anyway (the signature cut to a preview). Bounded:
// when full, it starts again empty, so a burst of new tokens costs what the
// page cost before and no more.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"sync"
	"sync/atomic"

	"github.com/a-h/templ"

	"tokenflow/tokens"
	"tokenflow/views"
)

// maxInspections bounds the tokens kept: about 8 KB each (the parts and the
// rendered section), 18 KB with the dashboard's frame, 4.5 MB when full.
const maxInspections = 256

type inspection struct {
	parts views.TokenParts
	html  *keptInspector
}

// keptInspector is views.TokenInspector(parts), rendered: the component a
// DashboardView takes as its TokenInspector. It also holds the token's
// dashboard frame, so the page handler finds both from the view.
type keptInspector struct {
	html  string
	frame atomic.Pointer[views.DashboardFrame]
}

func (k *keptInspector) Render(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, k.html)
	return err
}

var _ templ.Component = (*keptInspector)(nil)

// dashboardOf is views.DashboardPage(v), byte for byte, through the token's
// kept frame when v's inspector is kept (made at the token's first load).
func dashboardOf(ctx context.Context, v views.DashboardView) templ.Component {
	kept, ok := v.TokenInspector.(*keptInspector)
	if !ok {
		return views.DashboardPage(v)
	}
	f := kept.frame.Load()
	if f == nil || !f.Fits(v) {
		made, err := views.NewDashboardFrame(ctx, v)
		if err != nil {
			return views.DashboardPage(v) // which reports a failing render itself
		}
		kept.frame.Store(made)
		f = made
	}
	return f.Page(v)
}

type inspections struct {
	mu      sync.Mutex
	byToken map[[sha256.Size]byte]*inspection
}

func newInspections() *inspections {
	return &inspections{byToken: make(map[[sha256.Size]byte]*inspection)}
}

// of returns the inspector of raw, a token the guard verified into cl (or
// one the server just issued). Callers only read what they get: it is
// shared.
func (c *inspections) of(ctx context.Context, cl *tokens.Claims, raw string) (*inspection, error) {
	digest := cl.Digest(raw)
	c.mu.Lock()
	in, ok := c.byToken[digest]
	c.mu.Unlock()
	if ok {
		return in, nil
	}
	parts := inspectToken(raw)
	var buf bytes.Buffer
	if err := views.TokenInspector(parts).Render(ctx, &buf); err != nil {
		return nil, err
	}
	in = &inspection{parts: parts, html: &keptInspector{html: buf.String()}}
	c.mu.Lock()
	if len(c.byToken) >= maxInspections {
		clear(c.byToken)
	}
	c.byToken[digest] = in
	c.mu.Unlock()
	return in, nil
}
