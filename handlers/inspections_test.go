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
	in, err := c.of(ctx, nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.of(ctx, nil, raw); again != in {
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

	// The dashboard handler's page goes through the token's kept frame,
	// made at the first load and reused while only the time moves; a new
	// event in the timeline makes it again.
	dashboard := func(v views.DashboardView) []byte {
		var buf bytes.Buffer
		if err := dashboardOf(ctx, v).Render(ctx, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if got := dashboard(v); !bytes.Equal(got, want) {
		t.Fatalf("dashboard through the frame differs:\n got  %s\n want %s", got, want)
	}
	frame := in.html.frame.Load()
	if frame == nil {
		t.Fatal("the first load kept no frame")
	}
	v.Now = time.Unix(1_800_000_000, 0)
	if got, want := dashboard(v), page(v); !bytes.Equal(got, want) {
		t.Fatalf("a later load through the frame differs:\n got  %s\n want %s", got, want)
	}
	if in.html.frame.Load() != frame {
		t.Error("a later load of the token made its frame again")
	}
	v.Events = []views.EventView{{Kind: "refresh", Label: "Refreshed", At: v.Now, IP: "192.0.2.1", Device: "Firefox"}}
	if got, want := dashboard(v), page(v); !bytes.Equal(got, want) {
		t.Fatalf("a load with a new event differs:\n got  %s\n want %s", got, want)
	}
	if in.html.frame.Load() == frame {
		t.Error("a new event kept the old frame")
	}
}

// Full, it starts again: never more than maxInspections tokens.
func TestInspectionsAreBounded(t *testing.T) {
	c := newInspections()
	for i := range maxInspections + 10 {
		if _, err := c.of(context.Background(), nil, fmt.Sprintf("token-%d", i)); err != nil {
			t.Fatal(err)
		}
		if n := len(c.byToken); n > maxInspections {
			t.Fatalf("%d inspections kept, at most %d", n, maxInspections)
		}
	}
}
