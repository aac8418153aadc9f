package tokens

import "github.com/golang-jwt/jwt/v5"

// Method and Signer let the tests forge tokens with a key's exact
// algorithm and private half; the package itself never hands them out.
func (k SigningKey) Method() jwt.SigningMethod { return k.method }

func (k SigningKey) Signer() any { return k.signingKey }
