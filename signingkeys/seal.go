package signingkeys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinKeyEncryptionKeyLength is the shortest KEY_ENCRYPTION_KEY accepted:
// 32 characters of `openssl rand -base64 32` carry far more than the 128
// bits that make guessing it hopeless.
const MinKeyEncryptionKeyLength = 32

// sealingLabel separates the AES key derived from KEY_ENCRYPTION_KEY from
// anything else that might one day be derived from it.
const sealingLabel = "tokenflow signing-key sealing v1"

// ErrUnsealable is a sealed private key that does not open: another
// KEY_ENCRYPTION_KEY, or a row that was tampered with.
var ErrUnsealable = errors.New("signingkeys: a private key does not open with this KEY_ENCRYPTION_KEY (wrong key, or the row was altered)")

// sealer seals private keys with AES-256-GCM under a key derived from
// KEY_ENCRYPTION_KEY with HKDF-SHA256. The kid and algorithm are the
// additional data, so a sealed key moved to another row does not open.
type sealer struct {
	aead cipher.AEAD
}

// CheckKeyEncryptionKey refuses a KEY_ENCRYPTION_KEY that is too short.
// The error names lengths, never the key.
func CheckKeyEncryptionKey(kek string) error {
	if len(kek) < MinKeyEncryptionKeyLength {
		return fmt.Errorf("signingkeys: the key encryption key is %d characters, want at least %d", len(kek), MinKeyEncryptionKeyLength)
	}
	return nil
}

func newSealer(kek string) (*sealer, error) {
	if err := CheckKeyEncryptionKey(kek); err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, []byte(kek), nil, sealingLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("signingkeys: derive the sealing key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func additionalData(kid, alg string) []byte { return []byte("kid=" + kid + "\x00alg=" + alg) }

// seal returns nonce || ciphertext.
func (s *sealer) seal(kid, alg string, plaintext []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce) // never fails (Go 1.24+)
	return s.aead.Seal(nonce, nonce, plaintext, additionalData(kid, alg))
}

func (s *sealer) open(kid, alg string, sealed []byte) ([]byte, error) {
	if len(sealed) < s.aead.NonceSize() {
		return nil, ErrUnsealable
	}
	nonce, ciphertext := sealed[:s.aead.NonceSize()], sealed[s.aead.NonceSize():]
	plaintext, err := s.aead.Open(nil, nonce, ciphertext, additionalData(kid, alg))
	if err != nil {
		return nil, ErrUnsealable
	}
	return plaintext, nil
}
