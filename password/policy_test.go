package password

import (
	"errors"
	"strings"
	"testing"
)

// One row per rule: the error and the words of its message, written once,
// and the passwords it refuses for that username, by case name.
func TestCheckRefusesWeakPasswordsAndSaysWhy(t *testing.T) {
	rules := []struct {
		want     error
		message  string
		username string
		refused  map[string]string
	}{
		{ErrEmpty, "Choose a password.", "alice", map[string]string{"nok, empty": ""}},
		{ErrOnlyWhitespace, "only spaces", "alice", map[string]string{
			"nok, eight spaces":          "        ",
			"nok, three spaces":          "   ",
			"nok, other whitespace only": "\u00a0\u2003\u00a0\u2003\u00a0\u2003\u00a0\u2003",
		}},
		{ErrTooShort, "at least 8 characters", "alice", map[string]string{"nok, seven characters": "k7#pQ2m"}},
		{ErrTooManyCharacters, "at most 128 characters", "alice", map[string]string{"nok, 129 characters": strings.Repeat("k7#pQ2m!", 16) + "x"}},
		{ErrOneCharacterRepeated, "one character repeated", "alice", map[string]string{
			"nok, one letter repeated":           "aaaaaaaa",
			"nok, one non-ASCII letter repeated": "üüüüüüüüüü",
			"nok, one digit repeated":            "1111111111111",
		}},
		{ErrContainsUsername, "your username", "mallorymallory", map[string]string{
			"nok, the username":                 "mallorymallory",
			"nok, the username in another case": "MalloryMallory",
		}},
		{ErrContainsUsername, "your username", "Mallory", map[string]string{"nok, the username inside": "my-name-is-mallory!"}},
		{ErrCommon, "most common passwords", "alice", map[string]string{
			"nok, password":              "password",
			"nok, 12345678":              "12345678",
			"nok, common in capitals":    "PASSWORD1",
			"nok, common with a capital": "Iloveyou1",
			"nok, qwertyuiop":            "qwertyuiop",
			"nok, baseball":              "baseball",
		}},
	}
	for _, rule := range rules {
		for name, password := range rule.refused {
			t.Run(name, func(t *testing.T) {
				err := Check(password, rule.username)
				if !errors.Is(err, rule.want) {
					t.Fatalf("Check(%q, %q) = %v, want %v", password, rule.username, err, rule.want)
				}
				if !strings.Contains(err.Error(), rule.message) {
					t.Errorf("message %q does not say %q", err.Error(), rule.message)
				}
				var weak *Weakness
				if !errors.As(err, &weak) {
					t.Errorf("%T is not a *Weakness", err)
				}
			})
		}
	}
}

func TestCheckAcceptsReasonablePasswords(t *testing.T) {
	accepted := map[string]string{
		"ok, a passphrase with spaces":                  "correct horse battery",
		"ok, eight characters":                          "k7#pQ2m!",
		"ok, 128 characters":                            strings.Repeat("k7#pQ2m!", 16),
		"ok, 128 non-ASCII characters":                  strings.Repeat("üß", 64),
		"ok, two characters alternating":                "abababababab",
		"ok, spaces around a good password":             "  correct horse battery  ",
		"ok, a common password as part of a longer one": "password-for-the-garden-shed",
	}
	for _, username := range []string{"alice", ""} {
		for name, password := range accepted {
			if username == "" {
				name += ", no username given"
			}
			t.Run(name, func(t *testing.T) {
				if err := Check(password, username); err != nil {
					t.Errorf("Check(%q, %q) = %v, want nil", password, username, err)
				}
			})
		}
	}
}

// The embedded list is what NIST SP 800-63B §5.1.1.2 asks for: thousands
// of the most common passwords, of which every one long enough to pass the
// length rule is refused.
func TestCommonPasswordListIsLoaded(t *testing.T) {
	set := commonPasswords()
	if len(set) < 10_000 {
		t.Fatalf("%d common passwords of %d characters or more, want at least 10,000", len(set), MinLength)
	}
	for p := range set {
		if err := Check(p, ""); !errors.Is(err, ErrCommon) && !errors.Is(err, ErrOneCharacterRepeated) {
			t.Fatalf("Check(%q) = %v, want ErrCommon", p, err)
		}
	}
}
