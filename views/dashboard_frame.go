package views

// The dashboard of one token, rendered once. A browser loads the dashboard
// with the same access token for the token's five minutes, and between two
// such loads, seconds apart, the page usually differs only in the two
// countdowns' texts: the header, the facts from the claims, the token
// inspector, the session's expiry and its timeline stay as they were.
// Rendering all of it again on every load was most of the page's templ
// work (docs/PERFORMANCE.md, section 5), so a DashboardFrame keeps the page
// as text with the two countdown texts left out, and a load that Fits it
// renders only those, through the same component as DashboardPage. The
// frame is made again when the session's facts change (a new event, a
// session ended).

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// slotMarker stands where a part that changes between loads goes while a
// frame is rendered. It is random per process, so no text on the page (a
// username, a claim) can be taken for it; NewDashboardFrame also checks
// that each slot is found exactly once, in order.
var slotMarker = func() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	return "\x00slot-" + hex.EncodeToString(b) + "-"
}()

func slotMark(i int) string { return slotMarker + strconv.Itoa(i) + "\x00" }

// dashboardSlots: the access token's time left, the session's, in page
// order.
const dashboardSlots = 2

// DashboardFrame is the dashboard of one view with the countdowns' texts
// left out: Page fills them in for one load.
type DashboardFrame struct {
	made   DashboardView // what the frame was rendered from, Now zeroed
	pieces [dashboardSlots + 1]string
}

// NewDashboardFrame renders DashboardPage(v) but for the countdowns' texts.
func NewDashboardFrame(ctx context.Context, v DashboardView) (*DashboardFrame, error) {
	v.Now = time.Time{}
	f := &DashboardFrame{made: v}
	var slots [dashboardSlots]templ.Component
	for i := range slots {
		mark := slotMark(i)
		slots[i] = templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
			_, err := io.WriteString(w, mark)
			return err
		})
	}
	var buf bytes.Buffer
	if err := dashboardPage(f.made, slots[0], slots[1]).Render(ctx, &buf); err != nil {
		return nil, err
	}
	rest := buf.String()
	for i := range dashboardSlots {
		before, after, found := cutOnce(rest, slotMark(i))
		if !found {
			return nil, errors.New("views: dashboard frame: slot " + strconv.Itoa(i) + " not found exactly once")
		}
		f.pieces[i], rest = before, after
	}
	f.pieces[dashboardSlots] = rest
	return f, nil
}

// cutOnce is strings.Cut that also requires sep to appear only once.
func cutOnce(s, sep string) (before, after string, found bool) {
	i := strings.Index(s, sep)
	if i < 0 || strings.Contains(s[i+len(sep):], sep) {
		return "", "", false
	}
	return s[:i], s[i+len(sep):], true
}

// Fits reports whether the frame was made for the page of v: the same
// token and the same facts about it and its session, whatever the time.
// Only then may Page(v) be used. Token (and TokenInspector, its rendering)
// is what the token's three parts and the JWKS URL decode to, so those are
// what is compared.
func (f *DashboardFrame) Fits(v DashboardView) bool {
	m := f.made
	return v.Nav == m.Nav && v.UserID == m.UserID && v.Username == m.Username && v.SessionID == m.SessionID &&
		v.AccessExpiresAt.Equal(m.AccessExpiresAt) && v.AccessIssuedAt.Equal(m.AccessIssuedAt) &&
		v.SessionExpiresAt.Equal(m.SessionExpiresAt) && v.DevTools == m.DevTools &&
		v.Token.Header == m.Token.Header && v.Token.Payload == m.Token.Payload &&
		v.Token.SignaturePreview == m.Token.SignaturePreview && v.Token.JWKSURL == m.Token.JWKSURL &&
		sameEvents(v.Events, m.Events)
}

func sameEvents(a, b []EventView) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Kind != b[i].Kind || !a[i].At.Equal(b[i].At) || a[i].Label != b[i].Label || a[i].IP != b[i].IP || a[i].Device != b[i].Device {
			return false
		}
	}
	return true
}

// Page is DashboardPage(v), byte for byte, for a v the frame Fits: the kept
// text with this load's countdown texts in between.
func (f *DashboardFrame) Page(v DashboardView) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		parts := [dashboardSlots]templ.Component{
			remaining(v.Now, v.AccessExpiresAt),
			remaining(v.Now, v.SessionExpiresAt),
		}
		for i, part := range parts {
			if _, err := io.WriteString(w, f.pieces[i]); err != nil {
				return err
			}
			if err := part.Render(ctx, w); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, f.pieces[dashboardSlots])
		return err
	})
}
