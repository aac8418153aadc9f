package handlers

// The dashboard's token inspector, kept per token. A browser shows the same
// access token on every dashboard load for the token's five minutes, and
// taking it apart (base64, two JSON decodes and indents, a JSON value per
// claim) and rendering the section cost about a fifth of the page's CPU
// (docs/PERFORMANCE.md, section 5). Both depend on the token alone, so the
// first load of a token does them and later loads reuse the result.
//
// Keyed by SHA-256 of the token, so no token is held as a key; what is held
// is what the page shows anyway (the signature cut to a preview). Bounded:
// when full, it starts again empty, so a burst of new tokens costs what the
// page cost before and no more.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sync"

	"github.com/a-h/templ"

	"tokenflow/views"
)

// maxInspections bounds the tokens kept: about 8 KB each (the parts and the
// rendered section), 2 MB when full.
const maxInspections = 256

type inspection struct {
	parts views.TokenParts
	html  templ.Component // views.TokenInspector(parts), rendered
}

type inspections struct {
	mu      sync.Mutex
	byToken map[[sha256.Size]byte]*inspection
}

func newInspections() *inspections {
	return &inspections{byToken: make(map[[sha256.Size]byte]*inspection)}
}

// of returns the inspector of raw, a token the guard verified (or one the
// server just issued). Callers only read what they get: it is shared.
func (c *inspections) of(ctx context.Context, raw string) (*inspection, error) {
	digest := sha256.Sum256([]byte(raw))
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
	in = &inspection{parts: parts, html: templ.Raw(buf.String())}
	c.mu.Lock()
	if len(c.byToken) >= maxInspections {
		clear(c.byToken)
	}
	c.byToken[digest] = in
	c.mu.Unlock()
	return in, nil
}
