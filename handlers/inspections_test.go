package handlers

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"tokenflow/tokens"
	"tokenflow/views"
)

// The kept inspector is the page's own: a dashboard with it is byte for
// byte the dashboard rendered from the parts, and a second load of the
// token reuses it.
func TestInspectionsRenderTheSamePage(t *testing.T) {
	tm, err := tokens.NewManager(tokens.Config{Secret: []byte(testSecret), Issuer: "tokenflow", Audience: "tokenflow", TTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := tm.Issue("user-1", "alice <&>", "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c := newInspections()
	in, err := c.of(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.of(ctx, raw); again != in {
		t.Error("a second load of the token did not reuse its inspector")
	}
	page := func(v views.DashboardView) []byte {
		var buf bytes.Buffer
		if err := views.DashboardPage(v).Render(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	v := views.DashboardView{Username: "alice <&>", Token: inspectToken(raw)}
	want := page(v)
	v.Token, v.TokenInspector = in.parts, in.html
	if got := page(v); !bytes.Equal(got, want) {
		t.Fatalf("page with the kept inspector differs:\n got  %s\n want %s", got, want)
	}
	if !bytes.Contains(want, []byte(`data-testid="inspector"`)) || !bytes.Contains(want, []byte(in.parts.Payload)) {
		t.Fatal("the page has no inspector")
	}
}

// Full, it starts again: never more than maxInspections tokens.
func TestInspectionsAreBounded(t *testing.T) {
	c := newInspections()
	for i := range maxInspections + 10 {
		if _, err := c.of(context.Background(), fmt.Sprintf("token-%d", i)); err != nil {
			t.Fatal(err)
		}
		if n := len(c.byToken); n > maxInspections {
			t.Fatalf("%d inspections kept, at most %d", n, maxInspections)
		}
	}
}
