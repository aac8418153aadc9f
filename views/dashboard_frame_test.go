package views

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"testing"
	"time"
)

func pageOf(t *testing.T, v DashboardView) string {
	t.Helper()
	var buf bytes.Buffer
	if err := DashboardPage(v).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func framePageOf(t *testing.T, f *DashboardFrame, v DashboardView) string {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Page(v).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func frameViews() []DashboardView {
	now := time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)
	tok := TokenParts{Header: "eyJh", Payload: "eyJ1", SignaturePreview: "abc…", HeaderJSON: "{\n  \"alg\": \"ES256\"\n}", PayloadJSON: `{"a":"<&>"}`,
		Claims: []ClaimView{{"iss", `"tokenflow"`, "Issuer"}, {"sub", `"u<1>"`, "Subject: the user's id"}}, Alg: "ES256", Kid: "kid1", PublicKey: true, JWKSURL: "/.well-known/jwks.json"}
	// A username that looks like a slot, but not this process's.
	name := "alice <&> \x00slot-0\x00"
	return []DashboardView{
		{Nav: Nav{Username: name}, UserID: "u1", Username: name, SessionID: `sid-1"x`, AccessExpiresAt: now.Add(5 * time.Minute), AccessIssuedAt: now,
			SessionExpiresAt: now.Add(7 * 24 * time.Hour), Token: tok, DevTools: true, Now: now, Events: []EventView{
				{Kind: "login", Label: "Logged in", At: now, IP: "127.0.0.1", Device: "Firefox <x>"},
				{Kind: "refresh", Label: "Refreshed & more", At: now.Add(time.Minute), IP: "::1", Device: "curl"},
			}},
		{Nav: Nav{Username: "bob"}, Username: "bob", SessionID: "s2", AccessExpiresAt: now.Add(time.Minute), Token: TokenParts{Header: "h", Payload: "p", Alg: "HS256"}, Now: now},
	}
}

// A load's page through the frame is DashboardPage's, byte for byte, as
// time passes: seconds, past the token's expiry, past the session's.
func TestDashboardFrameIsThePage(t *testing.T) {
	ctx := context.Background()
	for _, made := range frameViews() {
		f, err := NewDashboardFrame(ctx, made)
		if err != nil {
			t.Fatal(err)
		}
		for _, later := range []time.Duration{0, time.Second, 70 * time.Second, 6 * time.Minute, 8 * 24 * time.Hour} {
			v := made
			v.Now = v.Now.Add(later)
			if !f.Fits(v) {
				t.Errorf("%v later: the frame does not fit", later)
				continue
			}
			if got, want := framePageOf(t, f, v), pageOf(t, v); got != want {
				t.Errorf("%v later: the page through the frame differs:\n got  %s\n want %s", later, got, want)
			}
		}
	}
}

// Every other field is one the frame checks: a view that differs in it does
// not fit, so a load is never filled into another token's frame. A field
// added to DashboardView fails here until Fits compares it. Token and TokenInspector are what the token's
// three parts and the JWKS URL decode to, and Fits compares those.
func TestDashboardFrameFitsOnlyItsToken(t *testing.T) {
	made := frameViews()[0]
	f, err := NewDashboardFrame(context.Background(), made)
	if err != nil {
		t.Fatal(err)
	}
	changing := map[string]bool{"Now": true}
	typ := reflect.TypeOf(made)
	for i := range typ.NumField() {
		field := typ.Field(i)
		if changing[field.Name] {
			continue
		}
		var changes []func(v *DashboardView)
		switch field.Name {
		case "Token":
			changes = []func(v *DashboardView){
				func(v *DashboardView) { v.Token.Header += "x" },
				func(v *DashboardView) { v.Token.Payload += "x" },
				func(v *DashboardView) { v.Token.SignaturePreview += "x" },
				func(v *DashboardView) { v.Token.JWKSURL += "x" },
			}
		case "TokenInspector":
			continue
		case "Events":
			changes = []func(v *DashboardView){func(v *DashboardView) { v.Events = append(slices.Clone(v.Events), EventView{Kind: "refresh"}) }}
			for j := range reflect.TypeOf(EventView{}).NumField() {
				changes = append(changes, func(v *DashboardView) {
					v.Events = slices.Clone(v.Events)
					mutate(t, reflect.ValueOf(&v.Events[0]).Elem().Field(j))
				})
			}
		default:
			changes = []func(v *DashboardView){func(v *DashboardView) { mutate(t, reflect.ValueOf(v).Elem().Field(i)) }}
		}
		for _, change := range changes {
			v := made
			change(&v)
			if f.Fits(v) {
				t.Errorf("%s: a view that differs in it fits the frame", field.Name)
			}
		}
	}
}

// mutate changes a field of a kind DashboardView has.
func mutate(t *testing.T, f reflect.Value) {
	t.Helper()
	switch {
	case f.Type() == reflect.TypeOf(time.Time{}):
		f.Set(reflect.ValueOf(f.Interface().(time.Time).Add(time.Hour)))
	case f.Kind() == reflect.String:
		f.SetString(f.String() + "x")
	case f.Kind() == reflect.Bool:
		f.SetBool(!f.Bool())
	case f.Kind() == reflect.Struct:
		for i := range f.NumField() {
			mutate(t, f.Field(i))
		}
	default:
		t.Fatalf("no way to change a %s: teach mutate", f.Type())
	}
}
