package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// The rules for a new password follow NIST SP 800-63B §5.1.1.2: a minimum
// length, a maximum long enough for passphrases, and no password that is
// common, expected or trivially guessed. No composition rules (a digit, a
// capital, a symbol): they make Password1! and help nobody.
const (
	MinLength = 8   // characters
	MaxLength = 128 // characters; a longer password is refused, never cut
)

// A Weakness is why Check refused a password. Its Error is a sentence for
// the person choosing the password, meant to be shown next to the field;
// tell the reasons apart with errors.Is against the values below.
type Weakness struct{ message string }

func (w *Weakness) Error() string { return w.message }

// The reasons Check gives, one per rule, in the order Check applies them.
var (
	ErrEmpty                = &Weakness{"Choose a password."}
	ErrOnlyWhitespace       = &Weakness{"A password cannot be only spaces."}
	ErrTooShort             = &Weakness{fmt.Sprintf("A password has at least %d characters.", MinLength)}
	ErrTooManyCharacters    = &Weakness{fmt.Sprintf("A password has at most %d characters.", MaxLength)}
	ErrOneCharacterRepeated = &Weakness{"A password cannot be one character repeated."}
	ErrContainsUsername     = &Weakness{"A password cannot be or contain your username."}
	ErrCommon               = &Weakness{"This is one of the most common passwords, the first ones an attacker tries. Choose another."}
)

// Check returns nil when password may be chosen by the account username, or
// the first rule it breaks as a *Weakness. The username comparison ignores
// case; an empty username skips it. Spaces count as characters and are kept
// (a passphrase may have them anywhere), but a password of nothing else is
// refused.
func Check(password, username string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n == 0:
		return ErrEmpty
	case strings.TrimSpace(password) == "":
		return ErrOnlyWhitespace
	case n < MinLength:
		return ErrTooShort
	case n > MaxLength:
		return ErrTooManyCharacters
	case oneCharacterRepeated(password):
		return ErrOneCharacterRepeated
	}
	lower := strings.ToLower(password)
	if username != "" && strings.Contains(lower, strings.ToLower(username)) {
		return ErrContainsUsername
	}
	if _, ok := commonPasswords()[lower]; ok {
		return ErrCommon
	}
	return nil
}

func oneCharacterRepeated(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	for _, r := range s {
		if r != first {
			return false
		}
	}
	return true
}

// commonPasswordsGz is the common-password list of zxcvbn-ts (49,233
// passwords, most common first, all lower case, one per line). Where it
// comes from, its licence and how to rebuild it: common-passwords.md.
//
//go:embed common-passwords.txt.gz
var commonPasswordsGz []byte

// commonPasswords is the list as a set, read on first use. Entries shorter
// than MinLength are left out: the length rule refuses them first.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		panic("password: embedded common-password list: " + err.Error())
	}
	set := make(map[string]struct{}, 20_000)
	lines := bufio.NewScanner(zr)
	for lines.Scan() {
		if p := lines.Text(); utf8.RuneCountInString(p) >= MinLength {
			set[p] = struct{}{}
		}
	}
	if err := lines.Err(); err != nil {
		panic("password: embedded common-password list: " + err.Error())
	}
	return set
})
