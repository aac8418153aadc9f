package password

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckRefusesWeakPasswordsAndSaysWhy(t *testing.T) {
	tests := []struct {
		name, password, username string
		want                     error
		message                  string
	}{
		{"nok, empty", "", "alice", ErrEmpty, "Choose a password."},
		{"nok, eight spaces", "        ", "alice", ErrOnlyWhitespace, "only spaces"},
		{"nok, three spaces", "   ", "alice", ErrOnlyWhitespace, "only spaces"},
		{"nok, other whitespace only", "\u00a0\u2003\u00a0\u2003\u00a0\u2003\u00a0\u2003", "alice", ErrOnlyWhitespace, "only spaces"},
		{"nok, seven characters", "k7#pQ2m", "alice", ErrTooShort, "at least 8 characters"},
		{"nok, 129 characters", strings.Repeat("k7#pQ2m!", 16) + "x", "alice", ErrTooManyCharacters, "at most 128 characters"},
		{"nok, one letter repeated", "aaaaaaaa", "alice", ErrOneCharacterRepeated, "one character repeated"},
		{"nok, one non-ASCII letter repeated", "üüüüüüüüüü", "alice", ErrOneCharacterRepeated, "one character repeated"},
		{"nok, one digit repeated", "1111111111111", "alice", ErrOneCharacterRepeated, "one character repeated"},
		{"nok, the username", "mallorymallory", "mallorymallory", ErrContainsUsername, "your username"},
		{"nok, the username in another case", "MalloryMallory", "mallorymallory", ErrContainsUsername, "your username"},
		{"nok, the username inside", "my-name-is-mallory!", "Mallory", ErrContainsUsername, "your username"},
		{"nok, password", "password", "alice", ErrCommon, "most common passwords"},
		{"nok, 12345678", "12345678", "alice", ErrCommon, "most common passwords"},
		{"nok, common in capitals", "PASSWORD1", "alice", ErrCommon, "most common passwords"},
		{"nok, common with a capital", "Iloveyou1", "alice", ErrCommon, "most common passwords"},
		{"nok, qwertyuiop", "qwertyuiop", "alice", ErrCommon, "most common passwords"},
		{"nok, baseball", "baseball", "alice", ErrCommon, "most common passwords"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.password, tt.username)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Check(%q, %q) = %v, want %v", tt.password, tt.username, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("message %q does not say %q", err.Error(), tt.message)
			}
			var weak *Weakness
			if !errors.As(err, &weak) {
				t.Errorf("%T is not a *Weakness", err)
			}
		})
	}
}

func TestCheckAcceptsReasonablePasswords(t *testing.T) {
	tests := []struct{ name, password, username string }{
		{"ok, a passphrase with spaces", "correct horse battery", "alice"},
		{"ok, eight characters", "k7#pQ2m!", "alice"},
		{"ok, 128 characters", strings.Repeat("k7#pQ2m!", 16), "alice"},
		{"ok, 128 non-ASCII characters", strings.Repeat("üß", 64), "alice"},
		{"ok, two characters alternating", "abababababab", "alice"},
		{"ok, spaces around a good password", "  correct horse battery  ", "alice"},
		{"ok, no username given", "correct horse battery", ""},
		{"ok, a common password as part of a longer one", "password-for-the-garden-shed", "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Check(tt.password, tt.username); err != nil {
				t.Errorf("Check(%q, %q) = %v, want nil", tt.password, tt.username, err)
			}
		})
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
