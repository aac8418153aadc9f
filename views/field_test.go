package views

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// A form input carries each ARIA attribute at most once, names its error
// and hint by id, and never leaks template keywords into the markup.
func TestFieldAttributes(t *testing.T) {
	var buf bytes.Buffer
	v := RegisterView{Errors: map[string]string{"username": "This username is taken.", "password_confirm": "The passwords differ."}}
	if err := RegisterPage(v).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	inputs := regexp.MustCompile(`<input[^>]*>`).FindAllString(buf.String(), -1)
	want := map[string]string{
		"username":         `aria-describedby="username-error username-hint"`,
		"password":         `aria-describedby="password-hint"`,
		"password_confirm": `aria-describedby="password_confirm-error"`,
	}
	seen := 0
	for _, in := range inputs {
		if strings.Contains(in, " else") {
			t.Errorf("template keyword in markup: %s", in)
		}
		for _, attr := range []string{"aria-invalid", "aria-describedby"} {
			if n := strings.Count(in, attr+"="); n > 1 {
				t.Errorf("%s appears %d times: %s", attr, n, in)
			}
		}
		id := regexp.MustCompile(`id="([^"]+)"`).FindStringSubmatch(in)
		if id == nil || want[id[1]] == "" {
			continue
		}
		seen++
		if !strings.Contains(in, want[id[1]]) {
			t.Errorf("input %s: want %s in %s", id[1], want[id[1]], in)
		}
		invalid := strings.Contains(in, `aria-invalid="true"`)
		if hasErr := v.Errors[id[1]] != ""; invalid != hasErr {
			t.Errorf("input %s: aria-invalid %v, has an error %v", id[1], invalid, hasErr)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d inputs in:\n%s", seen, len(want), buf.String())
	}
}
